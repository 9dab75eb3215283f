// Embedding routes: POST /v1/embeddings (OpenAI: input string / strings / token array(s),
// encoding_format float|base64, usage) and the native POST /embedding (pooling none: one vector per
// token). Served by the Embedder created when the server runs with --embedding (or the model is an
// encoder without LM head); one request computes at a time.
#include <mutex>

#include "core/error.h"
#include "runtime/embedding.h"
#include "server/request_schema.h"
#include "server/server_state.h"

namespace hearth::server {

using ojson = nlohmann::ordered_json;
using nlohmann::json;

namespace {

std::string base64(const std::vector<float>& v) {
    static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const auto* p = reinterpret_cast<const unsigned char*>(v.data());  // float32 little-endian bytes
    const size_t n = v.size() * sizeof(float);
    std::string out;
    out.reserve((n + 2) / 3 * 4);
    for (size_t i = 0; i < n; i += 3) {
        const uint32_t b = uint32_t(p[i]) << 16 | (i + 1 < n ? uint32_t(p[i + 1]) << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        out += k[(b >> 18) & 63];
        out += k[(b >> 12) & 63];
        out += i + 1 < n ? k[(b >> 6) & 63] : '=';
        out += i + 2 < n ? k[b & 63] : '=';
    }
    return out;
}

// A token array: every element an integer (range is checked by the embedder).
bool is_token_array(const ojson& j) {
    if (!j.is_array() || j.empty()) return false;
    for (const auto& e : j)
        if (!e.is_number_integer()) return false;
    return true;
}

std::vector<int32_t> to_tokens(const ojson& j) {
    std::vector<int32_t> t;
    for (const auto& e : j) {
        const int64_t v = e.get<int64_t>();
        if (v < 0 || v > INT32_MAX) throw bad_request("token id " + std::to_string(v) + " is out of range", "input");
        t.push_back(int32_t(v));
    }
    return t;
}

// input: "text" | ["text", ...] | [id, ...] | [[id, ...], ...] -> token sequences.
std::vector<std::vector<int32_t>> parse_inputs(const ojson& in, const Embedder& e, const char* field) {
    std::vector<std::vector<int32_t>> out;
    if (in.is_string()) {
        out.push_back(e.tokenize(in.get<std::string>()));
    } else if (is_token_array(in)) {
        out.push_back(to_tokens(in));
    } else if (in.is_array() && !in.empty()) {
        for (const auto& x : in) {
            if (x.is_string()) out.push_back(e.tokenize(x.get<std::string>()));
            else if (is_token_array(x)) out.push_back(to_tokens(x));
            else throw bad_request(std::string("'") + field + "' elements must be strings or non-empty token arrays", field);
        }
    } else {
        throw bad_request(std::string("'") + field + "' must be a string, an array of strings or token array(s)", field);
    }
    return out;
}

Embedder& require_embedder(Server::State& st) {
    require_ready(st);
    if (!st.embedder) throw ApiError(501, "this server does not compute embeddings: start it with --embedding", "", "not_supported_error");
    return *st.embedder;
}

}  // namespace

void register_embedding_routes(Server::State& st) {
    const auto oai = [&st](const httplib::Request& req, httplib::Response& res) {
        guarded(res, [&] {
            Embedder& e = require_embedder(st);
            ojson body = parse_body(req.body, st.cfg.limits);
            if (!body.contains("input")) throw bad_request("'input' is required", "input");
            std::string fmt = "float";
            if (body.contains("encoding_format")) {
                if (!body["encoding_format"].is_string()) throw bad_request("'encoding_format' must be a string", "encoding_format");
                fmt = body["encoding_format"].get<std::string>();
                if (fmt != "float" && fmt != "base64") throw bad_request("'encoding_format' must be float or base64", "encoding_format");
            }
            if (e.pooling() == PoolingType::None)
                throw bad_request("pooling 'none' gives one vector per token, which /v1/embeddings cannot return: use /embedding");
            std::vector<std::vector<int32_t>> inputs;
            std::vector<std::vector<float>> vecs;
            {
                std::lock_guard<std::mutex> lock(st.embed_mu);
                inputs = parse_inputs(body["input"], e, "input");
                vecs = e.embed(inputs);
            }
            ojson data = ojson::array();
            size_t n_tokens = 0;
            for (size_t i = 0; i < vecs.size(); ++i) {
                n_tokens += inputs[i].size();
                ojson item = {{"object", "embedding"}, {"index", i}};
                if (fmt == "base64") item["embedding"] = base64(vecs[i]);
                else item["embedding"] = vecs[i];
                data.push_back(std::move(item));
            }
            send_json(res, ojson{{"object", "list"},
                                 {"data", data},
                                 {"model", st.model_id},
                                 {"usage", {{"prompt_tokens", n_tokens}, {"total_tokens", n_tokens}}}});
        });
    };
    st.http.Post("/v1/embeddings", oai);
    st.http.Post("/embeddings", oai);

    st.http.Post("/embedding", [&st](const httplib::Request& req, httplib::Response& res) {
        guarded(res, [&] {
            Embedder& e = require_embedder(st);
            ojson body = parse_body(req.body, st.cfg.limits);
            const char* field = body.contains("content") ? "content" : "input";
            if (!body.contains(field)) throw bad_request("'content' is required", "content");
            std::vector<std::vector<float>> vecs;
            {
                std::lock_guard<std::mutex> lock(st.embed_mu);
                vecs = e.embed(parse_inputs(body[field], e, field));
            }
            // Each result is a list of vectors: one per token for pooling none, else one.
            const size_t ne = size_t(e.n_embd());
            json out = json::array();
            for (size_t i = 0; i < vecs.size(); ++i) {
                json rows = json::array();
                for (size_t r = 0; r * ne < vecs[i].size(); ++r)
                    rows.push_back(std::vector<float>(vecs[i].begin() + long(r * ne), vecs[i].begin() + long((r + 1) * ne)));
                out.push_back({{"index", i}, {"embedding", rows}});
            }
            send_json(res, out);
        });
    });
}

}  // namespace hearth::server
