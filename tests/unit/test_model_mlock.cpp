// --mlock keeps what the kernels read in RAM: the repacked weight copies the CPU matmul streams are
// locked too (not only the file mapping they were copied from), the originals they replace are
// unlocked and dropped, and a refusal by the OS is a warning that says what to do.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "backend/cpu/repack.h"
#include "model/model.h"
#include "model/synthetic.h"
#include "test_mlock_util.h"

namespace hearth {
namespace {

// A small Q8_0 qwen3 (llama-spm vocab, 32000 x 128 tied embedding: about 4.5 MB, under the usual
// 8 MiB RLIMIT_MEMLOCK), written once per test process.
const std::string& small_model() {
    static const std::string path = [] {
        SyntheticSpec s;
        s.vocab_path = std::string(HEARTH_SHARED_DIR) + "/vocab/ggml-vocab-llama-spm.gguf";
        s.n_layer = 2;
        s.n_embd = 128;
        s.n_head = 4;
        s.n_head_kv = 2;
        s.head_dim = 32;
        s.n_ff = 256;
        s.type = DType::Q8_0;
        const std::string p = (std::filesystem::temp_directory_path() /
                               ("hearth-mlock-" + std::to_string(::getpid()) + ".gguf")).string();
        write_synthetic_model(s, p);
        return p;
    }();
    return path;
}

struct RemoveModelAtExit : ::testing::Environment {
    void TearDown() override {
        std::error_code ec;
        if (!small_model().empty()) std::filesystem::remove(small_model(), ec);
    }
};

// VmLck of this process in bytes (/proc/self/status), or -1.
long long locked_now() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmLck:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
    return -1;
}

// The repacked copies of the model's matmul weights: how many, how many locked, their bytes.
struct Copies {
    int n = 0, locked = 0;
    size_t bytes = 0;
};
Copies repacked_copies(const Model& m) {
    Copies c;
    const ModelWeights& w = m.weights();
    auto visit = [&](const TensorRef& r) {
        if (const cpu::RepackedMatrix* p = r ? cpu::find_repacked(r.data) : nullptr) {
            ++c.n;
            c.locked += p->locked ? 1 : 0;
            c.bytes += p->bytes;
        }
    };
    visit(w.output);
    for (const LayerWeights& l : w.layers)
        for (const TensorRef* r : {&l.wq, &l.wk, &l.wv, &l.wo, &l.ffn_gate, &l.ffn_up, &l.ffn_down}) visit(*r);
    return c;
}

TEST(ModelMlock, RepackedCopiesAreLockedAndOriginalsReleased) {
    const std::string& kModel = small_model();
    const long long before = locked_now();
    auto m = Model::load(kModel, {.use_mmap = true, .mlock = true});
    if (!m->file().is_mlocked()) GTEST_SKIP() << "this process may not lock memory: " << m->mlock_warning();
    const long long locked = locked_now() - before;
    if (locked <= 0) GTEST_SKIP() << "mlock succeeded without locking (a sanitizer build intercepts it)";
    const Copies c = repacked_copies(*m);
    if (c.n == 0) GTEST_SKIP() << "no repacked weights on this CPU / with HEARTH_NO_REPACK";
    EXPECT_TRUE(m->mlock_warning().empty()) << m->mlock_warning();
    EXPECT_EQ(c.locked, c.n) << "every repacked copy the kernels read must be locked";
    // The locked set is the copies plus what the file still maps: the originals the copies replace
    // are unlocked and dropped (all but the tied embedding's, which get_rows reads), so it is less
    // than file + copies, and it is what locked_bytes() accounts (to a page per matrix boundary).
    EXPECT_GE(locked, static_cast<long long>(c.bytes));
    EXPECT_LT(static_cast<size_t>(locked), std::filesystem::file_size(kModel) + c.bytes);
    EXPECT_NEAR(static_cast<double>(locked), static_cast<double>(m->locked_bytes()), 4.0 * sysconf(_SC_PAGESIZE) * (c.n + 2));
    m.reset();
    EXPECT_LE(locked_now() - before, 64 * 1024) << "unloading unlocks everything";
}

using testutil::drop_ipc_lock_capability;

TEST(ModelMlock, RefusedLockOfTheCopiesWarnsAndLoads) {
    // In a child process the limit lets the file mapping lock but not the copies on top of it (the
    // tied embedding keeps its original rows locked beside its copy): loading goes on and the
    // warning names the repacked weights and the fix.
    const std::string& kModel = small_model();
    const int code = testutil::exit_code_in_child([&] {
        struct rlimit lim {};
        getrlimit(RLIMIT_MEMLOCK, &lim);
        const long page = sysconf(_SC_PAGESIZE);
        lim.rlim_cur = (std::filesystem::file_size(kModel) + 2 * page - 1) / page * page;
        if (lim.rlim_max != RLIM_INFINITY && lim.rlim_cur > lim.rlim_max) return 3;
        if (setrlimit(RLIMIT_MEMLOCK, &lim) != 0 || !drop_ipc_lock_capability()) return 3;
        auto m = Model::load(kModel, {.use_mmap = true, .mlock = true});
        if (!m->file().is_mlocked()) return 5;
        if (locked_now() <= 0) return 4;  // a sanitizer build intercepts mlock
        const Copies c = repacked_copies(*m);
        if (c.n == 0) return 6;
        const std::string w = m->mlock_warning();
        if (c.locked == c.n) return w.empty() ? 7 : 1;  // everything fit: no warning is due
        return w.find("repacked") != std::string::npos && w.find("ulimit -l") != std::string::npos ? 0 : 1;
    });
    switch (code) {
        case 3: GTEST_SKIP() << "could not drop CAP_IPC_LOCK / set RLIMIT_MEMLOCK";
        case 4: GTEST_SKIP() << "mlock succeeded without locking (sanitizer build)";
        case 5: GTEST_SKIP() << "the file mapping itself could not be locked under the limit";
        case 6: GTEST_SKIP() << "no repacked weights on this CPU / with HEARTH_NO_REPACK";
        case 7: GTEST_SKIP() << "every copy fit under the limit";
        default: EXPECT_EQ(code, 0) << "1: wrong warning or lock state, 2: load threw, -1: the child crashed";
    }
}

const auto* const kCleanup = ::testing::AddGlobalTestEnvironment(new RemoveModelAtExit);

}  // namespace
}  // namespace hearth
