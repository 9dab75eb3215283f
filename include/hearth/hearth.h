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

#ifdef __cplusplus
}
#endif
#endif /* HEARTH_HEARTH_H */
