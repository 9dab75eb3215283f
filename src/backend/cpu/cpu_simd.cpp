// Portable scalar versions of the float-path primitives declared in cpu_simd.h.
#include "backend/cpu/cpu_simd.h"

#include "backend/cpu/cpu_ops.h"

namespace hearth::cpu::scalar {

// 8 independent partial sums so the compiler can keep them in vector lanes.
float dot_f32(const float* a, const float* b, int64_t n) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; ++k) acc[k] += a[i + k] * b[i + k];
    float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; i < n; ++i) s += a[i] * b[i];
    return s;
}

void f16_to_f32(const uint16_t* src, float* dst, int64_t n) {
    const float* tab = fp16_table();
    for (int64_t i = 0; i < n; ++i) dst[i] = tab[src[i]];
}

}  // namespace hearth::cpu::scalar
