// libFuzzer target for the scalar reference quantizers: byte 0 picks a type id, the rest is both a
// quantized row (decoded by dequantize_row) and, read as floats, a row to encode with quantize_row
// (|x| as importance when byte 0 has its top bit set) and decode again. Any input must work or
// throw hearth::Error; never crash or touch memory out of bounds (ASan+UBSan via `make fuzz`).
// Run: build-fuzz/bin/fuzz_quant -max_total_time=300
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "quant/dtype.h"
#include "quant/quant.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    const hearth::DTypeTraits* t = hearth::dtype_traits_by_id(data[0] % 40);
    if (!t) return 0;
    const uint8_t* body = data + 1;
    const size_t len = size - 1;
    // Decode as many whole blocks as the bytes hold.
    const int64_t blocks = static_cast<int64_t>(len / t->block_bytes);
    const int64_t n = blocks * t->block_elems;
    std::vector<float> out(static_cast<size_t>(n));
    try {
        hearth::quant::dequantize_row(t->type, body, out.data(), n);
    } catch (const hearth::Error&) {
    }
    // Encode the bytes read as floats (rounded down to whole blocks), then decode the result.
    std::vector<float> x(len / 4);
    if (!x.empty()) std::memcpy(x.data(), body, x.size() * 4);
    const int64_t m = static_cast<int64_t>(x.size()) / t->block_elems * t->block_elems;
    std::vector<uint8_t> q(static_cast<size_t>(m / t->block_elems) * t->block_bytes + 1);
    try {
        // With the top bit of byte 0 set, use |x| as importance weights (exercises the weighted searches).
        std::vector<float> imp;
        if (data[0] & 0x80) {
            imp.resize(x.size());
            for (size_t i = 0; i < x.size(); ++i) imp[i] = std::fabs(x[i]);
        }
        hearth::quant::quantize_row(t->type, x.data(), q.data(), m, imp.empty() ? nullptr : imp.data());
        std::vector<float> y(static_cast<size_t>(m));
        hearth::quant::dequantize_row(t->type, q.data(), y.data(), m);
    } catch (const hearth::Error&) {
    }
    return 0;
}
