// Adapters from the runtime to the scheduler's interfaces: ContextBackend (DecodeBackend over a
// hearth::Context, one KV sequence per slot) and TokenizerText (pieces and end-of-generation).
// Only model_backend.cpp includes runtime/context.h (core/context.h also names a Context).
#pragma once

#include <memory>

#include "runtime/runtime_context.h"
#include "server/scheduler.h"

namespace hearth {
class Model;
class Tokenizer;
namespace runtime {
class Context;
}
}  // namespace hearth

namespace hearth::server {

struct BackendParams {
    int64_t n_ctx = 0;  // per slot; 0 = the model's trained length
    int n_slots = 1;
    int n_batch = 2048;
    int n_ubatch = 512;
    int n_threads = 0;
    ContextParams kv;  // only the KV fields (types, Hadamard flags, flash_attn) are used
};

class ContextBackend : public DecodeBackend {
public:
    ContextBackend(const Model& model, const BackendParams& p);
    ~ContextBackend() override;
    int32_t n_vocab() const override;
    int64_t n_ctx() const override;
    int n_batch() const override;
    void decode(const Batch& batch) override;
    const float* logits(size_t batch_index) const override;
    void kv_remove(int32_t seq, int32_t p0, int32_t p1) override;
    void kv_shift(int32_t seq, int32_t p0, int32_t p1, int32_t delta) override;
    uint64_t kv_bytes_used() const;
    const runtime::Context& context() const { return *ctx_; }

private:
    std::unique_ptr<runtime::Context> ctx_;
    int32_t n_vocab_;
};

class TokenizerText : public TokenText {
public:
    explicit TokenizerText(const Tokenizer& tok) : tok_(tok) {}
    std::string piece(int32_t token) const override;
    bool is_eog(int32_t token) const override;

private:
    const Tokenizer& tok_;
};

}  // namespace hearth::server
