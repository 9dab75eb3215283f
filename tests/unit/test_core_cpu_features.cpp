// Tests of runtime CPU feature detection and the ISA levels derived from it.
#include <gtest/gtest.h>

#include <string>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/cpu_features.h"
#include "core/error.h"

using namespace hearth;

TEST(CoreCpuFeatures, LevelsAreConsistentWithFeatures) {
    const cpu::CpuFeatures& f = cpu::cpu_features();
    const cpu::Isa best = cpu::best_isa();
    if (best >= cpu::Isa::Avx2) {
        EXPECT_TRUE(f.avx2 && f.fma && f.f16c && f.bmi2);
    }
    if (best == cpu::Isa::Avx512) {
        EXPECT_TRUE(f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni);
    }
    if (f.avx512f) {
        EXPECT_TRUE(f.avx2);  // an OS that saves ZMM state saves YMM state too
    }
    EXPECT_LE(static_cast<int>(cpu::active_isa()), static_cast<int>(best));
    EXPECT_STREQ(cpu::isa_name(cpu::Isa::Scalar), "scalar");
    EXPECT_FALSE(std::string(cpu::cpu_features_string()).empty());
}

TEST(CoreCpuFeatures, BackendAcceptsEveryAvailableLevelOnly) {
    for (int i = 0; i <= static_cast<int>(cpu::best_isa()); ++i) {
        cpu::CpuBackend b(1, "CPU", static_cast<cpu::Isa>(i));
        EXPECT_EQ(b.isa(), static_cast<cpu::Isa>(i));
    }
    if (cpu::best_isa() != cpu::Isa::Avx512) {
        try {
            cpu::CpuBackend b(1, "CPU", cpu::Isa::Avx512);
            FAIL() << "expected Unsupported";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::Unsupported);
        }
    }
}
