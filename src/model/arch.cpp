// The one table of supported architectures: flags the loader and the shared blocks read, and the
// graph wiring function from archs/<arch>.cpp. New architecture: one archs/ file + one row here.
#include "model/arch.h"

#include <string>

#include "core/error.h"
#include "model/weights.h"

namespace hearth {

namespace archs {
void build_llama(GraphBuilder& g);
void build_qwen2(GraphBuilder& g);
void build_qwen3(GraphBuilder& g);
void build_gemma3(GraphBuilder& g);
void build_bert(GraphBuilder& g);
ModelWeights load_bert(const gguf::File& f, HParams& hp);
void build_nomic_bert(GraphBuilder& g);
ModelWeights load_nomic_bert(const gguf::File& f, HParams& hp);
}  // namespace archs

const std::vector<ArchSpec>& arch_table() {
    // name      rope             ffn              qkv_bias qk_norm post_norms embd_sqrt swa rope_base_swa build
    static const std::vector<ArchSpec> table = {
        {"llama", RopeKind::Normal, FfnKind::SwiGLU, false, false, false, false, 0, 10000.0f, archs::build_llama},
        {"qwen2", RopeKind::NeoX, FfnKind::SwiGLU, true, false, false, false, 0, 10000.0f, archs::build_qwen2},
        {"qwen3", RopeKind::NeoX, FfnKind::SwiGLU, false, true, false, false, 0, 10000.0f, archs::build_qwen3},
        {"gemma3", RopeKind::NeoX, FfnKind::GeGLU, false, true, true, true, 6, 10000.0f, archs::build_gemma3},
        // bert: encoder, absolute positions, post-LayerNorm, GELU; its own tensor layout and no LM head
        {"bert", RopeKind::None, FfnKind::GeGLU, true, false, false, false, 0, 10000.0f, archs::build_bert, false, archs::load_bert},
        // nomic-bert: encoder, rotary (NeoX) positions, fused QKV, SwiGLU, post-LayerNorm, no LM head
        {"nomic-bert", RopeKind::NeoX, FfnKind::SwiGLU, false, false, false, false, 0, 10000.0f, archs::build_nomic_bert, false,
         archs::load_nomic_bert},
    };
    return table;
}

const ArchSpec& find_arch(std::string_view name) {
    for (const ArchSpec& a : arch_table())
        if (name == a.name) return a;
    std::string names;
    for (const ArchSpec& a : arch_table()) names += (names.empty() ? "" : ", ") + std::string(a.name);
    throw Error(ErrorKind::Unsupported, "architecture '" + std::string(name) + "' is not supported (supported: " + names + ")");
}

}  // namespace hearth
