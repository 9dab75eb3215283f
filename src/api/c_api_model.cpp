// The C ABI's model and inference calls (include/hearth/hearth.h): load a model, tokenize, make a
// context, decode batches and read logits. Thin wrappers; errors become status codes.
#include <cstring>
#include <memory>
#include <string>

#include "api/c_api_internal.h"
#include "core/error.h"
#include "hearth/hearth.h"
#include "model/model.h"
#include "runtime/runtime_context.h"
#include "tokenizer/tokenizer.h"

struct hearth_model {
    std::unique_ptr<hearth::Model> model;
};

struct hearth_context {
    std::unique_ptr<hearth::runtime::Context> ctx;
    size_t last_batch = 0;  // tokens in the last decode
};

namespace {


hearth_status null_argument(const char* fn) {
    hearth::capi::set_last_error(std::string(fn) + ": a required pointer argument is NULL");
    return HEARTH_ERR_INVALID_ARGUMENT;
}

}  // namespace

extern "C" {

void hearth_context_default_params(hearth_context_params* p) {
    if (!p) return;
    const hearth::ContextParams d;
    p->n_ctx = d.n_ctx;
    p->n_batch = d.n_batch;
    p->n_ubatch = d.n_ubatch;
    p->n_threads = d.n_threads;
    p->n_seq_max = d.n_seq_max;
}

hearth_status hearth_model_load(const char* path, int use_mmap, hearth_model** out) {
    if (!path || !out) return null_argument("hearth_model_load");
    *out = nullptr;
    return hearth::capi::run_guarded([&] {
        hearth::ModelParams mp;
        mp.use_mmap = use_mmap != 0;
        auto m = std::make_unique<hearth_model>();
        m->model = hearth::Model::load(path, mp);
        *out = m.release();
    });
}

void hearth_model_free(hearth_model* model) { delete model; }

int64_t hearth_model_n_vocab(const hearth_model* model) { return model ? model->model->n_vocab() : 0; }

hearth_status hearth_tokenize(const hearth_model* model, const char* text, size_t len, int add_special,
                              int parse_special, int32_t* out, size_t cap, size_t* n_out) {
    if (!model || (!text && len > 0) || !n_out || (!out && cap > 0)) return null_argument("hearth_tokenize");
    return hearth::capi::run_guarded([&] {
        const auto ids = model->model->tokenizer().encode(std::string_view(text ? text : "", len), add_special != 0,
                                                          parse_special != 0);
        *n_out = ids.size();
        if (ids.size() > cap)
            throw hearth::Error(hearth::ErrorKind::InvalidArgument, "hearth_tokenize: " + std::to_string(ids.size()) +
                                                                        " tokens do not fit in an array of " + std::to_string(cap));
        if (!ids.empty()) std::memcpy(out, ids.data(), ids.size() * sizeof(int32_t));
    });
}

hearth_status hearth_context_new(const hearth_model* model, const hearth_context_params* params, hearth_context** out) {
    if (!model || !out) return null_argument("hearth_context_new");
    *out = nullptr;
    return hearth::capi::run_guarded([&] {
        hearth::ContextParams cp;
        if (params) {
            cp.n_ctx = params->n_ctx;
            cp.n_batch = params->n_batch;
            cp.n_ubatch = params->n_ubatch;
            cp.n_threads = params->n_threads;
            cp.n_seq_max = params->n_seq_max;
        }
        auto c = std::make_unique<hearth_context>();
        c->ctx = std::make_unique<hearth::runtime::Context>(*model->model, cp);
        *out = c.release();
    });
}

void hearth_context_free(hearth_context* ctx) { delete ctx; }

hearth_status hearth_decode(hearth_context* ctx, const int32_t* tokens, const int32_t* pos, const int32_t* seq,
                            const uint8_t* want_logits, size_t n) {
    if (!ctx || ((!tokens || !pos) && n > 0)) return null_argument("hearth_decode");
    return hearth::capi::run_guarded([&] {
        hearth::Batch b;
        for (size_t i = 0; i < n; ++i)
            b.add(tokens[i], pos[i], seq ? seq[i] : 0, want_logits ? want_logits[i] != 0 : i + 1 == n);
        ctx->last_batch = 0;
        ctx->ctx->decode(b);
        ctx->last_batch = n;
    });
}

hearth_status hearth_get_logits(hearth_context* ctx, size_t i, const float** out) {
    if (!ctx || !out) return null_argument("hearth_get_logits");
    *out = nullptr;
    return hearth::capi::run_guarded([&] {
        if (i >= ctx->last_batch)
            throw hearth::Error(hearth::ErrorKind::InvalidArgument, "hearth_get_logits: token " + std::to_string(i) +
                                                                        " is not in the last decoded batch of " +
                                                                        std::to_string(ctx->last_batch));
        *out = ctx->ctx->logits(i);
    });
}

hearth_status hearth_kv_remove(hearth_context* ctx, int32_t seq, int32_t p0, int32_t p1) {
    if (!ctx) return null_argument("hearth_kv_remove");
    return hearth::capi::run_guarded([&] { ctx->ctx->kv_remove(seq, p0, p1); });
}

}  // extern "C"
