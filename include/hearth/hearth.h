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

#ifdef __cplusplus
}
#endif
#endif /* HEARTH_HEARTH_H */
