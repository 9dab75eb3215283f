// Server lifecycle and HTTP wiring: cpp-httplib setup (thread pool, body limit, timeouts), API-key
// check before routing, OpenAI-shaped errors for every failure path, model loading and draining.
#include "server/server.h"

#include <ctime>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "server/oai_format.h"
#include "server/server_state.h"
#include "tokenizer/tokenizer.h"

namespace hearth::server {

void send_json(httplib::Response& res, const nlohmann::json& j, int status) {
    res.status = status;
    res.set_content(dump_json(j), "application/json; charset=utf-8");
}

int http_status(ErrorKind kind) {
    return kind == ErrorKind::InvalidArgument ? 400 : kind == ErrorKind::Unsupported ? 501 : 500;
}

void send_error(httplib::Response& res, const ApiError& e) {
    if (e.status() == 429 || e.status() == 503) res.set_header("Retry-After", "1");
    send_json(res, e.to_json(), e.status());
}

void require_ready(const Server::State& st) {
    if (st.draining.load()) throw ApiError(503, "the server is shutting down");
    if (!st.ready.load()) throw ApiError(503, "Loading model");
}

namespace {

bool auth_exempt(const std::string& path) {
    return path == "/health" || path == "/v1/health" || path == "/v1/models" || path == "/models";
}

std::string file_name(const std::string& path) {
    size_t slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

Server::Server(ServerConfig config) : st_(std::make_unique<State>()) {
    st_->cfg = std::move(config);
    State& st = *st_;
    const ServerConfig& cfg = st.cfg;
    size_t threads = cfg.http_threads > 0 ? size_t(cfg.http_threads) : size_t(cfg.n_slots) + cfg.max_queue + 16;
    st.http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    st.http.set_payload_max_length(cfg.limits.max_body_bytes);
    st.http.set_read_timeout(cfg.timeout_s, 0);
    st.http.set_write_timeout(cfg.timeout_s, 0);
    st.http.set_keep_alive_timeout(5);

    st.http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
        State& s = *st_;
        // An encoder model (no LM head) has no scheduler: only the embedding and text routes work.
        const auto embeddings_only_refuses = [&] {
            if (!s.ready.load() || s.scheduler) return false;
            for (const char* p : {"/health", "/v1/health", "/v1/models", "/models", "/v1/embeddings", "/embeddings", "/embedding",
                                  "/tokenize", "/detokenize", "/rerank", "/v1/rerank", "/v1/reranking", "/reranking"})
                if (req.path == p) return false;
            send_error(res, ApiError(501, "model '" + s.model->architecture() + "' computes embeddings only: use /v1/embeddings"));
            return true;
        };
        if (!s.cfg.api_keys.enabled() || auth_exempt(req.path))
            return embeddings_only_refuses() ? httplib::Server::HandlerResponse::Handled : httplib::Server::HandlerResponse::Unhandled;
        std::string key = presented_key(req.get_header_value("Authorization"), req.get_header_value("X-Api-Key"));
        if (s.cfg.api_keys.check(key))
            return embeddings_only_refuses() ? httplib::Server::HandlerResponse::Handled : httplib::Server::HandlerResponse::Unhandled;
        send_error(res, ApiError(401, key.empty() ? "missing API key: send 'Authorization: Bearer <key>'"
                                                  : "invalid API key"));
        return httplib::Server::HandlerResponse::Handled;
    });
    st.http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return;  // a handler already wrote an error object
        if (res.status == 413) {
            send_error(res, ApiError(413, "request body exceeds the size limit"));
        } else if (res.status == 404) {
            send_error(res, ApiError(404, "no route for " + req.method + " " + req.path));
        } else {
            int status = res.status;
            send_error(res, ApiError(status, "HTTP error " + std::to_string(status)));
        }
    });
    st.http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        try {
            std::rethrow_exception(ep);
        } catch (const ApiError& e) {
            send_error(res, e);
        } catch (const Error& e) {
            send_error(res, ApiError(http_status(e.kind()), e.what()));
        } catch (const std::exception& e) {
            send_error(res, ApiError(500, std::string("internal error: ") + e.what()));
        } catch (...) {
            send_error(res, ApiError(500, "internal error"));
        }
    });
    register_info_routes(st);
    register_token_routes(st);
    register_generation_routes(st);
    register_embedding_routes(st);
    register_rerank_routes(st);
}

Server::~Server() { stop(); }

int Server::start() {
    State& st = *st_;
    int port = st.cfg.port;
    if (port == 0) {
        port = st.http.bind_to_any_port(st.cfg.host);
        if (port < 0) throw Error(ErrorKind::Io, "cannot bind " + st.cfg.host + " to any port");
    } else if (!st.http.bind_to_port(st.cfg.host, port)) {
        throw Error(ErrorKind::Io, "cannot bind " + st.cfg.host + ":" + std::to_string(port) +
                                       " (in use, or not a local address?)");
    }
    st.http_thread = std::thread([&st] {
        st.http.listen_after_bind();
        st.http_done.store(true);
    });
    // stop() is a no-op until the listen loop runs: wait for it so an early stop cannot be lost.
    for (int i = 0; i < 5000 && !st.http.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return port;
}

void Server::load_model() {
    State& st = *st_;
    const ServerConfig& cfg = st.cfg;
    ModelParams mp;
    mp.use_mmap = cfg.use_mmap;
    mp.mlock = cfg.mlock;
    st.model = Model::load(cfg.model_path, mp);

    const Tokenizer& tok = st.model->tokenizer();
    if (!cfg.chat_template_file.empty()) {
        std::ifstream in(cfg.chat_template_file);
        if (!in) throw Error(ErrorKind::Io, "cannot read --chat-template-file '" + cfg.chat_template_file + "'");
        std::stringstream ss;
        ss << in.rdbuf();
        st.chat.template_source = ss.str();
    } else {
        st.chat.template_source = st.model->chat_template().value_or(fallback_template(st.model->architecture()));
    }
    if (tok.bos() >= 0) st.chat.bos_token = tok.token_text(tok.bos());
    if (tok.eos() >= 0) st.chat.eos_token = tok.token_text(tok.eos());

    if (cfg.embedding || cfg.reranking || !st.model->weights().output) {
        EmbedParams ep;
        ep.pooling = cfg.pooling;
        // --rerank on a model with a rank head: pooling rank (without one, /rerank answers 400).
        if (cfg.reranking && RankHead::available(*st.model)) ep.pooling = PoolingType::Rank;
        ep.normalize = cfg.embd_normalize;
        ep.n_batch = cfg.n_batch;
        ep.n_ubatch = cfg.n_ubatch;
        ep.n_threads = cfg.n_threads;
        st.embedder = std::make_unique<Embedder>(*st.model, ep);
    }
    if (!st.model->weights().output) {  // encoder (bert): embeddings only, no generation scheduler
        st.model_id = cfg.alias.empty() ? file_name(cfg.model_path) : cfg.alias;
        st.created = int64_t(std::time(nullptr));
        st.ready.store(true);
        return;
    }
    BackendParams bp;
    bp.n_slots = cfg.n_slots;
    // -c is the total KV size shared by the slots; unset: up to 4096 positions per slot (pages are
    // only backed when used, so this costs nothing until the slots fill).
    bp.n_ctx = cfg.n_ctx >= 0 ? cfg.n_ctx : std::min<int64_t>(4096, st.model->n_ctx_train()) * cfg.n_slots;
    bp.n_batch = cfg.n_batch;
    bp.n_ubatch = cfg.n_ubatch;
    bp.n_threads = cfg.n_threads;
    bp.kv = cfg.kv;
    st.backend = std::make_unique<ContextBackend>(*st.model, bp);
    st.text = std::make_unique<TokenizerText>(tok);
    SchedulerConfig sc;
    sc.n_slots = cfg.n_slots;
    sc.max_queue = cfg.max_queue;
    sc.prompt_chunk = std::min(cfg.prompt_chunk, cfg.n_batch);
    sc.context_shift = cfg.context_shift;
    sc.n_keep = cfg.n_keep < 0 ? -1 : cfg.n_keep + (tok.add_bos() && tok.bos() >= 0 ? 1 : 0);
    st.scheduler = std::make_unique<Scheduler>(*st.backend, *st.text, sc, &st.metrics);
    st.scheduler->start();
    st.model_id = cfg.alias.empty() ? file_name(cfg.model_path) : cfg.alias;
    st.created = int64_t(std::time(nullptr));
    st.ready.store(true);
}

const runtime::Context* Server::generation_context() const { return st_->backend ? &st_->backend->context() : nullptr; }

uint64_t Server::weight_bytes() const { return st_->model ? st_->model->weight_bytes() : 0; }
uint64_t Server::locked_bytes() const { return st_->model ? st_->model->locked_bytes() : 0; }
std::string Server::mlock_warning() const { return st_->model ? st_->model->mlock_warning() : std::string(); }

void Server::drain(std::chrono::milliseconds timeout) {
    State& st = *st_;
    st.draining.store(true);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    auto busy = [&] {
        return st.active_requests.load() > 0 || (st.scheduler && st.scheduler->in_flight() > 0);
    };
    while (busy() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (busy() && st.scheduler) {
        st.scheduler->cancel_all();  // streams end with their final chunk
        auto grace = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while (st.active_requests.load() > 0 && std::chrono::steady_clock::now() < grace)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    stop();
}

void Server::stop() {
    State& st = *st_;
    st.draining.store(true);
    if (st.http.is_running() || st.http_thread.joinable()) st.http.stop();
    if (st.http_thread.joinable()) {
        // cpp-httplib joins its workers on stop; one blocked reading an idle client's half-sent
        // request would hold it for the whole read timeout. Wait a bounded time, then let the
        // process exit around it (`hearth serve` ends with _Exit after draining).
        for (int i = 0; i < 300 && !st.http_done.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        if (st.http_done.load()) st.http_thread.join();
        else st.http_thread.detach();
    }
    if (st.scheduler) st.scheduler->stop();
}

bool Server::running() const { return st_->http.is_running(); }

}  // namespace hearth::server
