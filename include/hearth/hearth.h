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

#ifdef __cplusplus
}
#endif
#endif /* HEARTH_HEARTH_H */
