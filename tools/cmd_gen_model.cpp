// `hearth gen-model`: write a random-weight GGUF model of any supported architecture with the
// tokenizer of a vocab GGUF (see src/model/synthetic.h), for CI and benchmarks without downloads.
#include <cstdio>
#include <string>
#include <vector>

#include "cli_parse.h"
#include "command.h"
#include "core/error.h"
#include "model/synthetic.h"
#include "quant/dtype.h"

namespace hearth::cli {
namespace {

void usage() {
    std::fprintf(stderr,
                 "usage: hearth gen-model --arch qwen3|llama|qwen2|gemma3|bert|nomic-bert --vocab VOCAB.gguf [--n-layer N] [--n-embd N]\n"
                 "                        [--n-head N] [--n-head-kv N] [--head-dim N] [--n-ff N] [--n-ctx N]\n"
                 "                        [--sliding-window N] [--rope-base F] [--untied] [--seed S] [--n-vocab N]\n"
                 "                        [--rerank] --type f16|f32|q8_0|q4_0|q4_k|... OUT.gguf\n"
                 "  encoders (bert, nomic-bert): --n-head-kv defaults to --n-head; --rerank adds a cross-encoder head\n"
                 "  (cls.* pooler + 1-logit classifier) and pooling_type rank\n");
}

int gen_model(const std::vector<std::string>& a) {
    SyntheticSpec s;
    std::string out;
    bool kv_given = false;
    for (size_t i = 0; i < a.size(); ++i) {
        const std::string& o = a[i];
        auto need = [&]() -> const std::string& {
            if (i + 1 >= a.size()) throw Error(ErrorKind::InvalidArgument, "option " + o + " needs a value");
            return a[++i];
        };
        if (o == "-h" || o == "--help") {
            usage();
            return 0;
        } else if (o == "--arch") s.arch = need();
        else if (o == "--vocab") s.vocab_path = need();
        else if (o == "--n-layer") s.n_layer = parse_int(o, need());
        else if (o == "--n-embd") s.n_embd = parse_int(o, need());
        else if (o == "--n-head") s.n_head = parse_int(o, need());
        else if (o == "--n-head-kv") {
            s.n_head_kv = parse_int(o, need());
            kv_given = true;
        } else if (o == "--rerank") s.rank_head = true;
        else if (o == "--head-dim") s.head_dim = parse_int(o, need());
        else if (o == "--n-ff") s.n_ff = parse_int(o, need());
        else if (o == "--n-ctx") s.n_ctx_train = parse_int(o, need());
        else if (o == "--sliding-window") s.sliding_window = parse_int(o, need());
        else if (o == "--seed") s.seed = uint64_t(parse_int(o, need()));
        else if (o == "--n-vocab") s.n_vocab = parse_int(o, need());
        else if (o == "--rope-base") s.rope_base = parse_float(o, need());
        else if (o == "--untied") s.tied_output = false;
        else if (o == "--type") {
            const std::string& t = need();
            auto dt = dtype_from_name(t);
            if (!dt) throw Error(ErrorKind::InvalidArgument, "unknown --type '" + t + "'");
            s.type = *dt;
        } else if (!o.empty() && o[0] == '-') {
            std::fprintf(stderr, "hearth gen-model: unknown option '%s'\n", o.c_str());
            usage();
            return 1;
        } else if (out.empty()) out = o;
        else {
            std::fprintf(stderr, "hearth gen-model: more than one output file given\n");
            return 1;
        }
    }
    if (out.empty() || s.vocab_path.empty()) {
        std::fprintf(stderr, "hearth gen-model: --vocab and OUT.gguf are required\n");
        usage();
        return 1;
    }
    if (!kv_given && (s.arch == "bert" || s.arch == "nomic-bert")) s.n_head_kv = s.n_head;  // encoders: no GQA
    write_synthetic_model(s, out);
    std::fprintf(stderr, "hearth gen-model: wrote %s (%s, %lld layers, n_embd %lld, %s)\n", out.c_str(), s.arch.c_str(),
                 (long long)s.n_layer, (long long)s.n_embd, dtype_name(s.type));
    return 0;
}

const CommandRegistration kRegistration("gen-model", "write a random-weight model of a supported architecture", gen_model);

}  // namespace
}  // namespace hearth::cli
