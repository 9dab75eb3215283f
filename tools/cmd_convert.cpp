// `hearth convert HF_DIR OUT.gguf [--outtype f32|f16|bf16|q8_0]`: converts a Hugging Face checkpoint
// directory (config.json + model.safetensors + vocab.txt) into a GGUF file: bert encoders (cross-encoders
// included) and nomic_bert.
#include <cstdio>
#include <string>
#include <vector>

#include "command.h"
#include "core/error.h"
#include "model/convert/hf_convert.h"

namespace hearth::cli {
namespace {

void usage() {
    std::fprintf(stderr,
                 "usage: hearth convert HF_DIR OUT.gguf [--outtype f32|f16|bf16|q8_0]\n"
                 "  HF_DIR     directory with config.json, model.safetensors and vocab.txt (model_type bert or nomic_bert)\n"
                 "  --outtype  type of the weight matrices (default f16); norms and biases stay f32\n");
}

int run_convert(const std::vector<std::string>& args) {
    std::vector<std::string> pos;
    std::string outtype = "f16";
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "-h" || a == "--help") {
            usage();
            return 0;
        } else if (a == "--outtype") {
            if (i + 1 >= args.size()) {
                std::fprintf(stderr, "hearth convert: --outtype needs a value\n");
                return 1;
            }
            outtype = args[++i];
        } else if (!a.empty() && a[0] == '-') {
            std::fprintf(stderr, "hearth convert: unknown option '%s'\n", a.c_str());
            usage();
            return 1;
        } else {
            pos.push_back(a);
        }
    }
    if (pos.size() != 2) {
        usage();
        return 1;
    }
    DType t;
    if (outtype == "f32") t = DType::F32;
    else if (outtype == "f16") t = DType::F16;
    else if (outtype == "bf16") t = DType::BF16;
    else if (outtype == "q8_0") t = DType::Q8_0;
    else throw Error(ErrorKind::InvalidArgument, "--outtype must be f32, f16, bf16 or q8_0, got '" + outtype + "'");
    const convert::ConvertReport r = convert::convert_hf(pos[0], pos[1], t);
    std::fprintf(stderr, "convert: wrote %s (%s, %d tensors, %.1f MiB of weights, %s)\n", pos[1].c_str(), r.arch.c_str(), r.n_tensors,
                 double(r.bytes) / (1 << 20), outtype.c_str());
    return 0;
}

const CommandRegistration kRegistration("convert", "convert a Hugging Face checkpoint (bert, nomic_bert) to GGUF", run_convert);

}  // namespace
}  // namespace hearth::cli
