// Reranking routes: POST /rerank, /v1/rerank and /v1/reranking (llama-server / Cohere / Jina shape):
// {query, documents: [str | {text}], top_n?, return_documents?} -> results sorted by relevance_score,
// best first. Served by the rank-pooling Embedder created when the server runs with --rerank on a
// model with a rank head; all pairs of a request go through as few forward passes as fit.
#include <algorithm>
#include <mutex>

#include "core/error.h"
#include "runtime/embedding.h"
#include "server/request_schema.h"
#include "server/server_state.h"

namespace hearth::server {

using ojson = nlohmann::ordered_json;

namespace {

Embedder& require_reranker(Server::State& st) {
    require_ready(st);
    if (!st.cfg.reranking)
        throw ApiError(400, "this server does not rerank: start it with --rerank and a reranker model (e.g. a bert cross-encoder)", "",
                       "invalid_request_error");
    if (!st.embedder || st.embedder->pooling() != PoolingType::Rank)
        throw ApiError(400, "model '" + st.model_id + "' has no rank head (tensors cls.weight / cls.output.weight, or an LM head with \"yes\"/\"no\" tokens): it cannot rerank", "",
                       "invalid_request_error");
    return *st.embedder;
}

// documents: ["text", ...] or [{"text": "..."}, ...], at least one.
std::vector<std::string> parse_documents(const ojson& body) {
    if (!body.contains("documents")) throw bad_request("'documents' is required", "documents");
    const ojson& d = body["documents"];
    if (!d.is_array() || d.empty()) throw bad_request("'documents' must be a non-empty array of strings", "documents");
    std::vector<std::string> docs;
    for (const auto& x : d) {
        if (x.is_string()) docs.push_back(x.get<std::string>());
        else if (x.is_object() && x.contains("text") && x["text"].is_string()) docs.push_back(x["text"].get<std::string>());
        else throw bad_request("'documents' elements must be strings (or objects with a string 'text')", "documents");
    }
    return docs;
}

}  // namespace

void register_rerank_routes(Server::State& st) {
    const auto handler = [&st](const httplib::Request& req, httplib::Response& res) {
        try {
            Embedder& e = require_reranker(st);
            ojson body = parse_body(req.body, st.cfg.limits);
            if (!body.contains("query") || !body["query"].is_string()) throw bad_request("'query' must be a string", "query");
            const std::string query = body["query"].get<std::string>();
            const std::vector<std::string> docs = parse_documents(body);
            size_t top_n = docs.size();
            if (body.contains("top_n") && !body["top_n"].is_null()) {
                if (!body["top_n"].is_number_integer() || body["top_n"].get<int64_t>() < 1)
                    throw bad_request("'top_n' must be a positive integer", "top_n");
                top_n = std::min(top_n, size_t(body["top_n"].get<int64_t>()));
            }
            bool return_documents = false;
            if (body.contains("return_documents") && !body["return_documents"].is_null()) {
                if (!body["return_documents"].is_boolean()) throw bad_request("'return_documents' must be a boolean", "return_documents");
                return_documents = body["return_documents"].get<bool>();
            }
            std::vector<float> scores;
            size_t n_tokens = 0;
            {
                std::lock_guard<std::mutex> lock(st.embed_mu);
                scores = e.rank(query, docs, &n_tokens);
            }
            std::vector<size_t> order(docs.size());
            for (size_t i = 0; i < order.size(); ++i) order[i] = i;
            std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
            ojson results = ojson::array();
            for (size_t k = 0; k < top_n; ++k) {
                const size_t i = order[k];
                ojson r = {{"index", i}, {"relevance_score", scores[i]}};
                if (return_documents) r["document"] = {{"text", docs[i]}};
                results.push_back(std::move(r));
            }
            send_json(res, ojson{{"model", st.model_id},
                                 {"object", "list"},
                                 {"usage", {{"prompt_tokens", n_tokens}, {"total_tokens", n_tokens}}},
                                 {"results", results}});
        } catch (const ApiError& e) {
            send_error(res, e);
        } catch (const Error& e) {
            send_error(res, ApiError(http_status(e.kind()), e.what()));
        }
    };
    for (const char* path : {"/rerank", "/v1/rerank", "/v1/reranking", "/reranking"}) st.http.Post(path, handler);
}

}  // namespace hearth::server
