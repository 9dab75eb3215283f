// Runtime CPU feature detection (cpuid + xgetbv on x86-64; nothing elsewhere) and the active ISA
// level the kernels dispatch on. HEARTH_CPU_ISA=scalar|avx2|avx512 forces a LOWER level (never a
// higher one than the CPU has), so tests can run every code path the machine supports.
#pragma once

namespace hearth::cpu {

struct CpuFeatures {
    bool avx2 = false;
    bool fma = false;
    bool f16c = false;
    bool avx512f = false;
    bool avx512bw = false;
    bool avx512vl = false;
    bool avx512dq = false;
    bool avx512vnni = false;
    bool avx512bf16 = false;
};

// What the CPU and OS support (OS must save the YMM/ZMM state). Detected once, cached.
const CpuFeatures& cpu_features();

enum class Isa { Scalar, Avx2, Avx512 };

// Highest level the hardware supports: Avx2 needs AVX2+FMA+F16C; Avx512 additionally needs
// AVX512 F/BW/VL/DQ/VNNI (BF16 is checked separately by kernels that use it).
Isa best_isa();
// best_isa() lowered by HEARTH_CPU_ISA (read on each call so tests can setenv; cheap).
// An unknown value is ignored (with a one-time warning on stderr).
Isa active_isa();
// Process-wide override for tests (still never above best_isa()); clear_isa_override() undoes it.
void set_isa_override(Isa isa);
void clear_isa_override();

const char* isa_name(Isa isa);  // "scalar", "avx2", "avx512"
// "AVX2 FMA F16C AVX512F ..." for logs and `hearth info`.
const char* cpu_features_string();

}  // namespace hearth::cpu
