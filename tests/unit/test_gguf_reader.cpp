// Positive tests of the GGUF reader: every file in ../shared/models and ../shared/vocab (and the
// default Gemma model when present) parses with mmap and with a plain read, with consistent
// metadata and tensor bounds; mlock reports an actionable warning when the OS refuses.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "gguf/gguf.h"
#include "test_mlock_util.h"

namespace hearth::gguf {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> gguf_files_in(const std::string& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec))
        if (e.path().extension() == ".gguf") out.push_back(e.path().string());
    std::sort(out.begin(), out.end());
    return out;
}

void check_consistent(const File& f) {
    EXPECT_TRUE(f.version() == 2 || f.version() == 3);
    if (!f.tensors().empty()) {
        EXPECT_EQ(f.data_offset() % f.alignment(), 0u);
    }
    EXPECT_LE(f.data_offset(), f.file_size());
    for (const auto& t : f.tensors()) {
        EXPECT_GE(t.n_dims, 1u);
        EXPECT_LE(t.n_dims, 4u);
        EXPECT_EQ(t.offset % f.alignment(), 0u) << t.name;
        EXPECT_LE(f.data_offset() + t.offset + t.nbytes, f.file_size()) << t.name;
        EXPECT_EQ(t.nbytes, dtype_row_bytes(t.type, t.ne[0]) * static_cast<uint64_t>(t.n_elements() / t.ne[0]));
        EXPECT_EQ(f.find_tensor(t.name), &t);
        EXPECT_EQ(f.tensor_data(t), f.base() + f.data_offset() + t.offset);
    }
    for (const auto& kv : f.kvs()) EXPECT_EQ(f.find(kv.key), &kv.value);
}

TEST(GgufReader, SharedModels) {
    auto files = gguf_files_in(std::string(HEARTH_SHARED_DIR) + "/models");
    ASSERT_GE(files.size(), 8u);
    for (const auto& path : files) {
        SCOPED_TRACE(path);
        auto f = File::open(path);
        EXPECT_TRUE(f->is_mmapped());
        check_consistent(*f);
        const std::string arch = f->get_string("general.architecture").value_or("");
        EXPECT_TRUE(arch == "qwen3" || arch == "llama") << arch;
        EXPECT_EQ(f->get_uint(arch + ".block_count"), 4u);
        EXPECT_EQ(f->get_uint(arch + ".embedding_length"), 256u);
        EXPECT_EQ(f->get_uint(arch + ".feed_forward_length"), 768u);
        EXPECT_GT(*f->get_float(arch + ".rope.freq_base"), 1000.0);
        const auto* tokens = f->get_string_array("tokenizer.ggml.tokens");
        ASSERT_NE(tokens, nullptr);
        EXPECT_EQ(tokens->size(), arch == "qwen3" ? 50257u : 32000u);
        ASSERT_NE(f->find_tensor("token_embd.weight"), nullptr);
        EXPECT_EQ(f->find_tensor("token_embd.weight")->ne[1], static_cast<int64_t>(tokens->size()));
        EXPECT_GE(f->tensors().size(), 4u * 9u);
    }
}

TEST(GgufReader, MmapAndReadAgree) {
    const std::string path = std::string(HEARTH_SHARED_DIR) + "/models/tiny-qwen3-bpe-Q4_K_M.gguf";
    auto a = File::open(path);
    auto b = File::open(path, {.use_mmap = false});
    EXPECT_TRUE(a->is_mmapped());
    EXPECT_FALSE(b->is_mmapped());
    ASSERT_EQ(a->kvs().size(), b->kvs().size());
    ASSERT_EQ(a->tensors().size(), b->tensors().size());
    for (size_t i = 0; i < a->tensors().size(); ++i) {
        const auto& ta = a->tensors()[i];
        const auto& tb = b->tensors()[i];
        EXPECT_EQ(ta.name, tb.name);
        EXPECT_EQ(ta.type, tb.type);
        EXPECT_EQ(ta.nbytes, tb.nbytes);
        EXPECT_EQ(0, std::memcmp(a->tensor_data(ta), b->tensor_data(tb), ta.nbytes)) << ta.name;
        EXPECT_EQ(reinterpret_cast<uintptr_t>(b->tensor_data(tb)) % 32, 0u) << ta.name;
    }
    EXPECT_EQ(*a->get_string("tokenizer.chat_template"), *b->get_string("tokenizer.chat_template"));
}

TEST(GgufReader, SharedVocabs) {
    auto files = gguf_files_in(std::string(HEARTH_SHARED_DIR) + "/vocab");
    ASSERT_GE(files.size(), 10u);
    for (const auto& path : files) {
        SCOPED_TRACE(path);
        auto f = File::open(path);
        check_consistent(*f);
        ASSERT_TRUE(f->get_string("tokenizer.ggml.model").has_value());
        const auto* tokens = f->get_string_array("tokenizer.ggml.tokens");
        ASSERT_NE(tokens, nullptr);
        EXPECT_GT(tokens->size(), 1000u);
        if (const auto* types = f->get_int_array("tokenizer.ggml.token_type")) {
            EXPECT_EQ(types->size(), tokens->size());
        }
    }
}

TEST(GgufReader, DefaultGemmaModelWhenPresent) {
    std::string path = std::string(HEARTH_SOURCE_DIR) + "/models/gemma-3-270m-q4_k_m.gguf";
    if (!fs::exists(path)) path = "/tmp/gm/g.gguf";
    if (!fs::exists(path)) GTEST_SKIP() << "default model not fetched";
    auto f = File::open(path);
    check_consistent(*f);
    EXPECT_EQ(f->get_string("general.architecture"), "gemma3");
    EXPECT_EQ(f->get_uint("gemma3.block_count"), 18u);
    EXPECT_GT(f->tensors().size(), 100u);
}

using testutil::drop_ipc_lock_capability;

TEST(GgufReader, MlockRefusedGivesActionableWarning) {
    // In a child process: no CAP_IPC_LOCK, RLIMIT_MEMLOCK = 0, so mlock must fail and loading go on.
    const std::string path = std::string(HEARTH_SHARED_DIR) + "/vocab/ggml-vocab-bert-bge.gguf";
    const int code = testutil::exit_code_in_child([&] {
        struct rlimit none {};
        getrlimit(RLIMIT_MEMLOCK, &none);
        none.rlim_cur = 0;
        if (!drop_ipc_lock_capability() || setrlimit(RLIMIT_MEMLOCK, &none) != 0) return 3;
        auto f = File::open(path, {.use_mmap = true, .mlock = true});
        if (f->is_mlocked()) return 4;  // AddressSanitizer turns mlock into a no-op success
        const std::string& w = f->mlock_warning();
        const bool ok = w.find("ulimit -l") != std::string::npos && w.find("is 0 KiB") != std::string::npos &&
                        !f->kvs().empty();
        return ok ? 0 : 1;
    });
    if (code == 3) GTEST_SKIP() << "could not drop CAP_IPC_LOCK / lower RLIMIT_MEMLOCK";
    if (code == 4) GTEST_SKIP() << "mlock succeeded anyway (sanitizer build intercepts it)";
    EXPECT_EQ(code, 0) << "1: wrong warning or state, 2: open threw, -1: the child crashed";
}

TEST(GgufReader, MlockWarnsWhenRefused) {
    const std::string path = std::string(HEARTH_SHARED_DIR) + "/vocab/ggml-vocab-bert-bge.gguf";
    struct rlimit old {};
    ASSERT_EQ(getrlimit(RLIMIT_MEMLOCK, &old), 0);
    struct rlimit none = old;
    none.rlim_cur = 0;  // lowering the soft limit is always allowed
    ASSERT_EQ(setrlimit(RLIMIT_MEMLOCK, &none), 0);
    std::unique_ptr<File> f;
    EXPECT_NO_THROW(f = File::open(path, {.use_mmap = true, .mlock = true}));
    setrlimit(RLIMIT_MEMLOCK, &old);
    ASSERT_TRUE(f);
    // With CAP_IPC_LOCK (root) the limit does not apply and the lock succeeds.
    if (f->is_mlocked()) {
        EXPECT_TRUE(f->mlock_warning().empty());
    } else {
        EXPECT_NE(f->mlock_warning().find("ulimit -l"), std::string::npos) << f->mlock_warning();
        EXPECT_NE(f->mlock_warning().find("0 KiB"), std::string::npos) << f->mlock_warning();
    }
    EXPECT_GT(f->tensors().size() + f->kvs().size(), 0u);
}

}  // namespace
}  // namespace hearth::gguf
