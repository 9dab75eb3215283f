// libFuzzer target for the GGUF reader: any byte string must either parse or throw hearth::Error,
// never crash, hang or read out of bounds (built with ASan+UBSan by `make fuzz`); whatever parses
// must survive a Writer round trip unchanged.
// Seeds: tests/fuzz/make_gguf_seeds.py writes small valid GGUF files to start from. Run:
//   make fuzz && python3 tests/fuzz/make_gguf_seeds.py /tmp/seeds &&
//   nice -n 19 build-fuzz/bin/fuzz_gguf -max_len=4096 -max_total_time=600 /tmp/seeds
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "gguf/gguf.h"

namespace {

// Touches everything a successful parse exposes, so reads past validated bounds are caught.
void exercise(const hearth::gguf::File& file) {
    using hearth::gguf::ValueType;
    volatile uint64_t sink = 0;
    for (const auto& kv : file.kvs()) {
        try {
            (void)file.get_string(kv.key);
        } catch (const hearth::Error&) {
        }
        try {
            sink = sink + file.get_uint(kv.key).value_or(0);
        } catch (const hearth::Error&) {
        }
        try {
            sink = sink + static_cast<uint64_t>(file.get_float(kv.key).value_or(0) != 0);
        } catch (const hearth::Error&) {
        }
        sink = sink + kv.value.array_size();
    }
    for (const auto& t : file.tensors()) {
        const uint8_t* p = file.tensor_data(t);
        sink = sink + p[0] + p[t.nbytes - 1];
        if (file.find_tensor(t.name) != &t) __builtin_trap();
    }
}

// Property: whatever parses can be re-written by gguf::Writer and parses back to the same content.
void round_trip(const hearth::gguf::File& file) {
    hearth::gguf::Writer writer;
    for (const auto& kv : file.kvs()) writer.set(kv.key, kv.value);
    for (const auto& t : file.tensors())
        writer.add_tensor(t.name, t.type, std::vector<int64_t>(t.ne, t.ne + t.n_dims), file.tensor_data(t), t.nbytes);
    const std::vector<uint8_t> bytes = writer.to_bytes();
    auto again = hearth::gguf::File::from_memory(bytes.data(), bytes.size());  // must not throw
    if (again->kvs().size() != file.kvs().size() || again->tensors().size() != file.tensors().size()) __builtin_trap();
    for (size_t i = 0; i < file.kvs().size(); ++i) {
        const auto& a = file.kvs()[i].value;
        const auto& b = again->kvs()[i].value;
        if (file.kvs()[i].key != again->kvs()[i].key || a.type != b.type || a.array_size() != b.array_size())
            __builtin_trap();
        if (a.type == hearth::gguf::ValueType::String && a.scalar != b.scalar) __builtin_trap();
        if (a.strings != b.strings || a.ints != b.ints || a.bools != b.bools) __builtin_trap();
    }
    for (size_t i = 0; i < file.tensors().size(); ++i) {
        const auto& a = file.tensors()[i];
        const auto& b = again->tensors()[i];
        if (a.name != b.name || a.type != b.type || a.nbytes != b.nbytes ||
            std::memcmp(file.tensor_data(a), again->tensor_data(b), a.nbytes) != 0)
            __builtin_trap();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        auto file = hearth::gguf::File::from_memory(data, size);
        exercise(*file);
        round_trip(*file);
    } catch (const hearth::Error& e) {
        if (e.kind() != hearth::ErrorKind::InvalidFile) __builtin_trap();  // only InvalidFile expected
    }
    return 0;
}
