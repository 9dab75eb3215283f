// Internal state shared by the server's HTTP route files (server.cpp, routes_*.cpp): the loaded
// model, scheduler, metrics, chat formatter and lifecycle flags. Not part of the server's API.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "model/model.h"
#include "runtime/embedding.h"
#include "server/api_error.h"
#include "server/chat_format.h"
#include "server/metrics.h"
#include "server/model_backend.h"
#include "server/scheduler.h"
#include "server/server.h"

namespace hearth::server {

struct Server::State {
    ServerConfig cfg;
    httplib::Server http;
    std::thread http_thread;
    std::atomic<bool> http_done{false};  // the listen thread has returned
    std::atomic<bool> ready{false};
    std::atomic<bool> draining{false};
    std::atomic<int> active_requests{0};  // generation requests between submit and last byte

    std::unique_ptr<Model> model;
    std::unique_ptr<ContextBackend> backend;
    std::unique_ptr<TokenizerText> text;
    std::unique_ptr<Scheduler> scheduler;
    std::unique_ptr<Embedder> embedder;  // --embedding, or an encoder model (then scheduler is null)
    std::mutex embed_mu;                 // one embedding computation at a time
    Metrics metrics;
    ChatFormatter chat;
    std::string model_id;  // alias or file name
    int64_t created = 0;   // load time (for /v1/models)

    const Tokenizer& tokenizer() const { return model->tokenizer(); }
};

// Sends an error object with its status (and Retry-After for 429).
void send_error(httplib::Response& res, const ApiError& e);
// HTTP status of an engine error: 400 for bad input, 501 for what is not supported, else 500.
int http_status(ErrorKind kind);

// Runs a route body; an ApiError or hearth::Error it throws becomes an OpenAI-style error response.
template <typename Fn>
void guarded(httplib::Response& res, Fn&& fn) {
    try {
        fn();
    } catch (const ApiError& e) {
        send_error(res, e);
    } catch (const Error& e) {
        send_error(res, ApiError(http_status(e.kind()), e.what()));
    }
}
void send_json(httplib::Response& res, const nlohmann::json& j, int status = 200);

// Route registration, one file per group.
void register_info_routes(Server::State& st);        // health, models, props, slots, metrics
void register_token_routes(Server::State& st);       // tokenize, detokenize, apply-template
void register_generation_routes(Server::State& st);  // chat/completions, completions, completion
void register_embedding_routes(Server::State& st);   // v1/embeddings, embedding (routes_embeddings.cpp)
void register_rerank_routes(Server::State& st);      // rerank, v1/rerank, v1/reranking (routes_rerank.cpp)

// Throws ApiError 503 while the model loads or the server drains.
void require_ready(const Server::State& st);

}  // namespace hearth::server
