// Binds the GGUF tensors of a model to ModelWeights without copying (pointers into the mapping) and
// checks every shape against the hyper-parameters, naming the tensor and key on a mismatch.
#include "model/weights.h"

#include <string>

#include "core/error.h"
#include "gguf/gguf.h"
#include "model/arch.h"
#include "model/hparams.h"

namespace hearth {

namespace {

std::string shape_str(const int64_t* ne, size_t n) {
    std::string s = "[";
    for (size_t i = 0; i < n; ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
    return s + "]";
}

class Binder {
public:
    Binder(const gguf::File& f) : f_(f) {}

    // Binds `name` with the expected shape (ggml order). Absent + !required: empty ref.
    TensorRef bind(const std::string& name, std::vector<int64_t> shape, bool required, const char* why) {
        const gguf::TensorInfo* info = f_.find_tensor(name);
        if (!info) {
            if (required) throw Error(ErrorKind::InvalidFile, "tensor '" + name + "' is missing (" + why + ")");
            return {};
        }
        bool ok = info->n_dims == shape.size() || (info->n_dims < shape.size() && shape.back() == 1);
        for (size_t i = 0; i < 4 && ok; ++i) ok = info->ne[i] == (i < shape.size() ? shape[i] : 1);
        if (!ok)
            throw Error(ErrorKind::InvalidFile, "tensor '" + name + "' has shape " + shape_str(info->ne, info->n_dims) +
                                                    " but the hyper-parameters need " + shape_str(shape.data(), shape.size()) +
                                                    " (" + why + ")");
        const DTypeTraits& tr = dtype_traits(info->type);
        if (!tr.can_dequantize)
            throw Error(ErrorKind::Unsupported, "tensor '" + name + "' has type " + tr.name + ", which hearth cannot compute with");
        TensorRef r;
        r.name = info->name.c_str();
        r.data = f_.tensor_data(*info);
        r.type = info->type;
        for (int i = 0; i < 4; ++i) r.ne[i] = info->ne[i];
        r.row_bytes = dtype_row_bytes(info->type, info->ne[0]);
        return r;
    }

private:
    const gguf::File& f_;
};

}  // namespace

ModelWeights load_weights(const gguf::File& f, const ArchSpec& spec, HParams& hp) {
    if (spec.load_weights) return spec.load_weights(f, hp);  // a layout of its own (bert)
    Binder b(f);
    ModelWeights w;
    const std::string a = std::string(spec.name) + ".";
    const std::string embd_why = a + "embedding_length = " + std::to_string(hp.n_embd);

    const gguf::TensorInfo* te = f.find_tensor("token_embd.weight");
    if (!te) throw Error(ErrorKind::InvalidFile, "tensor 'token_embd.weight' is missing (token embeddings)");
    if (hp.n_vocab == 0) hp.n_vocab = te->ne[1];
    if (te->ne[1] != hp.n_vocab)
        throw Error(ErrorKind::InvalidFile, "tensor 'token_embd.weight' has " + std::to_string(te->ne[1]) +
                                                " rows but tokenizer.ggml.tokens has " + std::to_string(hp.n_vocab) + " tokens");
    const std::string vocab_why = embd_why + ", n_vocab = " + std::to_string(hp.n_vocab);
    w.tok_embd = b.bind("token_embd.weight", {hp.n_embd, hp.n_vocab}, true, vocab_why.c_str());
    w.output_norm = b.bind("output_norm.weight", {hp.n_embd}, true, embd_why.c_str());
    w.output = b.bind("output.weight", {hp.n_embd, hp.n_vocab}, false, vocab_why.c_str());
    if (!w.output) {
        w.output = w.tok_embd;
        w.tied_output = true;
    }

    const std::string q_why = a + "attention.head_count * key_length = " + std::to_string(hp.n_embd_q());
    const std::string k_why = a + "attention.head_count_kv * key_length = " + std::to_string(hp.n_embd_k_gqa());
    const std::string v_why = a + "attention.head_count_kv * value_length = " + std::to_string(hp.n_embd_v_gqa());
    const std::string o_why = a + "attention.head_count * value_length = " + std::to_string(hp.n_head * hp.head_dim_v);
    const std::string hd_why = a + "attention.key_length = " + std::to_string(hp.head_dim_k);
    const std::string ff_why = a + "feed_forward_length = " + std::to_string(hp.n_ff);

    w.layers.resize(size_t(hp.n_layer));
    for (int64_t il = 0; il < hp.n_layer; ++il) {
        LayerWeights& l = w.layers[size_t(il)];
        const std::string p = "blk." + std::to_string(il) + ".";
        l.attn_norm = b.bind(p + "attn_norm.weight", {hp.n_embd}, true, embd_why.c_str());
        l.wq = b.bind(p + "attn_q.weight", {hp.n_embd, hp.n_embd_q()}, true, q_why.c_str());
        l.wk = b.bind(p + "attn_k.weight", {hp.n_embd, hp.n_embd_k_gqa()}, true, k_why.c_str());
        l.wv = b.bind(p + "attn_v.weight", {hp.n_embd, hp.n_embd_v_gqa()}, true, v_why.c_str());
        l.wo = b.bind(p + "attn_output.weight", {hp.n_head * hp.head_dim_v, hp.n_embd}, true, o_why.c_str());
        if (spec.qkv_bias) {
            l.bq = b.bind(p + "attn_q.bias", {hp.n_embd_q()}, false, q_why.c_str());
            l.bk = b.bind(p + "attn_k.bias", {hp.n_embd_k_gqa()}, false, k_why.c_str());
            l.bv = b.bind(p + "attn_v.bias", {hp.n_embd_v_gqa()}, false, v_why.c_str());
        }
        if (spec.qk_norm) {
            l.q_norm = b.bind(p + "attn_q_norm.weight", {hp.head_dim_k}, true, hd_why.c_str());
            l.k_norm = b.bind(p + "attn_k_norm.weight", {hp.head_dim_k}, true, hd_why.c_str());
        }
        if (spec.post_norms) {
            l.attn_post_norm = b.bind(p + "post_attention_norm.weight", {hp.n_embd}, true, embd_why.c_str());
            l.ffn_post_norm = b.bind(p + "post_ffw_norm.weight", {hp.n_embd}, true, embd_why.c_str());
        }
        l.ffn_norm = b.bind(p + "ffn_norm.weight", {hp.n_embd}, true, embd_why.c_str());
        l.ffn_gate = b.bind(p + "ffn_gate.weight", {hp.n_embd, hp.n_ff}, true, ff_why.c_str());
        l.ffn_up = b.bind(p + "ffn_up.weight", {hp.n_embd, hp.n_ff}, true, ff_why.c_str());
        l.ffn_down = b.bind(p + "ffn_down.weight", {hp.n_ff, hp.n_embd}, true, ff_why.c_str());
        // Norm weights are used as float vectors by the graph blocks.
        for (const TensorRef* n : {&l.attn_norm, &l.q_norm, &l.k_norm, &l.attn_post_norm, &l.ffn_norm, &l.ffn_post_norm,
                                   &l.bq, &l.bk, &l.bv})
            if (*n && n->type != DType::F32)
                throw Error(ErrorKind::Unsupported, std::string("tensor '") + n->name + "' must be f32, found " + dtype_name(n->type));
    }
    if (w.output_norm.type != DType::F32)
        throw Error(ErrorKind::Unsupported, "tensor 'output_norm.weight' must be f32, found " + std::string(dtype_name(w.output_norm.type)));
    return w;
}

}  // namespace hearth
