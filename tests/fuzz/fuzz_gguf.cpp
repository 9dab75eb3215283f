// libFuzzer target for the GGUF reader: any byte string must either parse or throw hearth::Error,
// never crash, hang or read out of bounds (built with ASan+UBSan by `make fuzz`).
// Seeds: tests/fuzz/make_gguf_seeds.py writes small valid GGUF files to start from.
#include <cstddef>
#include <cstdint>

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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        auto file = hearth::gguf::File::from_memory(data, size);
        exercise(*file);
    } catch (const hearth::Error& e) {
        if (e.kind() != hearth::ErrorKind::InvalidFile) __builtin_trap();  // only InvalidFile expected
    }
    return 0;
}
