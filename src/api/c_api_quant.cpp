// C ABI of the scalar reference quantizers (hearth_dequantize / hearth_quantize in hearth.h):
// every argument is validated (null pointers, type id, block multiple, buffer sizes) before the
// call, so Python tests and bindings get a status code instead of a crash.
#include <new>
#include <string>

#include "api/c_api_internal.h"
#include "core/error.h"
#include "hearth/hearth.h"
#include "quant/dtype.h"
#include "quant/quant.h"

namespace {

hearth_status fail(hearth_status status, const std::string& message) {
    hearth::capi::set_last_error(message);
    return status;
}

// Checks type, n and the byte size of the quantized buffer; returns OK or the failure status.
hearth_status check_args(const char* fn, uint32_t type, int64_t n, size_t bytes, bool quantize,
                         hearth::DType* out_type) {
    const hearth::DTypeTraits* t = hearth::dtype_traits_by_id(type);
    if (!t) return fail(HEARTH_ERR_INVALID_ARGUMENT, std::string(fn) + ": unknown type id " + std::to_string(type));
    if (quantize ? !t->can_quantize : !t->can_dequantize)
        return fail(HEARTH_ERR_UNSUPPORTED, std::string(fn) + ": type " + t->name + " is not supported");
    if (n < 0 || n % t->block_elems != 0)
        return fail(HEARTH_ERR_INVALID_ARGUMENT, std::string(fn) + ": n = " + std::to_string(n) +
                                                     " is not a non-negative multiple of the " + t->name +
                                                     " block size " + std::to_string(t->block_elems));
    if (n / t->block_elems > static_cast<int64_t>(SIZE_MAX / t->block_bytes))
        return fail(HEARTH_ERR_INVALID_ARGUMENT, std::string(fn) + ": n is too large");
    const size_t need = hearth::dtype_row_bytes(t->type, n);
    if (bytes != need)
        return fail(HEARTH_ERR_INVALID_ARGUMENT, std::string(fn) + ": " + std::to_string(n) + " " + t->name +
                                                     " elements take " + std::to_string(need) + " bytes, buffer has " +
                                                     std::to_string(bytes));
    *out_type = t->type;
    return HEARTH_OK;
}

template <typename Fn>
hearth_status guarded_quant(Fn&& fn) {
    try {
        fn();
        return HEARTH_OK;
    } catch (const hearth::Error& e) {
        hearth::capi::set_last_error(e.what());
        return e.kind() == hearth::ErrorKind::Unsupported ? HEARTH_ERR_UNSUPPORTED : HEARTH_ERR_INVALID_ARGUMENT;
    } catch (const std::bad_alloc&) {
        hearth::capi::set_last_error("out of memory");
        return HEARTH_ERR_OUT_OF_MEMORY;
    } catch (const std::exception& e) {
        hearth::capi::set_last_error(e.what());
        return HEARTH_ERR_INTERNAL;
    }
}

}  // namespace

extern "C" {

hearth_status hearth_dequantize(uint32_t type, const void* src, size_t src_bytes, int64_t n, float* dst) {
    hearth::DType t;
    if (hearth_status s = check_args("hearth_dequantize", type, n, src_bytes, false, &t); s != HEARTH_OK) return s;
    if (n > 0 && (!src || !dst)) return fail(HEARTH_ERR_INVALID_ARGUMENT, "hearth_dequantize: src and dst must not be NULL");
    return guarded_quant([&] { hearth::quant::dequantize_row(t, src, dst, n); });
}

hearth_status hearth_quantize(uint32_t type, const float* src, int64_t n, const float* importance, void* dst,
                              size_t dst_bytes) {
    hearth::DType t;
    if (hearth_status s = check_args("hearth_quantize", type, n, dst_bytes, true, &t); s != HEARTH_OK) return s;
    if (n > 0 && (!src || !dst)) return fail(HEARTH_ERR_INVALID_ARGUMENT, "hearth_quantize: src and dst must not be NULL");
    return guarded_quant([&] { hearth::quant::quantize_row(t, src, dst, n, importance); });
}

}  // extern "C"
