// Portability: HEARTH_CPU_ISA lowers (never raises) the ISA level the CPU kernels dispatch on.
// active_isa() is computed once per process, so each case runs in a fresh re-executed child
// (GoogleTest's "threadsafe" death-test style) with the variable set in its environment.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/cpu_features.h"
#include "core/error.h"

using namespace hearth;

namespace {

// Restores (or removes) HEARTH_CPU_ISA when a test ends.
class IsaEnvGuard {
public:
    IsaEnvGuard() {
        const char* v = std::getenv("HEARTH_CPU_ISA");
        had_ = v != nullptr;
        if (had_) old_ = v;
    }
    ~IsaEnvGuard() {
        if (had_) setenv("HEARTH_CPU_ISA", old_.c_str(), 1);
        else unsetenv("HEARTH_CPU_ISA");
    }

private:
    bool had_ = false;
    std::string old_;
};

// Exit code of the child: 0 when both active_isa() and a default CpuBackend use `want`.
[[noreturn]] void child_expect(cpu::Isa want) {
    const bool ok = cpu::active_isa() == want && cpu::CpuBackend(1).isa() == want;
    std::exit(ok ? 0 : 3);
}

void skip_if_emulated() {
#if defined(HEARTH_TEST_EMULATED)
    // Under qemu-user the re-executed child is an aarch64 binary the host kernel cannot start.
    GTEST_SKIP() << "child processes cannot be re-executed under qemu-user";
#endif
}

}  // namespace

TEST(PortIsaEnv, EachLevelIsLoweredToWhatTheCpuHas) {
    skip_if_emulated();
    if (IsSkipped()) return;
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    IsaEnvGuard guard;
    const cpu::Isa best = cpu::best_isa();
    for (cpu::Isa level : {cpu::Isa::Scalar, cpu::Isa::Avx2, cpu::Isa::Avx512}) {
        setenv("HEARTH_CPU_ISA", cpu::isa_name(level), 1);
        const cpu::Isa want = static_cast<int>(level) < static_cast<int>(best) ? level : best;
        SCOPED_TRACE(std::string("HEARTH_CPU_ISA=") + cpu::isa_name(level) + ", expecting " + cpu::isa_name(want));
        EXPECT_EXIT(child_expect(want), ::testing::ExitedWithCode(0), "");
    }
}

TEST(PortIsaEnv, UnsetOrUnknownValueKeepsTheBestLevel) {
    skip_if_emulated();
    if (IsSkipped()) return;
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    IsaEnvGuard guard;
    unsetenv("HEARTH_CPU_ISA");
    EXPECT_EXIT(child_expect(cpu::best_isa()), ::testing::ExitedWithCode(0), "");
    setenv("HEARTH_CPU_ISA", "neon9000", 1);
    EXPECT_EXIT(child_expect(cpu::best_isa()), ::testing::ExitedWithCode(0), "unknown HEARTH_CPU_ISA=neon9000");
}

TEST(PortIsaEnv, NoLevelAboveTheHardwareIsAccepted) {
    // In-process: the backend refuses a level the CPU lacks instead of running illegal instructions.
    for (int i = static_cast<int>(cpu::best_isa()) + 1; i <= static_cast<int>(cpu::Isa::Avx512); ++i)
        EXPECT_THROW(cpu::CpuBackend(1, "CPU", static_cast<cpu::Isa>(i)), Error);
#if !defined(HEARTH_X86)
    EXPECT_EQ(cpu::best_isa(), cpu::Isa::Scalar);  // non-x86 builds compile only the scalar kernels
#endif
}
