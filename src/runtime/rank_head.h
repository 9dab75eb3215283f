// The reranking head (pooling "rank"): turns the pooled hidden state of a query/document pair (the
// CLS row of a bert cross-encoder, the last row of a causal reranker) into relevance logits, and
// builds the pair's tokens. GGUF tensors (llama.cpp's convention):
//   cls.weight [n_embd, n_hidden] (+ cls.bias [n_hidden])       the pooler dense, followed by tanh
//   cls.output.weight [n_in, n_out] (+ cls.output.bias [n_out]) the classifier (n_out logits)
// Both: logits = out · tanh(cls · h + b) + b_out (BertForSequenceClassification: pooler + classifier).
// cls alone: logits = cls · h + b (a single linear head, no tanh). cls.output alone: out · h + b_out.
// A causal LM without cls tensors (Qwen3-Reranker style) is judged by its own LM head: the score is
// logit("yes") - logit("no") at the last token of a yes/no judgement prompt (the log-odds of "yes").
// Computed on the host in double from dequantized weights: one small matrix-vector product per pair.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hearth {

namespace gguf {
class File;
}
class Model;
class Tokenizer;

class RankHead {
public:
    // True when the file holds cls.weight or cls.output.weight.
    static bool present(const gguf::File& file);
    // Reads and checks the head against n_embd. Throws Error(Unsupported) naming the tensors when the
    // model has none, Error(InvalidFile) for inconsistent shapes or non-vector biases.
    static RankHead load(const gguf::File& file, int64_t n_embd);
    // The model's head: cls tensors when present, else (causal LM with single-token "yes" and "no")
    // the yes/no rows of its LM head. Throws Error(Unsupported) when it has neither.
    static RankHead for_model(const Model& model);
    // Whether for_model() succeeds.
    static bool available(const Model& model);

    bool yes_no() const { return yes_no_; }   // scores a chat-style judgement prompt (tokenize_pair)

    int64_t n_out() const { return n_out_; }  // logits per pair (1 for cross-encoders)
    // hidden: n_embd floats -> n_out logits; logits[0] is the relevance score.
    std::vector<float> apply(const float* hidden) const;

private:
    struct Dense {
        int64_t n_in = 0, n_out = 0;
        std::vector<float> w;  // [n_out][n_in] row-major (ggml [n_in, n_out])
        std::vector<float> b;  // [n_out] or empty
    };
    static Dense read_dense(const gguf::File& file, const std::string& weight, const std::string& bias);
    static std::vector<double> run(const Dense& d, const std::vector<double>& x);

    Dense pooler_;      // cls.* (n_out == 0: absent)
    Dense classifier_;  // cls.output.* (n_out == 0: absent)
    int64_t n_embd_ = 0, n_out_ = 0;
    bool yes_no_ = false;
};

// The tokens and token types of one query/document pair for a cross-encoder:
// [CLS] query [SEP] document [SEP] for WordPiece (types 0 ... 0 1 ... 1); other tokenizers:
// BOS? query EOS/SEP document EOS/SEP. Types are 1 on the document part only when the model has a
// token-type table with at least 2 rows, else all 0. judgement_prompt (yes/no heads): the
// Qwen3-Reranker prompt (system: answer only "yes" or "no"; user: <Instruct>, <Query>, <Document>;
// an empty think block), query and document never parsed for special tokens.
struct RankPair {
    std::vector<int32_t> tokens;
    std::vector<int32_t> types;
};
RankPair tokenize_pair(const Model& model, const std::string& query, const std::string& document, bool judgement_prompt = false);

}  // namespace hearth
