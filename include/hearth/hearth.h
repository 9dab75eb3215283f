/* hearth public C API: a stable C ABI over the engine so Python and other languages can bind it.
 * Every function returns a hearth_status; on failure hearth_last_error() gives the message of the
 * calling thread's last error. Objects are opaque handles created and freed by the library. */
#ifndef HEARTH_HEARTH_H
#define HEARTH_HEARTH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define HEARTH_API __attribute__((visibility("default")))
#else
#define HEARTH_API
#endif

typedef enum hearth_status {
    HEARTH_OK = 0,
    HEARTH_ERR_INVALID_FILE = 1,
    HEARTH_ERR_INVALID_ARGUMENT = 2,
    HEARTH_ERR_UNSUPPORTED = 3,
    HEARTH_ERR_OUT_OF_MEMORY = 4,
    HEARTH_ERR_IO = 5,
    HEARTH_ERR_CANCELLED = 6,
    HEARTH_ERR_INTERNAL = 7,
} hearth_status;

/* Version string, e.g. "0.1.0". */
HEARTH_API const char* hearth_version(void);

/* Message of the calling thread's last failed call ("" if none). Valid until the next call. */
HEARTH_API const char* hearth_last_error(void);

/* ---- GGUF inspection ---------------------------------------------------------------------- */
typedef struct hearth_gguf hearth_gguf;

HEARTH_API hearth_status hearth_gguf_open(const char* path, hearth_gguf** out);
HEARTH_API void hearth_gguf_close(hearth_gguf* file);
HEARTH_API int64_t hearth_gguf_tensor_count(const hearth_gguf* file);
HEARTH_API int64_t hearth_gguf_kv_count(const hearth_gguf* file);
/* The architecture string (general.architecture), or "" if absent. */
HEARTH_API const char* hearth_gguf_architecture(const hearth_gguf* file);

/* Like hearth_gguf_open with options: use_mmap = 0 reads the file into memory; mlock != 0 locks
 * its pages (if the OS refuses, the file still opens and hearth_gguf_mlock_warning() says why). */
HEARTH_API hearth_status hearth_gguf_open_ex(const char* path, int use_mmap, int mlock, hearth_gguf** out);
/* "" unless mlock was asked for and refused (e.g. by `ulimit -l`); names the limit and the fix. */
HEARTH_API const char* hearth_gguf_mlock_warning(const hearth_gguf* file);
/* GGUF version (2 or 3), or 0 for NULL. */
HEARTH_API uint32_t hearth_gguf_version(const hearth_gguf* file);
/* Key of metadata entry `index` (0 .. kv_count-1), or NULL when out of range. */
HEARTH_API const char* hearth_gguf_kv_key(const hearth_gguf* file, int64_t index);
/* Typed metadata lookups. An absent key gives HEARTH_ERR_INVALID_ARGUMENT ("key not found"); a
 * present key of another type gives HEARTH_ERR_INVALID_FILE. Strings stay valid until close. */
HEARTH_API hearth_status hearth_gguf_get_string(const hearth_gguf* file, const char* key, const char** out);
HEARTH_API hearth_status hearth_gguf_get_int(const hearth_gguf* file, const char* key, int64_t* out);
HEARTH_API hearth_status hearth_gguf_get_float(const hearth_gguf* file, const char* key, double* out);

/* One tensor: ne[0] is the contiguous dimension; ne[i] = 1 for i >= n_dims. `data` points at the
 * tensor's bytes inside the mapping (valid until close); `type` is the GGUF/ggml type id. */
typedef struct hearth_gguf_tensor {
    const char* name;
    uint32_t type;
    const char* type_name;
    uint32_t n_dims;
    int64_t ne[4];
    uint64_t offset; /* relative to the data section */
    uint64_t nbytes;
    const void* data;
} hearth_gguf_tensor;

HEARTH_API hearth_status hearth_gguf_tensor_info(const hearth_gguf* file, int64_t index, hearth_gguf_tensor* out);
/* Index of the tensor called `name`, or -1. */
HEARTH_API int64_t hearth_gguf_find_tensor(const hearth_gguf* file, const char* name);

/* ---- quantization reference (scalar) ------------------------------------------------------
 * type: a GGUF/ggml type id (0 = F32, 1 = F16, 2 = Q4_0, 8 = Q8_0, 12 = Q4_K, 30 = BF16, ...).
 * n: elements, a multiple of the type's block size; the quantized buffer must be exactly
 * n / block_elems * block_bytes bytes. */

/* dst[0..n) = the values encoded in src (bit-identical to llama.cpp's dequantizers). */
HEARTH_API hearth_status hearth_dequantize(uint32_t type, const void* src, size_t src_bytes, int64_t n,
                                           float* dst);
/* Encodes src[0..n) into dst. importance: optional per-element error weights (NULL: plain MSE).
 * Fails with HEARTH_ERR_INVALID_ARGUMENT on non-finite input for block types. */
HEARTH_API hearth_status hearth_quantize(uint32_t type, const float* src, int64_t n, const float* importance,
                                         void* dst, size_t dst_bytes);

/* ---- models and inference -----------------------------------------------------------------
 * A model is loaded once and may serve several contexts; it must outlive them. A context owns a
 * paged KV cache for up to n_seq_max sequences and is used by one thread at a time. */
typedef struct hearth_model hearth_model;
typedef struct hearth_context hearth_context;

typedef struct hearth_context_params {
    int64_t n_ctx;     /* KV cells for all sequences together; 0 = the model's trained length */
    int32_t n_batch;   /* most tokens one hearth_decode() accepts */
    int32_t n_ubatch;  /* tokens per graph evaluation */
    int32_t n_threads; /* 0 = all cores */
    int32_t n_seq_max; /* sequences sharing the cache */
} hearth_context_params;

/* Fills p with the defaults (n_ctx 0, n_batch 2048, n_ubatch 512, n_threads 0, n_seq_max 1). */
HEARTH_API void hearth_context_default_params(hearth_context_params* p);

HEARTH_API hearth_status hearth_model_load(const char* path, int use_mmap, hearth_model** out);
HEARTH_API void hearth_model_free(hearth_model* model);
HEARTH_API int64_t hearth_model_n_vocab(const hearth_model* model);

/* Tokenizes text[0..len) (add_special: BOS/EOS as the model says; parse_special: special-token
 * text becomes its token). Writes up to cap ids to out and the full count to *n_out; fails with
 * HEARTH_ERR_INVALID_ARGUMENT when cap is too small (then *n_out says how many are needed). */
HEARTH_API hearth_status hearth_tokenize(const hearth_model* model, const char* text, size_t len, int add_special,
                                         int parse_special, int32_t* out, size_t cap, size_t* n_out);

HEARTH_API hearth_status hearth_context_new(const hearth_model* model, const hearth_context_params* params,
                                            hearth_context** out);
HEARTH_API void hearth_context_free(hearth_context* ctx);

/* Runs n tokens: tokens[i] at position pos[i] of sequence seq[i] (seq may be NULL: all 0);
 * want_logits[i] != 0 keeps its logits (NULL: only the last token's). */
HEARTH_API hearth_status hearth_decode(hearth_context* ctx, const int32_t* tokens, const int32_t* pos,
                                       const int32_t* seq, const uint8_t* want_logits, size_t n);
/* n_vocab logits of token i of the last hearth_decode() (it must have asked for them); valid until
 * the next decode. */
HEARTH_API hearth_status hearth_get_logits(hearth_context* ctx, size_t i, const float** out);
/* Removes positions [p0, p1) of sequence seq from the cache (p1 < 0: to the end; seq < 0: all). */
HEARTH_API hearth_status hearth_kv_remove(hearth_context* ctx, int32_t seq, int32_t p0, int32_t p1);

#ifdef __cplusplus
}
#endif
#endif /* HEARTH_HEARTH_H */
