// PtrMap (core/ptr_map.h), the allocation-free pointer map of the per-token graph bookkeeping:
// agrees with std::unordered_map over random inserts/lookups, through growth and clear().
#include <gtest/gtest.h>

#include <random>
#include <unordered_map>
#include <vector>

#include "core/ptr_map.h"

namespace hearth {
namespace {

TEST(DecodeOverheadPtrMap, MatchesUnorderedMap) {
    std::vector<double> pool(5000);  // keys: addresses inside one array, like pooled tensors
    std::mt19937 rng(3);
    PtrMap<int> m;
    for (int round = 0; round < 4; ++round) {
        std::unordered_map<const void*, int> ref;
        m.clear();
        EXPECT_TRUE(m.empty());
        const int n = 100 + round * 1500;
        for (int i = 0; i < n; ++i) {
            const void* k = &pool[rng() % pool.size()];
            const auto [v, inserted] = m.try_emplace(k, i);
            const bool ref_inserted = ref.try_emplace(k, i).second;
            ASSERT_EQ(inserted, ref_inserted);
            ASSERT_EQ(*v, ref[k]);
            if (i % 3 == 0) {
                m[k] += 1;
                ref[k] += 1;
            }
        }
        EXPECT_EQ(m.size(), ref.size());
        for (size_t i = 0; i < pool.size(); ++i) {
            const int* v = m.find(&pool[i]);
            auto it = ref.find(&pool[i]);
            ASSERT_EQ(v != nullptr, it != ref.end());
            if (v) {
                ASSERT_EQ(*v, it->second);
            }
        }
        size_t seen = 0;
        m.for_each([&](const void* k, int& v) {
            ++seen;
            EXPECT_EQ(v, ref.at(k));
        });
        EXPECT_EQ(seen, ref.size());
    }
    PtrMap<int> empty;
    EXPECT_EQ(empty.find(&pool[0]), nullptr);  // never grown: no slots at all
}

}  // namespace
}  // namespace hearth
