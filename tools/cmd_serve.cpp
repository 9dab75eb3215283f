// `hearth serve`: parses llama-server-compatible flags, starts the HTTP server (answering 503 on
// /health while the model loads), then waits for SIGTERM/SIGINT and drains: new requests are
// refused, in-flight ones get up to 30 s to finish, then the process exits 0.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli_kv.h"
#include "command.h"
#include "core/error.h"
#include "server/server.h"

namespace hearth::cli {

namespace {

const char* kUsage =
    "usage: hearth serve -m FILE [options]\n"
    "  -m, --model FILE          GGUF model to serve (required)\n"
    "  --host ADDR               address to bind (default 127.0.0.1)\n"
    "  --port N                  port to listen on (default 8080; 0 = any free port)\n"
    "  -c, --ctx-size N          total KV size shared by the slots (default 4096 per slot; 0 = trained)\n"
    "  -np, --parallel N         number of slots decoded together (default 1)\n"
    "  -b, --batch-size N        most tokens per decode step (default 2048)\n"
    "  -ub, --ubatch-size N      tokens per graph evaluation (default 512)\n"
    "  -t, --threads N           compute threads (default: all cores)\n"
    "  --api-key K[,K2]          require one of these keys (Authorization: Bearer K)\n"
    "  --api-key-file F          more keys, one per line\n"
    "  --jinja                   use the model's Jinja chat template (always on in hearth)\n"
    "  --chat-template-file F    Jinja chat template to use instead of the model's\n"
    "  --metrics                 enable the Prometheus /metrics endpoint\n"
    "  -a, --alias NAME          model id reported to clients\n"
    "  -to, --timeout S          HTTP read/write timeout in seconds (default 600)\n"
    "  --max-queue N             waiting requests before 429 (default 64)\n"
    "  --context-shift           a slot whose context is full drops half of its tokens after the\n"
    "                            first --keep and goes on (default: the completion ends, \"length\")\n"
    "  --keep N                  prompt tokens after BOS a context shift keeps (default 0; -1: all)\n"
    "  --no-mmap                 read the model into memory instead of mapping it\n"
    "  --mlock                   lock the model in RAM\n"
    "  --embedding               serve /v1/embeddings and /embedding (encoder models always do)\n"
    "  --pooling P               none|mean|cls|last (default: the model's <arch>.pooling_type)\n"
    "  --rerank, --reranking     serve /rerank and /v1/rerank with the model's rank head (cross-encoders)\n"
    "  --embd-normalize N        -1 none, 0 max-abs, 1 taxicab, 2 euclidean (default), >2 p-norm\n"
    "  --device none|cpu, -ngl N accepted; hearth has no GPU backend yet, every buffer lives in RAM (CPU)\n"
    "  -ctk, --cache-type-k T    K cache type: f32 f16 bf16 q8_0 q5_0 q5_1 q4_0 q4_1 iq4_nl (default f16)\n"
    "  -ctv, --cache-type-v T    V cache type, same choices (quantized V needs flash attention)\n"
    "  -khad, -vhad              Walsh-Hadamard rotation of K (and Q) / V per head before caching\n"
    "  -fa, --flash-attn M       on | off | auto (default auto = on)\n";

int usage_error(const std::string& msg) {
    std::fprintf(stderr, "hearth serve: %s\n\n%s", msg.c_str(), kUsage);
    return 1;
}

bool parse_int(const std::string& s, long long lo, long long hi, long long& out) {
    if (s.empty()) return false;
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi) return false;
    out = v;
    return true;
}

int run_serve(const std::vector<std::string>& args) {
    server::ServerConfig cfg;
    cli::KvArgs kva;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        auto value = [&](std::string& out) {
            if (i + 1 >= args.size()) return false;
            out = args[++i];
            return true;
        };
        auto int_value = [&](long long lo, long long hi, long long& out) {
            std::string v;
            return value(v) && parse_int(v, lo, hi, out);
        };
        long long n = 0;
        std::string v;
        if (a == "-h" || a == "--help") {
            std::printf("%s", kUsage);
            return 0;
        } else if (cli::parse_kv_arg(args, i, kva)) {
        } else if (a == "-m" || a == "--model") {
            if (!value(cfg.model_path)) return usage_error(a + " needs a file");
        } else if (a == "--host") {
            if (!value(cfg.host)) return usage_error("--host needs an address");
        } else if (a == "--port") {
            if (!int_value(0, 65535, n)) return usage_error("--port needs a number in 0..65535");
            cfg.port = int(n);
        } else if (a == "-c" || a == "--ctx-size") {
            if (!int_value(0, 1 << 24, n)) return usage_error(a + " needs a number in 0..16777216");
            cfg.n_ctx = n;
        } else if (a == "-np" || a == "--parallel") {
            if (!int_value(1, 256, n)) return usage_error(a + " needs a number in 1..256");
            cfg.n_slots = int(n);
        } else if (a == "-b" || a == "--batch-size") {
            if (!int_value(1, 1 << 20, n)) return usage_error(a + " needs a positive number");
            cfg.n_batch = int(n);
        } else if (a == "-ub" || a == "--ubatch-size") {
            if (!int_value(1, 1 << 20, n)) return usage_error(a + " needs a positive number");
            cfg.n_ubatch = int(n);
        } else if (a == "-t" || a == "--threads") {
            if (!int_value(0, 1024, n)) return usage_error(a + " needs a number in 0..1024");
            cfg.n_threads = int(n);
        } else if (a == "--api-key") {
            if (!value(v)) return usage_error("--api-key needs a key");
            cfg.api_keys.add_list(v);
        } else if (a == "--api-key-file") {
            if (!value(v)) return usage_error("--api-key-file needs a file");
            cfg.api_keys.add_file(v);
        } else if (a == "--jinja") {
            cfg.jinja = true;
        } else if (a == "--chat-template-file") {
            if (!value(cfg.chat_template_file)) return usage_error("--chat-template-file needs a file");
        } else if (a == "--metrics") {
            cfg.metrics = true;
        } else if (a == "-a" || a == "--alias") {
            if (!value(cfg.alias)) return usage_error(a + " needs a name");
        } else if (a == "-to" || a == "--timeout") {
            if (!int_value(1, 86400, n)) return usage_error(a + " needs seconds in 1..86400");
            cfg.timeout_s = int(n);
        } else if (a == "--max-queue") {
            if (!int_value(0, 100000, n)) return usage_error("--max-queue needs a number in 0..100000");
            cfg.max_queue = size_t(n);
        } else if (a == "--context-shift") {
            cfg.context_shift = true;
        } else if (a == "--no-context-shift") {
            cfg.context_shift = false;
        } else if (a == "--keep") {
            if (!int_value(-1, 1 << 24, n)) return usage_error("--keep needs a number >= -1 (-1: the whole prompt)");
            cfg.n_keep = int(n);
        } else if (a == "--no-mmap") {
            cfg.use_mmap = false;
        } else if (a == "--mlock") {
            cfg.mlock = true;
        } else if (a == "--embedding" || a == "--embeddings") {
            cfg.embedding = true;
        } else if (a == "--rerank" || a == "--reranking") {
            cfg.reranking = true;
        } else if (a == "--pooling") {
            if (!value(v)) return usage_error("--pooling needs none, mean, cls or last");
            cfg.pooling = parse_pooling(v);  // Error(InvalidArgument) -> exit 2
        } else if (a == "--embd-normalize") {
            if (!int_value(-1, 1000, n)) return usage_error("--embd-normalize needs a number >= -1");
            cfg.embd_normalize = int(n);
        } else if (a == "--device" || a == "-dev") {
            if (!value(v) || (v != "none" && v != "cpu")) return usage_error("--device: only none / cpu (no GPU backend is built in)");
        } else if (a == "-ngl" || a == "--n-gpu-layers" || a == "--gpu-layers") {
            if (!int_value(-1, 1 << 20, n)) return usage_error(a + " needs a number");
        } else {
            return usage_error("unknown option '" + a + "'");
        }
    }
    if (cfg.model_path.empty()) return usage_error("-m FILE is required");
    kva.apply(cfg.kv);
    if (cfg.n_ubatch > cfg.n_batch) cfg.n_ubatch = cfg.n_batch;

    // SIGTERM/SIGINT are taken by sigwait below; block them before any thread starts so no other
    // thread receives them. Writes to a closed socket must fail, not kill the process.
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
    signal(SIGPIPE, SIG_IGN);

    server::Server srv(cfg);
    int port = srv.start();
    std::printf("hearth serve: listening on http://%s:%d (loading %s)\n", cfg.host.c_str(), port, cfg.model_path.c_str());
    std::fflush(stdout);
    try {
        srv.load_model();
    } catch (...) {
        srv.stop();
        throw;
    }
    // The load log: where memory goes (everything lives in CPU RAM; nothing touches a GPU).
    const double mib = 1024.0 * 1024.0;
    if (const runtime::Context* ctx = srv.generation_context()) {
        const MemoryReport mem = ctx->memory();
        std::printf("hearth serve: %s\n", kv_load_line(*ctx).c_str());
        std::printf("hearth serve: memory (all CPU/RAM): weights %.1f MiB | KV cache %.1f MiB at n_ctx %lld over %d slots, "
                    "backed in pages as it fills | compute sized by the first decode\n",
                    double(srv.weight_bytes()) / mib, double(mem.kv_capacity) / mib, (long long)ctx->n_ctx(), cfg.n_slots);
    } else {
        std::printf("hearth serve: memory (all CPU/RAM): weights %.1f MiB (embeddings only)\n", double(srv.weight_bytes()) / mib);
    }
    if (cfg.mlock) {
        if (const std::string w = srv.mlock_warning(); !w.empty()) std::fprintf(stderr, "hearth serve: warning: %s\n", w.c_str());
        std::printf("hearth serve: mlock: %.1f MiB of weights locked in RAM\n", double(srv.locked_bytes()) / mib);
    }
    std::printf("hearth serve: model loaded, ready (weights, KV cache and compute buffers: CPU)\n");
    std::fflush(stdout);
    int sig = 0;
    sigwait(&sigs, &sig);
    std::printf("hearth serve: %s received, draining (up to 30 s)\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    std::fflush(stdout);
    srv.drain(std::chrono::seconds(30));
    std::printf("hearth serve: stopped\n");
    std::fflush(stdout);
    std::fflush(stderr);
    // Everything in flight has ended; do not wait for (or destroy under) HTTP threads still blocked
    // on idle client sockets.
    std::_Exit(0);
}

CommandRegistration reg("serve", "OpenAI-compatible HTTP server (chat, completions, metrics)", run_serve);

}  // namespace

}  // namespace hearth::cli
