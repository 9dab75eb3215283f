// Runtime CPU feature detection (cpuid + xgetbv on x86-64; nothing elsewhere) and the active ISA
// level the kernels dispatch on. HEARTH_CPU_ISA=scalar|avx2|avx512 forces a LOWER level (never a
// higher one than the CPU has), so tests can run every code path the machine supports.
#pragma once

namespace hearth::cpu {

struct CpuFeatures {
    bool avx2 = false;
    bool fma = false;
    bool bmi2 = false;
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

// Highest level the hardware supports: Avx2 needs AVX2+FMA+F16C+BMI2; Avx512 additionally needs
// AVX512 F/BW/VL/DQ/VNNI/BF16. Always Scalar in builds without the x86 kernels (HEARTH_X86 unset).
Isa best_isa();
// best_isa() lowered (never raised) by env HEARTH_CPU_ISA=scalar|avx2|avx512; computed once.
// Implemented by the kernel module (backend/cpu/matmul.cpp). To exercise several levels in one
// process, pass an explicit Isa (CpuBackend's constructor, matmul_quantized_isa).
Isa active_isa();
const char* isa_name(Isa isa);  // "scalar", "avx2", "avx512"
// "AVX2 FMA F16C BMI2 AVX512F ..." for logs and `hearth info`.
const char* cpu_features_string();

}  // namespace hearth::cpu
