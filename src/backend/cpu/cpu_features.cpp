// CPU feature detection via cpuid/xgetbv (x86-64 only; other targets report no features) and the
// printable feature list. active_isa() (HEARTH_CPU_ISA) lives in the kernel module, matmul.cpp.
#include "backend/cpu/cpu_features.h"

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace hearth::cpu {
namespace {

#if defined(__x86_64__)
uint64_t read_xcr0() {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (static_cast<uint64_t>(hi) << 32) | lo;
}
#endif

CpuFeatures detect() {
    CpuFeatures f;
#if defined(__x86_64__)
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
    const bool osxsave = (c >> 27) & 1;
    const bool avx = (c >> 28) & 1;
    const bool fma = (c >> 12) & 1;
    const bool f16c = (c >> 29) & 1;
    if (!osxsave || !avx) return f;
    const uint64_t xcr0 = read_xcr0();
    const bool ymm_ok = (xcr0 & 0x6) == 0x6;           // SSE + AVX state
    const bool zmm_ok = ymm_ok && (xcr0 & 0xE0) == 0xE0;  // opmask + ZMM hi256 + hi16 ZMM
    if (!ymm_ok) return f;
    unsigned max_leaf = __get_cpuid_max(0, nullptr);
    if (max_leaf < 7) return f;
    __cpuid_count(7, 0, a, b, c, d);
    f.avx2 = (b >> 5) & 1;
    f.bmi2 = (b >> 8) & 1;
    f.fma = fma;
    f.f16c = f16c;
    if (zmm_ok) {
        f.avx512f = (b >> 16) & 1;
        f.avx512dq = (b >> 17) & 1;
        f.avx512bw = (b >> 30) & 1;
        f.avx512vl = (b >> 31) & 1;
        f.avx512vnni = (c >> 11) & 1;
        unsigned a1 = 0, b1 = 0, c1 = 0, d1 = 0;
        __cpuid_count(7, 1, a1, b1, c1, d1);
        f.avx512bf16 = (a1 >> 5) & 1;
    }
#endif
    return f;
}

}  // namespace

const CpuFeatures& cpu_features() {
    static const CpuFeatures f = detect();
    return f;
}

Isa best_isa() {
#if defined(HEARTH_X86)
    const CpuFeatures& f = cpu_features();
    if (!(f.avx2 && f.fma && f.f16c && f.bmi2)) return Isa::Scalar;
    if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512vnni && f.avx512bf16) return Isa::Avx512;
    return Isa::Avx2;
#else
    return Isa::Scalar;  // no ISA-specific kernels compiled (non-x86 target or HEARTH_NATIVE_ONLY_SCALAR)
#endif
}

const char* cpu_features_string() {
    static const std::string s = [] {
        const CpuFeatures& f = cpu_features();
        std::string r;
        auto add = [&](bool on, const char* n) {
            if (!on) return;
            if (!r.empty()) r += ' ';
            r += n;
        };
        add(f.avx2, "AVX2");
        add(f.fma, "FMA");
        add(f.f16c, "F16C");
        add(f.bmi2, "BMI2");
        add(f.avx512f, "AVX512F");
        add(f.avx512bw, "AVX512BW");
        add(f.avx512vl, "AVX512VL");
        add(f.avx512dq, "AVX512DQ");
        add(f.avx512vnni, "AVX512VNNI");
        add(f.avx512bf16, "AVX512BF16");
        if (r.empty()) r = "(baseline)";
        return r;
    }();
    return s.c_str();
}

}  // namespace hearth::cpu
