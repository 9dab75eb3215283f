// `hearth bench`: llama-bench's two measurements — pp (one prompt of N tokens from an empty cache)
// and tg (N tokens generated one at a time) — repeated r times, reported as mean ± sd tokens/s in a
// markdown table or as JSON.
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <thread>
#include <string>
#include <vector>

#include "cli_kv.h"
#include "cli_parse.h"
#include "command.h"
#include "core/error.h"
#include "model/model.h"
#include "runtime/context.h"

namespace hearth::cli {
namespace {

void usage() {
    std::fprintf(stderr, "usage: hearth bench -m FILE [-p 512] [-n 128] [-d 0] [-t N] [-r 5] [-b 2048] [-ub 512] [-o md|json]\n"
                         "  -p 0 or -n 0 skips that test; -d N first fills the KV cache with N tokens (untimed),\n"
                         "  so pp and tg run at depth N (llama-bench's -d)\n");
    std::fputs(kv_usage(), stderr);
}

struct Result {
    std::string test;
    int n_prompt = 0, n_gen = 0;
    std::vector<double> ts;  // tokens/s per repetition
    double mean() const {
        double s = 0;
        for (double t : ts) s += t;
        return ts.empty() ? 0 : s / double(ts.size());
    }
    double sd() const {
        if (ts.size() < 2) return 0;
        double m = mean(), s = 0;
        for (double t : ts) s += (t - m) * (t - m);
        return std::sqrt(s / double(ts.size() - 1));
    }
};

int bench(const std::vector<std::string>& a) {
    std::string model_path, format = "md";
    int64_t n_prompt = 512, n_gen = 128, n_depth = 0, reps = 5, n_batch = 2048, n_ubatch = 512;
    int n_threads = 0;
    KvArgs kv;
    for (size_t i = 0; i < a.size(); ++i) {
        const std::string& o = a[i];
        auto need = [&]() -> const std::string& {
            if (i + 1 >= a.size()) throw Error(ErrorKind::InvalidArgument, "option " + o + " needs a value");
            return a[++i];
        };
        if (o == "-h" || o == "--help") {
            usage();
            return 0;
        } else if (parse_kv_arg(a, i, kv)) {
        } else if (o == "-m" || o == "--model") model_path = need();
        else if (o == "-p" || o == "--n-prompt") n_prompt = parse_int(o, need());
        else if (o == "-n" || o == "--n-gen") n_gen = parse_int(o, need());
        else if (o == "-d" || o == "--n-depth") n_depth = parse_int(o, need());
        else if (o == "-t" || o == "--threads") n_threads = int(parse_int(o, need()));
        else if (o == "-r" || o == "--repetitions") reps = parse_int(o, need());
        else if (o == "-b" || o == "--batch-size") n_batch = parse_int(o, need());
        else if (o == "-ub" || o == "--ubatch-size") n_ubatch = parse_int(o, need());
        else if (o == "-o" || o == "--output") format = need();
        else {
            std::fprintf(stderr, "hearth bench: unknown option '%s'\n", o.c_str());
            usage();
            return 1;
        }
    }
    if (model_path.empty()) {
        usage();
        return 1;
    }
    if (format != "md" && format != "json") throw Error(ErrorKind::InvalidArgument, "-o must be md or json");
    if (n_prompt < 0 || n_gen < 0 || n_depth < 0 || reps < 1 || n_prompt > 65536 || n_gen > 65536 || n_depth > 262144 ||
        n_batch < 1 || n_ubatch < 1)
        throw Error(ErrorKind::InvalidArgument, "-p/-n must be in [0, 65536], -d in [0, 262144], -r/-b/-ub >= 1");

    auto model = Model::load(model_path);
    ContextParams cp;
    cp.n_ctx = std::max<int64_t>(n_depth + std::max(n_prompt, n_gen), 16);
    cp.n_batch = int(std::max(n_batch, n_prompt));
    cp.n_ubatch = int(n_ubatch);
    cp.n_threads = n_threads;
    kv.apply(cp);
    Context ctx(*model, cp);
    std::mt19937 rng(42);
    std::uniform_int_distribution<int32_t> pick(0, int32_t(model->n_vocab() - 1));

    // -d: the first n_depth positions are filled once (in n_batch pieces, untimed) and kept; each
    // repetition then drops everything after them.
    for (int64_t p0 = 0; p0 < n_depth; p0 += cp.n_batch) {
        Batch b;
        for (int64_t i = p0; i < std::min(n_depth, p0 + cp.n_batch); ++i) b.add(pick(rng), int32_t(i), 0, i == n_depth - 1);
        ctx.decode(b);
    }
    auto reset = [&] {
        if (n_depth > 0) ctx.kv_remove(0, int32_t(n_depth));
        else ctx.kv_clear();
    };
    auto run_pp = [&](int64_t n) {
        reset();
        Batch b;
        for (int64_t i = 0; i < n; ++i) b.add(pick(rng), int32_t(n_depth + i), 0, i == n - 1);
        const auto t0 = std::chrono::steady_clock::now();
        ctx.decode(b);
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };
    auto run_tg = [&](int64_t n) {
        reset();
        const auto t0 = std::chrono::steady_clock::now();
        for (int64_t i = 0; i < n; ++i) {
            Batch b;
            b.add(pick(rng), int32_t(n_depth + i), 0, true);
            ctx.decode(b);
        }
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };

    std::vector<Result> results;
    const std::string depth_suffix = n_depth > 0 ? " @ d" + std::to_string(n_depth) : "";
    if (n_prompt > 0) {
        run_pp(std::min<int64_t>(n_prompt, 32));  // warm-up (arena, page faults)
        Result r{"pp" + std::to_string(n_prompt) + depth_suffix, int(n_prompt), 0, {}};
        for (int64_t k = 0; k < reps; ++k) r.ts.push_back(double(n_prompt) / run_pp(n_prompt));
        results.push_back(r);
    }
    if (n_gen > 0) {
        run_tg(2);
        Result r{"tg" + std::to_string(n_gen) + depth_suffix, 0, int(n_gen), {}};
        for (int64_t k = 0; k < reps; ++k) r.ts.push_back(double(n_gen) / run_tg(n_gen));
        results.push_back(r);
    }

    const std::string name = std::filesystem::path(model_path).filename().string();
    const double size_mib = double(model->weight_bytes()) / (1024.0 * 1024.0);
    const MemoryReport mem = ctx.memory();
    const int threads = n_threads > 0 ? n_threads : int(std::thread::hardware_concurrency());
    if (format == "json") {
        nlohmann::json out = nlohmann::json::array();
        for (const Result& r : results)
            out.push_back({{"model", name},           {"arch", model->architecture()}, {"size_bytes", model->weight_bytes()},
                           {"n_threads", threads},    {"test", r.test},                {"n_prompt", r.n_prompt},
                           {"n_gen", r.n_gen},        {"n_depth", n_depth},            {"avg_ts", r.mean()},            {"stddev_ts", r.sd()},
                           {"samples_ts", r.ts},      {"compute_bytes", mem.compute},
                           {"type_k", dtype_name(ctx.params().kv_type_k)}, {"type_v", dtype_name(ctx.params().kv_type_v)},
                           {"kv", describe_kv(ctx.params())}});
        std::printf("%s\n", out.dump(2).c_str());
    } else {
        std::printf("| model | arch | size | backend | threads | kv | test | t/s |\n");
        std::printf("| --- | --- | ---: | --- | ---: | --- | ---: | ---: |\n");
        const std::string kvs = describe_kv(ctx.params());
        for (const Result& r : results)
            std::printf("| %s | %s | %.2f MiB | CPU | %d | %s | %s | %.2f ± %.2f |\n", name.c_str(), model->architecture().c_str(),
                        size_mib, threads, kvs.c_str(), r.test.c_str(), r.mean(), r.sd());
    }
    return 0;
}

const CommandRegistration kRegistration("bench", "prompt-processing and generation speed (llama-bench style)", bench);

}  // namespace
}  // namespace hearth::cli
