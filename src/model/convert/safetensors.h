// Reader of the safetensors format (Hugging Face weights): an 8-byte little-endian header length,
// a JSON header {name: {dtype, shape, data_offsets}} and the raw little-endian tensor bytes.
// Used by `hearth convert`; every offset and shape is checked so a bad file throws, never crashes.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace hearth::convert {

struct StTensor {
    std::string dtype;           // "F32" | "F16" | "BF16" (others are rejected on read_f32)
    std::vector<int64_t> shape;  // torch order: shape.back() is the contiguous dimension
    uint64_t begin = 0, end = 0; // byte range in the data section
    int64_t n_elements() const;
};

class SafeTensors {
public:
    // Reads the whole file into memory. Throws Error(Io) if unreadable, Error(InvalidFile) if malformed.
    static SafeTensors open(const std::string& path);
    const std::map<std::string, StTensor>& tensors() const { return tensors_; }
    const StTensor* find(const std::string& name) const;
    // The tensor's values converted to float, row-major in torch order.
    std::vector<float> read_f32(const std::string& name) const;

private:
    std::string path_;
    std::vector<uint8_t> bytes_;
    size_t data_start_ = 0;
    std::map<std::string, StTensor> tensors_;
};

}  // namespace hearth::convert
