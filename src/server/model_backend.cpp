// ContextBackend / TokenizerText: the runtime and tokenizer behind the scheduler's interfaces. The
// context's KV pool (n_ctx cells) is split evenly between slots so one slot can never starve
// another: each slot sees n_ctx / n_slots positions, as llama-server does.
#include "server/model_backend.h"

#include "core/error.h"
#include "model/model.h"
#include "runtime/context.h"
#include "tokenizer/tokenizer.h"

namespace hearth::server {

ContextBackend::ContextBackend(const Model& model, const BackendParams& p) {
    ContextParams cp;
    cp.n_ctx = p.n_ctx;
    cp.n_batch = p.n_batch;
    cp.n_ubatch = p.n_ubatch;
    cp.n_threads = p.n_threads;
    cp.n_seq_max = p.n_slots;
    cp.kv_type_k = p.kv.kv_type_k;
    cp.kv_type_v = p.kv.kv_type_v;
    cp.kv_hadamard_k = p.kv.kv_hadamard_k;
    cp.kv_hadamard_v = p.kv.kv_hadamard_v;
    cp.flash_attn = p.kv.flash_attn;
    ctx_ = std::make_unique<runtime::Context>(model, cp);
    n_vocab_ = int32_t(model.n_vocab());
    if (n_ctx() < 2)
        throw Error(ErrorKind::InvalidArgument, "context of " + std::to_string(ctx_->n_ctx()) + " tokens split over " +
                                                    std::to_string(p.n_slots) + " slots leaves fewer than 2 per slot");
}

ContextBackend::~ContextBackend() = default;

int32_t ContextBackend::n_vocab() const { return n_vocab_; }
int64_t ContextBackend::n_ctx() const { return ctx_->n_ctx() / ctx_->params().n_seq_max; }
int ContextBackend::n_batch() const { return ctx_->params().n_batch; }
void ContextBackend::decode(const Batch& batch) { ctx_->decode(batch); }
const float* ContextBackend::logits(size_t i) const { return ctx_->logits(i); }
void ContextBackend::kv_remove(int32_t seq, int32_t p0, int32_t p1) { ctx_->kv_remove(seq, p0, p1); }
void ContextBackend::kv_shift(int32_t seq, int32_t p0, int32_t p1, int32_t delta) { ctx_->kv_shift(seq, p0, p1, delta); }
uint64_t ContextBackend::kv_bytes_used() const { return ctx_->memory().kv_used; }

std::string TokenizerText::piece(int32_t token) const { return tok_.token_to_piece(token, false); }
bool TokenizerText::is_eog(int32_t token) const { return tok_.is_eog(token); }

}  // namespace hearth::server
