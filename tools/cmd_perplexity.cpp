// `hearth perplexity`: llama.cpp's perplexity method. The text is tokenized once (BOS first when
// the model adds one), cut into windows of n_ctx tokens; each window is evaluated from an empty
// cache (first token replaced by BOS when the model adds BOS) and its second half is scored.
// Prints per-chunk running estimates and `PPL = X +/- Y`.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli_kv.h"
#include "cli_parse.h"
#include "command.h"
#include "core/error.h"
#include "model/model.h"
#include "runtime/context.h"
#include "tokenizer/tokenizer.h"

namespace hearth::cli {
namespace {

void usage() {
    std::fprintf(stderr, "usage: hearth perplexity -m FILE -f TEXT [-c 512] [-b N] [--chunks N] [-t N] [--no-mmap]\n"
                         "                         [-ctk T] [-ctv T] [-khad] [-vhad] [-fa on|off|auto]\n"
                         "       hearth perplexity --kv-report ...  = hearth kv-report ... (every KV type vs f16 KV)\n");
    std::fputs(kv_usage(), stderr);
}

// log-softmax value of `target` among n logits (double accumulation).
double logprob(const float* logits, int64_t n, int32_t target) {
    float mx = logits[0];
    for (int64_t i = 1; i < n; ++i) mx = std::max(mx, logits[i]);
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += std::exp(double(logits[i]) - mx);
    return double(logits[target]) - mx - std::log(sum);
}

int perplexity(const std::vector<std::string>& a) {
    if (std::find(a.begin(), a.end(), "--kv-report") != a.end()) {  // the KV-quality report (tools/cmd_kv_report.cpp)
        std::vector<std::string> rest;
        for (const std::string& o : a)
            if (o != "--kv-report") rest.push_back(o);
        for (const Command& c : registered_commands())
            if (std::string(c.name) == "kv-report") return c.run(rest);
    }
    std::string model_path, text_path;
    int64_t n_ctx = 512, n_batch = 2048, n_chunks = -1;
    int n_threads = 0;
    bool no_mmap = false;
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
        else if (o == "-f" || o == "--file") text_path = need();
        else if (o == "-c" || o == "--ctx-size") n_ctx = parse_int(o, need());
        else if (o == "-b" || o == "--batch-size") n_batch = parse_int(o, need());
        else if (o == "--chunks") n_chunks = parse_int(o, need());
        else if (o == "-t" || o == "--threads") n_threads = int(parse_int(o, need()));
        else if (o == "--no-mmap") no_mmap = true;
        else {
            std::fprintf(stderr, "hearth perplexity: unknown option '%s'\n", o.c_str());
            usage();
            return 1;
        }
    }
    if (model_path.empty() || text_path.empty()) {
        usage();
        return 1;
    }
    if (n_ctx < 8 || n_ctx > (1 << 20)) throw Error(ErrorKind::InvalidArgument, "-c must be in [8, 1048576]");
    if (n_batch < 1) throw Error(ErrorKind::InvalidArgument, "-b must be >= 1");
    n_batch = std::min(n_batch, n_ctx);

    std::ifstream in(text_path, std::ios::binary);
    if (!in) throw Error(ErrorKind::Io, "cannot read '" + text_path + "'");
    std::stringstream ss;
    ss << in.rdbuf();

    auto model = Model::load(model_path, {.use_mmap = !no_mmap});
    const Tokenizer& tok = model->tokenizer();
    const bool add_bos = tok.add_bos() && tok.bos() >= 0;
    const auto t_tok = std::chrono::steady_clock::now();
    const std::vector<int32_t> tokens = tok.encode(ss.str(), add_bos, false);
    std::fprintf(stderr, "hearth perplexity: tokenized %zu tokens in %.0f ms\n", tokens.size(),
                 std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_tok).count());
    if (int64_t(tokens.size()) < 2 * n_ctx)
        throw Error(ErrorKind::InvalidArgument, "the text has " + std::to_string(tokens.size()) + " tokens; at least 2*n_ctx = " +
                                                    std::to_string(2 * n_ctx) + " are needed (use a smaller -c)");
    int64_t chunks = int64_t(tokens.size()) / n_ctx;
    if (n_chunks > 0) chunks = std::min(chunks, n_chunks);

    ContextParams cp;
    cp.n_ctx = n_ctx;
    cp.n_batch = int(n_batch);
    cp.n_ubatch = int(n_batch);
    cp.n_threads = n_threads;
    kv.apply(cp);
    Context ctx(*model, cp);
    std::fprintf(stderr, "hearth perplexity: %s\n", kv_load_line(ctx).c_str());
    const int64_t n_vocab = model->n_vocab();
    const int64_t first = n_ctx / 2;

    double nll = 0, nll2 = 0;
    int64_t count = 0;
    const auto t0 = std::chrono::steady_clock::now();
    std::fprintf(stderr, "hearth perplexity: %lld chunks of %lld tokens, batch %lld\n", (long long)chunks, (long long)n_ctx,
                 (long long)n_batch);
    for (int64_t c = 0; c < chunks; ++c) {
        const int64_t start = c * n_ctx;
        ctx.kv_clear();
        std::vector<float> logits;  // [n_ctx - first - 1 scored positions][n_vocab] of this chunk
        for (int64_t j = 0; j < n_ctx; j += n_batch) {
            Batch b;
            const int64_t n = std::min(n_batch, n_ctx - j);
            for (int64_t k = 0; k < n; ++k) {
                int32_t t = tokens[size_t(start + j + k)];
                if (add_bos && j + k == 0) t = tok.bos();
                const int64_t p = j + k;
                b.add(t, int32_t(p), 0, p >= first && p < n_ctx - 1);
            }
            ctx.decode(b);
            for (int64_t k = 0; k < n; ++k) {
                const int64_t p = j + k;
                if (p < first || p >= n_ctx - 1) continue;
                const double lp = logprob(ctx.logits(size_t(k)), n_vocab, tokens[size_t(start + p + 1)]);
                nll -= lp;
                nll2 += lp * lp;
                ++count;
            }
        }
        std::printf("[%lld]%.4f,", (long long)(c + 1), std::exp(nll / double(count)));
        std::fflush(stdout);
    }
    std::printf("\n");
    const double mean = nll / double(count), mean2 = nll2 / double(count);
    const double ppl = std::exp(mean);
    const double err = count > 1 ? std::sqrt(std::max(0.0, mean2 - mean * mean) / double(count - 1)) : 0.0;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("Final estimate: PPL = %.4f +/- %.5f\n", ppl, ppl * err);
    std::fprintf(stderr, "hearth perplexity: %lld tokens scored, %.2f s (%.1f tokens/s)\n", (long long)count, secs,
                 double(chunks * n_ctx) / secs);
    return 0;
}

const CommandRegistration kRegistration("perplexity", "perplexity of a model over a text file (llama.cpp's method)",
                                        perplexity);

}  // namespace
}  // namespace hearth::cli
