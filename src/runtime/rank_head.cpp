// Reranking head: reads cls.* / cls.output.* from the GGUF file into float matrices and applies them
// to one pooled hidden state per pair (double accumulation); builds the pair tokens of a reranker.
#include "runtime/rank_head.h"

#include <cmath>

#include "core/error.h"
#include "gguf/gguf.h"
#include "model/arch.h"
#include "model/model.h"
#include "quant/quant.h"
#include "tokenizer/tokenizer.h"

namespace hearth {

bool RankHead::present(const gguf::File& f) { return f.find_tensor("cls.weight") || f.find_tensor("cls.output.weight"); }

RankHead::Dense RankHead::read_dense(const gguf::File& f, const std::string& weight, const std::string& bias) {
    Dense d;
    const gguf::TensorInfo* wi = f.find_tensor(weight);
    if (!wi) return d;
    if (wi->ne[2] != 1 || wi->ne[3] != 1 || wi->ne[0] < 1 || wi->ne[1] < 1)
        throw Error(ErrorKind::InvalidFile, "tensor '" + weight + "' must be a matrix [n_in, n_out]");
    if (!dtype_traits(wi->type).can_dequantize)
        throw Error(ErrorKind::Unsupported, "tensor '" + weight + "' has type " + dtype_name(wi->type) + ", which hearth cannot compute with");
    d.n_in = wi->ne[0];
    d.n_out = wi->ne[1];
    d.w.resize(size_t(d.n_in * d.n_out));
    const uint8_t* src = f.tensor_data(*wi);
    const size_t rb = dtype_row_bytes(wi->type, d.n_in);
    for (int64_t r = 0; r < d.n_out; ++r) quant::dequantize_row(wi->type, src + size_t(r) * rb, d.w.data() + size_t(r * d.n_in), d.n_in);
    if (const gguf::TensorInfo* bi = f.find_tensor(bias)) {
        if (bi->type != DType::F32 || bi->n_elements() != d.n_out || bi->ne[0] != d.n_out)
            throw Error(ErrorKind::InvalidFile, "tensor '" + bias + "' must be an f32 vector of " + std::to_string(d.n_out) +
                                                    " elements (the rows of '" + weight + "')");
        const float* b = reinterpret_cast<const float*>(f.tensor_data(*bi));
        d.b.assign(b, b + d.n_out);
    }
    return d;
}

RankHead RankHead::load(const gguf::File& f, int64_t n_embd) {
    if (!present(f))
        throw Error(ErrorKind::Unsupported, "the model has no rank head (tensors cls.weight / cls.output.weight): it is not a reranker");
    RankHead h;
    h.n_embd_ = n_embd;
    h.pooler_ = read_dense(f, "cls.weight", "cls.bias");
    h.classifier_ = read_dense(f, "cls.output.weight", "cls.output.bias");
    const Dense& first = h.pooler_.n_out ? h.pooler_ : h.classifier_;
    if (first.n_in != n_embd)
        throw Error(ErrorKind::InvalidFile, "rank head: '" + std::string(h.pooler_.n_out ? "cls.weight" : "cls.output.weight") + "' takes " +
                                                std::to_string(first.n_in) + " inputs but the model's embedding_length is " + std::to_string(n_embd));
    if (h.pooler_.n_out && h.classifier_.n_out && h.classifier_.n_in != h.pooler_.n_out)
        throw Error(ErrorKind::InvalidFile, "rank head: 'cls.output.weight' takes " + std::to_string(h.classifier_.n_in) +
                                                " inputs but 'cls.weight' gives " + std::to_string(h.pooler_.n_out));
    h.n_out_ = h.classifier_.n_out ? h.classifier_.n_out : h.pooler_.n_out;
    return h;
}

namespace {

// The id of `word` when it is exactly one token, else -1.
int32_t single_token(const Tokenizer& tok, const char* word) {
    const std::vector<int32_t> ids = tok.encode(word, /*add_special=*/false, /*parse_special=*/false);
    return ids.size() == 1 ? ids[0] : -1;
}

}  // namespace

bool RankHead::available(const Model& m) {
    if (present(m.file())) return true;
    return m.arch().causal && m.weights().output && single_token(m.tokenizer(), "yes") >= 0 && single_token(m.tokenizer(), "no") >= 0;
}

RankHead RankHead::for_model(const Model& m) {
    if (present(m.file()) || !available(m)) return load(m.file(), m.n_embd());  // throws when there is no head at all
    // One row: LM-head row of "yes" minus the row of "no", applied to the output-normed last state.
    const TensorRef& out = m.weights().output;  // [n_embd, n_vocab]
    const int64_t E = m.n_embd();
    std::vector<float> yes(static_cast<size_t>(E)), no(static_cast<size_t>(E));
    quant::dequantize_row(out.type, out.row(single_token(m.tokenizer(), "yes")), yes.data(), E);
    quant::dequantize_row(out.type, out.row(single_token(m.tokenizer(), "no")), no.data(), E);
    RankHead h;
    h.n_embd_ = E;
    h.n_out_ = 1;
    h.yes_no_ = true;
    h.classifier_.n_in = E;
    h.classifier_.n_out = 1;
    h.classifier_.w.resize(size_t(E));
    for (int64_t i = 0; i < E; ++i) h.classifier_.w[size_t(i)] = yes[size_t(i)] - no[size_t(i)];
    return h;
}

std::vector<double> RankHead::run(const Dense& d, const std::vector<double>& x) {
    std::vector<double> y(size_t(d.n_out));
    for (int64_t r = 0; r < d.n_out; ++r) {
        const float* w = d.w.data() + size_t(r * d.n_in);
        double acc = d.b.empty() ? 0.0 : double(d.b[size_t(r)]);
        for (int64_t i = 0; i < d.n_in; ++i) acc += double(w[i]) * x[size_t(i)];
        y[size_t(r)] = acc;
    }
    return y;
}

std::vector<float> RankHead::apply(const float* hidden) const {
    HEARTH_ASSERT(n_out_ > 0);
    std::vector<double> x(hidden, hidden + n_embd_);
    if (pooler_.n_out) {
        x = run(pooler_, x);
        if (classifier_.n_out) {  // pooler: dense + tanh, then the classifier
            for (double& v : x) v = std::tanh(v);
            x = run(classifier_, x);
        }
    } else {
        x = run(classifier_, x);
    }
    return std::vector<float>(x.begin(), x.end());
}

RankPair tokenize_pair(const Model& model, const std::string& query, const std::string& document, bool judgement_prompt) {
    const Tokenizer& tok = model.tokenizer();
    if (judgement_prompt) {
        RankPair p;
        const auto put = [&](const std::string& text, bool add_special, bool parse_special) {
            const std::vector<int32_t> ids = tok.encode(text, add_special, parse_special);
            p.tokens.insert(p.tokens.end(), ids.begin(), ids.end());
        };
        put("<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the Instruct provided. "
            "Note that the answer can only be \"yes\" or \"no\".<|im_end|>\n<|im_start|>user\n<Instruct>: "
            "Given a web search query, retrieve relevant passages that answer the query\n<Query>: ",
            true, true);
        put(query, false, false);
        put("\n<Document>: ", false, false);
        put(document, false, false);
        put("<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n", false, true);
        p.types.assign(p.tokens.size(), 0);
        return p;
    }
    const int32_t end = tok.sep() >= 0 ? tok.sep() : tok.eos();  // segment terminator (-1: none)
    RankPair p;
    p.tokens = tok.encode(query, /*add_special=*/true, /*parse_special=*/false);
    if (end >= 0 && (p.tokens.empty() || p.tokens.back() != end)) p.tokens.push_back(end);
    const size_t n_first = p.tokens.size();
    const std::vector<int32_t> doc = tok.encode(document, /*add_special=*/false, /*parse_special=*/false);
    p.tokens.insert(p.tokens.end(), doc.begin(), doc.end());
    if (end >= 0) p.tokens.push_back(end);
    const TensorRef& tt = model.weights().tok_types;
    const int32_t second = tt && tt.ne[1] >= 2 ? 1 : 0;
    p.types.assign(p.tokens.size(), 0);
    for (size_t i = n_first; i < p.types.size(); ++i) p.types[i] = second;
    return p;
}

}  // namespace hearth
