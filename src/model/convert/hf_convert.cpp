// BERT conversion: HF tensor names -> GGUF names (token_embd, position_embd, token_types,
// token_embd_norm, blk.N.attn_q/k/v, attn_output, attn_output_norm, ffn_up, ffn_down,
// layer_output_norm), config.json -> bert.* keys, vocab.txt -> a "phantom space" WordPiece vocab
// (word-initial pieces get a leading U+2581, "##" continuations lose the prefix, [X] stay as is).
// Cross-encoders (BertForSequenceClassification): pooler.dense -> cls, classifier -> cls.output and
// pooling_type 4 (rank). nomic-bert (model_type "nomic_bert", nomic-embed-text): emb_ln ->
// token_embd_norm, attn.Wqkv -> attn_qkv, attn.out_proj, norm1/norm2, mlp.fc11 (up) / fc12 (gate) / fc2
// (down) and rotary_emb_base -> nomic-bert.rope.freq_base.
#include "model/convert/hf_convert.h"

#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "gguf/gguf.h"
#include "model/convert/safetensors.h"
#include "quant/fp16.h"
#include "quant/quant.h"

namespace hearth::convert {

namespace {

using nlohmann::json;

json read_json(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw Error(ErrorKind::Io, "cannot read '" + path + "'");
    try {
        return json::parse(in);
    } catch (const json::exception& e) {
        throw Error(ErrorKind::InvalidFile, "'" + path + "' is not valid JSON (" + e.what() + ")");
    }
}

int64_t cfg_int(const json& cfg, const char* key) {
    if (!cfg.contains(key) || !cfg[key].is_number_integer() || cfg[key].get<int64_t>() <= 0 || cfg[key].get<int64_t>() > (1 << 24))
        throw Error(ErrorKind::InvalidFile, std::string("config.json: '") + key + "' must be a positive integer");
    return cfg[key].get<int64_t>();
}

bool file_exists(const std::string& p) { return std::ifstream(p).good(); }

// The HF name of a GGUF tensor's source, with or without the "bert." prefix.
std::string source_name(const SafeTensors& st, const std::string& name) {
    if (st.find(name)) return name;
    if (st.find("bert." + name)) return "bert." + name;
    throw Error(ErrorKind::InvalidFile, "model.safetensors has no tensor '" + name + "'");
}

}  // namespace

ConvertReport convert_hf(const std::string& dir, const std::string& out_path, DType outtype) {
    if (outtype != DType::F32 && outtype != DType::F16 && outtype != DType::BF16 && outtype != DType::Q8_0)
        throw Error(ErrorKind::InvalidArgument, "convert: --outtype must be f32, f16, bf16 or q8_0");
    const json cfg = read_json(dir + "/config.json");
    const std::string model_type = cfg.value("model_type", "");
    const bool nomic = model_type == "nomic_bert";
    if (model_type != "bert" && !nomic)
        throw Error(ErrorKind::Unsupported, "convert: model_type '" + model_type + "' is not supported (supported: bert, nomic_bert)");
    // nomic_bert names its config keys GPT-2 style.
    const int64_t E = cfg_int(cfg, nomic ? "n_embd" : "hidden_size"), L = cfg_int(cfg, nomic ? "n_layer" : "num_hidden_layers");
    const int64_t H = cfg_int(cfg, nomic ? "n_head" : "num_attention_heads"), F = cfg_int(cfg, nomic ? "n_inner" : "intermediate_size");
    const int64_t P = cfg_int(cfg, nomic ? "n_positions" : "max_position_embeddings");
    const char* act_key = nomic ? "activation_function" : "hidden_act";
    const std::string act = cfg.contains(act_key) && cfg[act_key].is_string() ? cfg[act_key].get<std::string>() : nomic ? "swiglu" : "gelu";
    if (act != (nomic ? "swiglu" : "gelu"))
        throw Error(ErrorKind::Unsupported, "convert: activation '" + act + "' is not supported (bert: gelu, nomic_bert: swiglu)");
    if (E % H != 0) throw Error(ErrorKind::InvalidFile, "config.json: the hidden size is not a multiple of the head count");
    const char* eps_key = nomic ? "layer_norm_epsilon" : "layer_norm_eps";
    const double eps = cfg.contains(eps_key) && cfg[eps_key].is_number() ? cfg[eps_key].get<double>() : 1e-12;
    const auto num = [&](const char* k, double fallback) { return cfg.contains(k) && cfg[k].is_number() ? cfg[k].get<double>() : fallback; };
    const double rope_base = num("rotary_emb_base", 1000.0);  // nomic-embed-text's default
    if (nomic) {
        if (!(rope_base > 0.0)) throw Error(ErrorKind::InvalidFile, "config.json: 'rotary_emb_base' must be positive");
        const bool interleaved = cfg.contains("rotary_emb_interleaved") && cfg["rotary_emb_interleaved"].is_boolean() &&
                                 cfg["rotary_emb_interleaved"].get<bool>();
        if (num("rotary_emb_fraction", 1.0) != 1.0 || interleaved)
            throw Error(ErrorKind::Unsupported, "convert: nomic_bert with partial or interleaved rotary embeddings is not supported");
    }
    const std::string arch = nomic ? "nomic-bert" : "bert", a = arch + ".";

    // Vocabulary: vocab.txt (one token per line, id = line number), else tokenizer.json's WordPiece vocab.
    std::vector<std::string> words;
    if (std::ifstream vin(dir + "/vocab.txt"); vin) {
        for (std::string line; std::getline(vin, line);) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            words.push_back(line);
        }
    } else if (file_exists(dir + "/tokenizer.json")) {
        const json tj = read_json(dir + "/tokenizer.json");
        if (!tj.contains("model") || !tj["model"].is_object() || tj["model"].value("type", "") != "WordPiece" ||
            !tj["model"].contains("vocab") || !tj["model"]["vocab"].is_object())
            throw Error(ErrorKind::Unsupported, "'" + dir + "/tokenizer.json' has no WordPiece model.vocab (bert needs one)");
        const json& vocab = tj["model"]["vocab"];
        words.assign(vocab.size(), "");
        for (auto it = vocab.begin(); it != vocab.end(); ++it) {
            if (!it.value().is_number_unsigned() || it.value().get<uint64_t>() >= words.size() || !words[it.value().get<size_t>()].empty())
                throw Error(ErrorKind::InvalidFile, "tokenizer.json: token '" + it.key() + "' has a bad or repeated id");
            words[it.value().get<size_t>()] = it.key();
        }
    } else {
        throw Error(ErrorKind::Io, "'" + dir + "' has neither vocab.txt nor tokenizer.json (bert needs a WordPiece vocabulary)");
    }
    std::vector<std::string> tokens;
    std::vector<int64_t> types;
    std::map<std::string, int64_t> id_of;
    for (const std::string& line : words) {
        id_of.emplace(line, int64_t(tokens.size()));
        const bool bracket = line.size() >= 2 && line.front() == '[' && line.back() == ']';
        const bool control = line == "[PAD]" || line == "[UNK]" || line == "[CLS]" || line == "[SEP]" || line == "[MASK]";
        if (bracket) tokens.push_back(line);
        else if (line.rfind("##", 0) == 0 && line.size() > 2) tokens.push_back(line.substr(2));
        else tokens.push_back("\xE2\x96\x81" + line);  // U+2581 word-initial marker
        types.push_back(control ? 3 : 1);
    }
    if (tokens.empty()) throw Error(ErrorKind::InvalidFile, "'" + dir + "': the vocabulary is empty");
    const int64_t V = int64_t(tokens.size());
    const auto special = [&](const char* t) -> int64_t {
        auto it = id_of.find(t);
        if (it == id_of.end()) throw Error(ErrorKind::InvalidFile, std::string("vocab.txt has no ") + t + " token");
        return it->second;
    };

    // Pooling from sentence-transformers' 1_Pooling/config.json (mean when absent).
    uint32_t pooling = 1;
    if (file_exists(dir + "/1_Pooling/config.json")) {
        const json pc = read_json(dir + "/1_Pooling/config.json");
        if (pc.value("pooling_mode_cls_token", false)) pooling = 2;
        else if (pc.value("pooling_mode_lasttoken", false)) pooling = 3;
    }

    const SafeTensors st = SafeTensors::open(dir + "/model.safetensors");
    // A sequence classifier (cross-encoder reranker) scores pairs: pooling rank.
    const bool seq_cls = !nomic && st.find("classifier.weight") != nullptr;
    if (seq_cls) pooling = 4;

    gguf::Writer w;
    w.set("general.architecture", gguf::Value::str(arch));
    w.set("general.name", gguf::Value::str(cfg.value("_name_or_path", arch)));
    w.set(a + "context_length", gguf::Value::u32(uint32_t(P)));
    w.set(a + "embedding_length", gguf::Value::u32(uint32_t(E)));
    w.set(a + "feed_forward_length", gguf::Value::u32(uint32_t(F)));
    w.set(a + "block_count", gguf::Value::u32(uint32_t(L)));
    w.set(a + "attention.head_count", gguf::Value::u32(uint32_t(H)));
    w.set(a + "attention.layer_norm_epsilon", gguf::Value::f32(float(eps)));
    w.set(a + "attention.causal", gguf::Value::boolean(false));
    w.set(a + "pooling_type", gguf::Value::u32(pooling));
    if (nomic) w.set(a + "rope.freq_base", gguf::Value::f32(float(rope_base)));
    w.set("tokenizer.ggml.model", gguf::Value::str("bert"));
    w.set("tokenizer.ggml.pre", gguf::Value::str("default"));
    w.set("tokenizer.ggml.tokens", gguf::Value::string_array(tokens));
    w.set("tokenizer.ggml.token_type", gguf::Value::int_array(gguf::ValueType::Int32, types));
    w.set("tokenizer.ggml.unknown_token_id", gguf::Value::u32(uint32_t(special("[UNK]"))));
    w.set("tokenizer.ggml.seperator_token_id", gguf::Value::u32(uint32_t(special("[SEP]"))));
    w.set("tokenizer.ggml.padding_token_id", gguf::Value::u32(uint32_t(special("[PAD]"))));
    w.set("tokenizer.ggml.cls_token_id", gguf::Value::u32(uint32_t(special("[CLS]"))));
    w.set("tokenizer.ggml.mask_token_id", gguf::Value::u32(uint32_t(special("[MASK]"))));
    w.set("general.file_type", gguf::Value::u32(outtype == DType::F32 ? 0 : outtype == DType::F16 ? 1 : outtype == DType::Q8_0 ? 7 : 32));

    ConvertReport rep;
    rep.arch = arch;
    // One GGUF tensor: torch shape [rows, cols] is ggml [cols, rows] with the same bytes.
    // Vectors and the tiny token-type table stay F32 (llama.cpp adds the type row without a conversion).
    const auto add = [&](const std::string& gname, const std::string& hf, std::vector<int64_t> torch_shape) {
        const std::string src = source_name(st, hf);
        const StTensor& t = *st.find(src);
        if (t.shape != torch_shape) {
            std::string want, got;
            for (int64_t d : torch_shape) want += std::to_string(d) + " ";
            for (int64_t d : t.shape) got += std::to_string(d) + " ";
            throw Error(ErrorKind::InvalidFile, "tensor '" + src + "' has shape [ " + got + "] but config.json implies [ " + want + "]");
        }
        std::vector<int64_t> ne(torch_shape.rbegin(), torch_shape.rend());
        DType type = torch_shape.size() == 1 || gname == "token_types.weight" ? DType::F32 : outtype;
        if (type == DType::Q8_0 && ne[0] % 32 != 0) type = DType::F16;
        const size_t nbytes = dtype_row_bytes(type, ne[0]) * size_t(ne.size() > 1 ? ne[1] : 1);
        w.add_tensor(gname, type, ne, [&st, src, type, ne](uint8_t* dst, size_t) {
            const std::vector<float> v = st.read_f32(src);
            const int64_t rows = ne.size() > 1 ? ne[1] : 1;
            const size_t rb = dtype_row_bytes(type, ne[0]);
            for (int64_t r = 0; r < rows; ++r) {
                const float* row = v.data() + size_t(r * ne[0]);
                uint8_t* d = dst + size_t(r) * rb;
                if (type == DType::F32) std::memcpy(d, row, rb);
                else if (type == DType::F16)
                    for (int64_t i = 0; i < ne[0]; ++i) reinterpret_cast<uint16_t*>(d)[i] = fp32_to_fp16(row[i]);
                else if (type == DType::BF16)
                    for (int64_t i = 0; i < ne[0]; ++i) reinterpret_cast<uint16_t*>(d)[i] = fp32_to_bf16(row[i]);
                else quant::quantize_row(type, row, d, ne[0]);
            }
        });
        rep.n_tensors++;
        rep.bytes += nbytes;
    };
    const std::string emb = "embeddings.";
    const StTensor& tt = *st.find(source_name(st, emb + "token_type_embeddings.weight"));
    const int64_t n_types = tt.shape.size() == 2 ? tt.shape[0] : 2;
    w.set("tokenizer.ggml.token_type_count", gguf::Value::u32(uint32_t(n_types)));
    add("token_embd.weight", emb + "word_embeddings.weight", {V, E});
    if (!nomic) add("position_embd.weight", emb + "position_embeddings.weight", {P, E});
    add("token_types.weight", emb + "token_type_embeddings.weight", {n_types, E});
    add("token_embd_norm.weight", nomic ? "emb_ln.weight" : emb + "LayerNorm.weight", {E});
    add("token_embd_norm.bias", nomic ? "emb_ln.bias" : emb + "LayerNorm.bias", {E});
    for (int64_t il = 0; nomic && il < L; ++il) {  // no biases on the matrices
        const std::string h = "encoder.layers." + std::to_string(il) + ".", g = "blk." + std::to_string(il) + ".";
        add(g + "attn_qkv.weight", h + "attn.Wqkv.weight", {3 * E, E});  // rows: Q, K, V
        add(g + "attn_output.weight", h + "attn.out_proj.weight", {E, E});
        add(g + "attn_output_norm.weight", h + "norm1.weight", {E});
        add(g + "attn_output_norm.bias", h + "norm1.bias", {E});
        add(g + "ffn_up.weight", h + "mlp.fc11.weight", {F, E});
        add(g + "ffn_gate.weight", h + "mlp.fc12.weight", {F, E});  // silu(fc12 x) * fc11 x
        add(g + "ffn_down.weight", h + "mlp.fc2.weight", {E, F});
        add(g + "layer_output_norm.weight", h + "norm2.weight", {E});
        add(g + "layer_output_norm.bias", h + "norm2.bias", {E});
    }
    for (int64_t il = 0; !nomic && il < L; ++il) {
        const std::string h = "encoder.layer." + std::to_string(il) + ".", g = "blk." + std::to_string(il) + ".";
        for (const auto& [gn, hn] : std::vector<std::pair<std::string, std::string>>{
                 {"attn_q", "attention.self.query"}, {"attn_k", "attention.self.key"}, {"attn_v", "attention.self.value"},
                 {"attn_output", "attention.output.dense"}}) {
            add(g + gn + ".weight", h + hn + ".weight", {E, E});
            add(g + gn + ".bias", h + hn + ".bias", {E});
        }
        add(g + "attn_output_norm.weight", h + "attention.output.LayerNorm.weight", {E});
        add(g + "attn_output_norm.bias", h + "attention.output.LayerNorm.bias", {E});
        add(g + "ffn_up.weight", h + "intermediate.dense.weight", {F, E});
        add(g + "ffn_up.bias", h + "intermediate.dense.bias", {F});
        add(g + "ffn_down.weight", h + "output.dense.weight", {E, F});
        add(g + "ffn_down.bias", h + "output.dense.bias", {E});
        add(g + "layer_output_norm.weight", h + "output.LayerNorm.weight", {E});
        add(g + "layer_output_norm.bias", h + "output.LayerNorm.bias", {E});
    }
    if (seq_cls) {
        const StTensor& cw = *st.find("classifier.weight");
        if (cw.shape.size() != 2 || cw.shape[1] != E || cw.shape[0] < 1 || cw.shape[0] > 65536)
            throw Error(ErrorKind::InvalidFile, "tensor 'classifier.weight' must be [num_labels, hidden_size]");
        const int64_t n_labels = cw.shape[0];
        if (st.find("bert.pooler.dense.weight") || st.find("pooler.dense.weight")) {  // dense + tanh on the CLS row
            add("cls.weight", "pooler.dense.weight", {E, E});
            add("cls.bias", "pooler.dense.bias", {E});
        }
        add("cls.output.weight", "classifier.weight", {n_labels, E});
        if (st.find("classifier.bias")) add("cls.output.bias", "classifier.bias", {n_labels});
    }
    w.write(out_path);
    return rep;
}

}  // namespace hearth::convert
