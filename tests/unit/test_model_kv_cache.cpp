// Paged KV cache bookkeeping: pages are taken as tokens arrive, sequences share the pool and
// cells (kv_copy), removal frees pages, and a full pool fails with an error naming n_ctx.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "model/hparams.h"
#include "runtime/kv_cache.h"

namespace hearth {
namespace {

HParams small_hp() {
    HParams hp;
    hp.n_layer = 2;
    hp.n_embd = 64;
    hp.n_head = 4;
    hp.n_head_kv = 2;
    hp.head_dim_k = hp.head_dim_v = 16;
    hp.swa_layer.assign(2, 0);
    return hp;
}

std::vector<int32_t> place_seq(KvCache& kv, int32_t seq, int32_t p0, int32_t n) {
    std::vector<int32_t> pos(static_cast<size_t>(n)), seqs(static_cast<size_t>(n), seq);
    for (int32_t i = 0; i < n; ++i) pos[size_t(i)] = p0 + i;
    return kv.place(pos.data(), seqs.data(), size_t(n));
}

TEST(ModelKvCache, GrowsByPages) {
    KvCache kv(small_hp(), 4096, 1, DType::F16, DType::F16);
    EXPECT_EQ(kv.stats().bytes_allocated, 0u);
    EXPECT_EQ(kv.n_kv(), 0);
    auto cells = place_seq(kv, 0, 0, 10);
    EXPECT_EQ(cells.front(), 0);
    EXPECT_EQ(cells.back(), 9);
    EXPECT_EQ(kv.stats().pages_used, 1);
    EXPECT_EQ(kv.n_kv(), 32);
    place_seq(kv, 0, 10, int32_t(KvCache::kPageCells));
    EXPECT_EQ(kv.stats().pages_used, 2);
    EXPECT_EQ(kv.pos_max(0), 10 + KvCache::kPageCells - 1);
    const uint64_t per_cell = 256;  // 2 layers x (K 32 f16 + V 32 f16) = 2 x 128 B
    EXPECT_EQ(kv.stats().bytes_used, per_cell * uint64_t(10 + KvCache::kPageCells));
    EXPECT_EQ(kv.stats().bytes_capacity, per_cell * 4096u);
    EXPECT_LT(kv.stats().bytes_allocated, kv.stats().bytes_capacity);
}

// Fraction of the OS pages of [p, p + bytes) that are resident.
double resident_fraction(const uint8_t* p, size_t bytes) {
    const size_t os_page = size_t(sysconf(_SC_PAGESIZE));
    const uintptr_t b = uintptr_t(p) / os_page * os_page, e = (uintptr_t(p) + bytes + os_page - 1) / os_page * os_page;
    std::vector<unsigned char> vec((e - b) / os_page);
    if (mincore(reinterpret_cast<void*>(b), e - b, vec.data()) != 0) return -1.0;
    size_t n = 0;
    for (unsigned char v : vec) n += v & 1;
    return double(n) / double(vec.size());
}

TEST(ModelKvCache, OpeningAPageBacksAllOfItAtOnce) {
    // Rows of 2 KiB (like Qwen3-0.6B's 8 KV heads x 128 f16): one page is 256 rows = 512 KiB per
    // layer and part, many OS pages. Its first token backs all of them, so decoding the next 255
    // tokens takes no page fault; the next KV page stays untouched until it is opened.
    HParams hp = small_hp();
    hp.n_head_kv = 8;
    hp.n_head = 16;
    hp.head_dim_k = hp.head_dim_v = 128;
    KvCache kv(hp, 4096, 1, DType::F16, DType::F16);
    place_seq(kv, 0, 0, 1);
    const size_t page = kv.k_row_bytes() * size_t(KvCache::kPageCells);
    for (int64_t il = 0; il < hp.n_layer; ++il) {
        EXPECT_EQ(resident_fraction(kv.k_data(il), page), 1.0) << "layer " << il;
        EXPECT_EQ(resident_fraction(kv.v_data(il), page), 1.0) << "layer " << il;
        EXPECT_EQ(resident_fraction(kv.k_data(il) + page, page), 0.0) << "layer " << il;
    }
}

TEST(ModelKvCache, SequencesTakeTheirOwnPages) {
    KvCache kv(small_hp(), 4096, 4, DType::F16, DType::F16);
    auto a = place_seq(kv, 0, 0, 5);
    auto b = place_seq(kv, 1, 0, 5);
    auto a2 = place_seq(kv, 0, 5, 1);
    EXPECT_EQ(a2[0], 5);  // seq 0 keeps filling its page
    EXPECT_EQ(b[0], KvCache::kPageCells);
    EXPECT_TRUE(kv.visible(0, 0));
    EXPECT_FALSE(kv.visible(0, 1));
    EXPECT_EQ(kv.pos_max(0), 5);
    EXPECT_EQ(kv.pos_max(1), 4);
    EXPECT_EQ(kv.pos_max(2), -1);
}

TEST(ModelKvCache, RemoveFreesPages) {
    KvCache kv(small_hp(), 4096, 2, DType::F16, DType::F16);
    place_seq(kv, 0, 0, 300);
    EXPECT_EQ(kv.stats().pages_used, 2);
    kv.remove(0, 100, -1);
    EXPECT_EQ(kv.pos_max(0), 99);
    EXPECT_EQ(kv.stats().pages_used, 1);
    EXPECT_EQ(kv.stats().cells_used, 100);
    kv.remove(0, 0, 50);
    EXPECT_EQ(kv.stats().cells_used, 50);
    EXPECT_EQ(kv.pos_max(0), 99);
    kv.clear();
    EXPECT_EQ(kv.stats().cells_used, 0);
    EXPECT_EQ(kv.stats().pages_used, 0);
    EXPECT_EQ(kv.n_kv(), 0);
}

TEST(ModelKvCache, FreedPagesStayBackedForReuse) {
    KvCache kv(small_hp(), 4096, 2, DType::F16, DType::F16);
    const uint64_t page = kv.stats().bytes_capacity / 4096 * uint64_t(KvCache::kPageCells);
    place_seq(kv, 0, 0, 600);  // pages 0..2
    EXPECT_EQ(kv.stats().bytes_retained, 0u);
    kv.clear();
    EXPECT_EQ(kv.stats().pages_used, 0);
    EXPECT_EQ(kv.stats().bytes_retained, 3 * page);  // well within kRetainBytes
    auto cells = place_seq(kv, 1, 0, 10);            // reuses a retained page
    EXPECT_EQ(cells.front(), 0);
    EXPECT_EQ(kv.stats().bytes_retained, 2 * page);
    EXPECT_EQ(kv.stats().bytes_allocated, page);
}

TEST(ModelKvCache, RetainedPagesAreCappedByBudget) {
    HParams hp = small_hp();  // 24 MiB pages: two fit kRetainBytes (64 MiB), a third does not
    hp.n_layer = 16;
    hp.n_head_kv = 8;
    hp.head_dim_k = hp.head_dim_v = 96;
    hp.swa_layer.assign(16, 0);
    KvCache kv(hp, 4096, 1, DType::F32, DType::F32);
    const uint64_t page = kv.stats().bytes_capacity / 4096 * uint64_t(KvCache::kPageCells);
    ASSERT_EQ(page, uint64_t(24) << 20);
    place_seq(kv, 0, 0, 4 * KvCache::kPageCells);
    kv.clear();
    EXPECT_EQ(kv.stats().bytes_retained, 2 * page);
    EXPECT_LE(kv.stats().bytes_retained, KvCache::kRetainBytes);
    place_seq(kv, 0, 0, 3 * KvCache::kPageCells);  // two retained pages, then a fresh one
    EXPECT_EQ(kv.stats().bytes_retained, 0u);
    EXPECT_EQ(kv.stats().pages_used, 3);
}

TEST(ModelKvCache, CopySharesCells) {
    KvCache kv(small_hp(), 4096, 2, DType::F16, DType::F16);
    place_seq(kv, 0, 0, 20);
    kv.copy(0, 1);
    EXPECT_EQ(kv.stats().cells_used, 20);  // shared, not duplicated
    EXPECT_EQ(kv.pos_max(1), 19);
    EXPECT_TRUE(kv.visible(3, 1));
    kv.remove(0, 0, -1);  // the copy survives the source's removal
    EXPECT_EQ(kv.pos_max(0), -1);
    EXPECT_EQ(kv.pos_max(1), 19);
    EXPECT_EQ(kv.stats().cells_used, 20);
    kv.remove(1, 10, -1);
    EXPECT_EQ(kv.stats().cells_used, 10);
}

TEST(ModelKvCache, FullPoolThrowsAndPlacesNothing) {
    KvCache kv(small_hp(), 300, 1, DType::F16, DType::F16);
    place_seq(kv, 0, 0, 290);
    try {
        place_seq(kv, 0, 290, 20);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::OutOfMemory);
        EXPECT_NE(std::string(e.what()).find("n_ctx = 300"), std::string::npos) << e.what();
    }
    EXPECT_EQ(kv.stats().cells_used, 290);
    place_seq(kv, 0, 290, 10);  // exactly fills the pool
    EXPECT_EQ(kv.stats().cells_used, 300);
}

TEST(ModelKvCache, HolesAreReused) {
    KvCache kv(small_hp(), 512, 2, DType::F16, DType::F16);
    place_seq(kv, 0, 0, 256);
    place_seq(kv, 1, 0, 256);
    kv.remove(0, 0, 10);
    auto c = place_seq(kv, 1, 256, 5);  // no free page: fills seq 0's holes
    EXPECT_LT(c[0], 10);
}

TEST(ModelKvCache, RejectsBadParams) {
    EXPECT_THROW(KvCache(small_hp(), 0, 1, DType::F16, DType::F16), Error);
    EXPECT_THROW(KvCache(small_hp(), 128, 65, DType::F16, DType::F16), Error);
    EXPECT_THROW(KvCache(small_hp(), 128, 1, DType::Q4_K, DType::F16), Error);
}

}  // namespace
}  // namespace hearth
