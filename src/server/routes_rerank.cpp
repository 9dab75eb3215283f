// Reranking routes: POST /rerank, /v1/rerank and /v1/reranking (llama-server / Cohere / Jina shape):
// {query, documents: [str | {text}], top_n?, return_documents?} -> results sorted by relevance_score,
// best first. Served by the rank-pooling Embedder created when the server runs with --rerank on a
// model with a rank head; all pairs of a request go through as few forward passes as fit.
#include <algorithm>
#include <mutex>

#include "core/error.h"
#include "runtime/embedding.h"
#include "server/request_schema.h"
#include "server/rerank_request.h"
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

}  // namespace

void register_rerank_routes(Server::State& st) {
    const auto handler = [&st](const httplib::Request& req, httplib::Response& res) {
        try {
            Embedder& e = require_reranker(st);
            const RerankRequest rq = parse_rerank_request(parse_body(req.body, st.cfg.limits));
            const std::vector<std::string>& docs = rq.documents;
            std::vector<float> scores;
            size_t n_tokens = 0;
            {
                std::lock_guard<std::mutex> lock(st.embed_mu);
                scores = e.rank(rq.query, docs, &n_tokens);
            }
            std::vector<size_t> order(docs.size());
            for (size_t i = 0; i < order.size(); ++i) order[i] = i;
            std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
            ojson results = ojson::array();
            for (size_t k = 0; k < rq.top_n; ++k) {
                const size_t i = order[k];
                ojson r = {{"index", i}, {"relevance_score", scores[i]}};
                if (rq.return_documents) r["document"] = {{"text", docs[i]}};
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
