// `hearth serve`: the OpenAI-compatible HTTP server. Lifecycle: bind (port ready, /health = 503),
// load_model (health = 200), serve until drain() (SIGTERM: refuse new requests, let in-flight ones
// finish for up to the drain timeout, then end them) and stop().
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "server/auth.h"
#include "runtime/pooling.h"
#include "runtime/runtime_context.h"
#include "server/request_schema.h"

namespace hearth::server {

struct ServerConfig {
    std::string model_path;
    std::string host = "127.0.0.1";
    int port = 8080;               // 0: any free port (bind() returns it)
    int64_t n_ctx = -1;            // total KV cells (split over slots); -1: min(4096, trained) per slot; 0: trained
    int n_slots = 1;               // -np
    int n_batch = 2048;
    int n_ubatch = 512;
    int n_threads = 0;
    ApiKeys api_keys;
    bool jinja = true;             // hearth always renders Jinja templates; --jinja is accepted
    std::string chat_template_file;
    bool metrics = false;          // --metrics enables GET /metrics
    std::string alias;             // -a: the model id clients see
    int timeout_s = 600;           // HTTP read/write timeout
    bool use_mmap = true;
    bool mlock = false;
    size_t max_queue = 64;         // waiting requests beyond this get 429
    int prompt_chunk = 512;        // prompt tokens per step while other slots generate
    bool context_shift = false;    // --context-shift: a full slot drops old tokens instead of finishing
    int n_keep = 0;                // --keep: prompt tokens after BOS a context shift keeps (-1: whole prompt)
    int http_threads = 0;          // 0: n_slots + max_queue + 16
    RequestLimits limits;
    bool embedding = false;        // --embedding: serve /v1/embeddings and /embedding
    bool reranking = false;        // --rerank: serve /rerank, /v1/rerank with the model's rank head
    PoolingType pooling = PoolingType::Unspecified;  // --pooling (Unspecified: the model's)
    int embd_normalize = 2;        // --embd-normalize for pooled vectors (runtime/pooling.h)
    // KV cache (-ctk/-ctv/-khad/-vhad/-fa): only these fields of kv are used.
    ContextParams kv;  // kv_type_k, kv_type_v, kv_hadamard_k, kv_hadamard_v, flash_attn
};

class Server {
public:
    explicit Server(ServerConfig config);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds host:port and starts answering (503 on everything but /health until loaded). Returns
    // the bound port. Throws Error(Io) when the address cannot be bound.
    int start();
    // Loads the model and starts the scheduler; then /health answers 200. Throws Error.
    void load_model();
    // Stops accepting work (new requests get 503), waits up to `timeout` for in-flight requests,
    // ends the rest, and stops the HTTP server.
    void drain(std::chrono::milliseconds timeout);
    void stop();
    bool running() const;
    // The generation context after load_model() (its KV configuration and memory report, for the
    // load log); nullptr for an embeddings-only (encoder) model or before loading.
    const runtime::Context* generation_context() const;
    uint64_t weight_bytes() const;  // bytes of the loaded model's tensors (0 before loading)
    // --mlock after load_model(): the bytes locked in RAM and the OS's refusal, if any (Model::
    // mlock_warning; empty when all of it is locked or --mlock was not given).
    uint64_t locked_bytes() const;
    std::string mlock_warning() const;

    struct State;

private:
    std::unique_ptr<State> st_;
};

}  // namespace hearth::server
