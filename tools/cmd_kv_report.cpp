// `hearth kv-report`: what each KV-cache configuration costs. The same text is evaluated with every
// configuration (perplexity's windows: n_ctx tokens from an empty cache, second half scored) in
// lockstep, and each is compared token by token with f16 KV: PPL, mean KL divergence, same-top-1 %
// and KV bytes per token, printed as a Markdown table.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "cli_parse.h"
#include "backend/placement/placement.h"
#include "command.h"
#include "core/error.h"
#include "model/model.h"
#include "runtime/context.h"
#include "runtime/logit_compare.h"
#include "tokenizer/tokenizer.h"

namespace hearth::cli {
namespace {

const char* kDefaultConfigs = "f16,q8_0,q5_0,q4_0,q4_0+had,iq4_nl+had";

void usage() {
    std::fprintf(stderr,
                 "usage: hearth kv-report -m FILE -f TEXT [-c 512] [--chunks N] [-b N] [-t N] [--configs LIST] [--no-mmap]\n"
                 "  Evaluates TEXT in windows of -c tokens (second half scored, as hearth perplexity) with\n"
                 "  each KV configuration and compares every scored token with f16 KV.\n"
                 "  --configs LIST  comma-separated K[:V][+khad][+vhad][+had] (had = both), e.g.\n"
                 "                  q4_0+had or q8_0:q4_0+vhad (default %s; f16 is always the reference)\n"
                 "  -b N            tokens per decode in the scored half (default 128; bounds logits memory)\n",
                 kDefaultConfigs);
}

struct KvConfig {
    std::string label;
    DType k = DType::F16, v = DType::F16;
    bool khad = false, vhad = false;
};

KvConfig parse_config(const std::string& text) {
    KvConfig c;
    c.label = text;
    std::string types = text, flags;
    if (const size_t plus = text.find('+'); plus != std::string::npos) {
        types = text.substr(0, plus);
        flags = text.substr(plus);
    }
    const size_t colon = types.find(':');
    c.k = placement::parse_kv_type(types.substr(0, colon));
    c.v = colon == std::string::npos ? c.k : placement::parse_kv_type(types.substr(colon + 1));
    std::stringstream fs(flags);
    std::string f;
    while (std::getline(fs, f, '+')) {
        if (f.empty()) continue;
        if (f == "khad") c.khad = true;
        else if (f == "vhad") c.vhad = true;
        else if (f == "had") c.khad = c.vhad = true;
        else throw Error(ErrorKind::InvalidArgument, "--configs: unknown flag '+" + f + "' in '" + text + "' (khad, vhad, had)");
    }
    return c;
}

std::vector<KvConfig> parse_configs(const std::string& list) {
    std::vector<KvConfig> out{parse_config("f16")};  // the reference always comes first
    std::stringstream ss(list);
    std::string item;
    while (std::getline(ss, item, ',')) {
        if (item.empty() || item == "f16") continue;
        out.push_back(parse_config(item));
    }
    return out;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(ErrorKind::Io, "cannot read '" + path + "'");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

int kv_report(const std::vector<std::string>& a) {
    std::string model_path, text_path, configs = kDefaultConfigs;
    int64_t n_ctx = 512, n_chunks = -1, n_score_batch = 128;
    int n_threads = 0;
    bool no_mmap = false;
    for (size_t i = 0; i < a.size(); ++i) {
        const std::string& o = a[i];
        auto need = [&]() -> const std::string& {
            if (i + 1 >= a.size()) throw Error(ErrorKind::InvalidArgument, "option " + o + " needs a value");
            return a[++i];
        };
        if (o == "-h" || o == "--help") {
            usage();
            return 0;
        } else if (o == "-m" || o == "--model") model_path = need();
        else if (o == "-f" || o == "--file") text_path = need();
        else if (o == "-c" || o == "--ctx-size") n_ctx = parse_int(o, need());
        else if (o == "--chunks") n_chunks = parse_int(o, need());
        else if (o == "-b" || o == "--batch-size") n_score_batch = parse_int(o, need());
        else if (o == "-t" || o == "--threads") n_threads = int(parse_int(o, need()));
        else if (o == "--configs") configs = need();
        else if (o == "--no-mmap") no_mmap = true;
        else {
            std::fprintf(stderr, "hearth kv-report: unknown option '%s'\n", o.c_str());
            usage();
            return 1;
        }
    }
    if (model_path.empty() || text_path.empty()) {
        usage();
        return 1;
    }
    if (n_ctx < 8 || n_ctx > (1 << 20)) throw Error(ErrorKind::InvalidArgument, "-c must be in [8, 1048576]");
    if (n_score_batch < 1) throw Error(ErrorKind::InvalidArgument, "-b must be >= 1");
    const std::vector<KvConfig> cfgs = parse_configs(configs);
    const std::string text = read_file(text_path);

    auto model = Model::load(model_path, {.use_mmap = !no_mmap});
    const Tokenizer& tok = model->tokenizer();
    const HParams& hp = model->hparams();
    const bool add_bos = tok.add_bos() && tok.bos() >= 0;
    const std::vector<int32_t> tokens = tok.encode(text, add_bos, false);
    int64_t chunks = int64_t(tokens.size()) / n_ctx;
    if (chunks < 1)
        throw Error(ErrorKind::InvalidArgument, "the text has " + std::to_string(tokens.size()) + " tokens; at least -c " +
                                                    std::to_string(n_ctx) + " are needed");
    if (n_chunks > 0) chunks = std::min(chunks, n_chunks);
    const int64_t first = n_ctx / 2;
    const int64_t n_vocab = model->n_vocab();
    const int n_batch = int(std::min<int64_t>(n_ctx, 2048));

    // One context per configuration, all alive at once: every scored batch is decoded by each and
    // compared with the reference right away, so no logits of a whole window are ever stored.
    std::vector<std::unique_ptr<Context>> ctxs;
    for (const KvConfig& c : cfgs) {
        ContextParams cp;
        cp.n_ctx = n_ctx;
        cp.n_batch = n_batch;
        cp.n_ubatch = std::min(n_batch, 512);
        cp.n_threads = n_threads;
        cp.kv_type_k = c.k;
        cp.kv_type_v = c.v;
        cp.kv_hadamard_k = c.khad;
        cp.kv_hadamard_v = c.vhad;
        ctxs.push_back(std::make_unique<Context>(*model, cp));
    }
    std::fprintf(stderr, "hearth kv-report: %zu tokens, %lld chunk(s) of %lld, %zu configurations, scoring %lld tokens per chunk\n",
                 tokens.size(), (long long)chunks, (long long)n_ctx, cfgs.size(), (long long)(n_ctx - 1 - first));

    std::vector<LogitStats> stats(cfgs.size());
    std::vector<double> secs(cfgs.size(), 0.0);
    std::vector<float> ref_lp, lp(static_cast<size_t>(n_vocab));
    const auto t_start = std::chrono::steady_clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count(); };
    double last_note = 0;  // long windows: a progress line at most every 60 s
    for (int64_t ch = 0; ch < chunks; ++ch) {
        const int64_t start = ch * n_ctx;
        auto token_at = [&](int64_t p) { return (add_bos && p == 0) ? tok.bos() : tokens[size_t(start + p)]; };
        // Unscored first half: no logits.
        for (size_t k = 0; k < ctxs.size(); ++k) {
            const auto t0 = std::chrono::steady_clock::now();
            ctxs[k]->kv_clear();
            for (int64_t j = 0; j < first; j += n_batch) {
                Batch b;
                for (int64_t p = j; p < std::min(first, j + n_batch); ++p) b.add(token_at(p), int32_t(p), 0, false);
                ctxs[k]->decode(b);
            }
            secs[k] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        }
        // Scored half in batches: the reference first, then each configuration against it.
        for (int64_t j = first; j < n_ctx - 1; j += n_score_batch) {
            const int64_t n = std::min(n_score_batch, n_ctx - 1 - j);
            Batch b;
            for (int64_t p = j; p < j + n; ++p) b.add(token_at(p), int32_t(p), 0, true);
            ref_lp.resize(size_t(n * n_vocab));
            for (size_t k = 0; k < ctxs.size(); ++k) {
                const auto t0 = std::chrono::steady_clock::now();
                ctxs[k]->decode(b);
                secs[k] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                for (int64_t r = 0; r < n; ++r) {
                    const int32_t target = tokens[size_t(start + j + r + 1)];
                    float* row_lp = k == 0 ? ref_lp.data() + size_t(r * n_vocab) : lp.data();
                    log_softmax(ctxs[k]->logits(size_t(r)), n_vocab, row_lp);
                    stats[k].add(compare_logprobs(ref_lp.data() + size_t(r * n_vocab), row_lp, n_vocab, target));
                }
            }
            if (elapsed() - last_note >= 60.0) {
                last_note = elapsed();
                std::fprintf(stderr, "hearth kv-report: chunk %lld: scored %lld/%lld tokens (%.0f s)\n", (long long)(ch + 1),
                             (long long)(j + n - first), (long long)(n_ctx - 1 - first), last_note);
            }
        }
        std::fprintf(stderr, "hearth kv-report: chunk %lld/%lld done (%.0f s)\n", (long long)(ch + 1), (long long)chunks, elapsed());
    }

    std::printf("KV-cache quality: %s, n_ctx %lld, %lld chunk(s), %lld scored tokens, reference f16 K/V\n\n",
                model_path.c_str(), (long long)n_ctx, (long long)chunks, (long long)stats[0].count);
    std::printf("| KV config | K | V | PPL | dPPL %% | mean KLD | same top-1 %% | KV bytes/token | KV MiB at n_ctx | eval s |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
    const double ppl0 = stats[0].ppl();
    for (size_t k = 0; k < cfgs.size(); ++k) {
        const KvConfig& c = cfgs[k];
        const size_t bytes = (dtype_row_bytes(c.k, hp.n_embd_k_gqa()) + dtype_row_bytes(c.v, hp.n_embd_v_gqa())) * size_t(hp.n_layer);
        std::printf("| %s | %s%s | %s%s | %.4f | %+.3f | %.6f | %.2f | %zu | %.1f | %.1f |\n", c.label.c_str(), dtype_name(c.k),
                    c.khad ? "+had" : "", dtype_name(c.v), c.vhad ? "+had" : "", stats[k].ppl(),
                    100.0 * (stats[k].ppl() / ppl0 - 1.0), stats[k].mean_kld(), stats[k].top1_pct(), bytes,
                    double(bytes) * double(n_ctx) / (1024.0 * 1024.0), secs[k]);
    }
    return 0;
}

const CommandRegistration kRegistration("kv-report", "PPL, KL divergence and top-1 agreement of each KV-cache type vs f16",
                                        kv_report);

}  // namespace
}  // namespace hearth::cli
