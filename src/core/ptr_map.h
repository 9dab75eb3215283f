// PtrMap<V>: an open-addressing hash map keyed by pointers (tensors), for the per-graph
// bookkeeping the graph builder, memory planner and scheduler redo at every decode step. Unlike
// std::unordered_map it allocates nothing per element and clear() keeps its capacity, so
// rebuilding a same-sized graph each token allocates nothing after warm-up.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace hearth {

template <class V>
class PtrMap {
public:
    // Forget every entry; keeps the capacity. O(capacity).
    void clear() {
        if (size_ == 0) return;
        for (Slot& s : slots_) s.key = nullptr;
        size_ = 0;
    }
    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }

    // The value of k, or nullptr.
    V* find(const void* k) {
        if (slots_.empty()) return nullptr;
        for (size_t i = slot_of(k);; i = (i + 1) & mask_) {
            if (slots_[i].key == k) return &slots_[i].value;
            if (!slots_[i].key) return nullptr;
        }
    }
    const V* find(const void* k) const { return const_cast<PtrMap*>(this)->find(k); }
    bool contains(const void* k) const { return find(k) != nullptr; }

    // Inserts (k, v) unless k is present; returns the entry's value and whether it was inserted.
    std::pair<V*, bool> try_emplace(const void* k, V v = V{}) {
        if ((size_ + 1) * 4 > slots_.size() * 3) grow();  // load factor <= 3/4
        for (size_t i = slot_of(k);; i = (i + 1) & mask_) {
            if (slots_[i].key == k) return {&slots_[i].value, false};
            if (!slots_[i].key) {
                slots_[i].key = k;
                slots_[i].value = std::move(v);
                ++size_;
                return {&slots_[i].value, true};
            }
        }
    }
    V& operator[](const void* k) { return *try_emplace(k).first; }

    // f(key, value&) for every entry (in slot order).
    template <class F>
    void for_each(F&& f) {
        for (Slot& s : slots_)
            if (s.key) f(s.key, s.value);
    }

private:
    struct Slot {
        const void* key = nullptr;
        V value{};
    };
    size_t slot_of(const void* k) const {
        // Fibonacci hashing of the address (tensors are 8-byte aligned or more).
        const uint64_t h = (reinterpret_cast<uintptr_t>(k) >> 3) * 0x9E3779B97F4A7C15ull;
        return static_cast<size_t>(h >> shift_) & mask_;
    }
    void grow() {
        std::vector<Slot> old = std::move(slots_);
        const size_t cap = old.empty() ? 64 : old.size() * 2;
        slots_.assign(cap, Slot{});
        mask_ = cap - 1;
        shift_ = 64;
        for (size_t c = cap; c > 1; c >>= 1) --shift_;  // top log2(cap) bits of the product
        size_ = 0;
        for (Slot& s : old)
            if (s.key) try_emplace(s.key, std::move(s.value));
    }

    std::vector<Slot> slots_;
    size_t size_ = 0;
    size_t mask_ = 0;
    int shift_ = 64;
};

}  // namespace hearth
