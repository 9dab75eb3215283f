// safetensors parsing: header length, JSON header validation (dtype, shape, offsets inside the data
// section and matching the element count), and conversion of F32/F16/BF16 data to float.
#include "model/convert/safetensors.h"

#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "quant/fp16.h"

namespace hearth::convert {

namespace {

size_t dtype_size(const std::string& d) {
    if (d == "F32" || d == "I32") return 4;
    if (d == "F16" || d == "BF16" || d == "I16") return 2;
    if (d == "F64" || d == "I64") return 8;
    if (d == "I8" || d == "U8" || d == "BOOL") return 1;
    return 0;
}

}  // namespace

int64_t StTensor::n_elements() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

SafeTensors SafeTensors::open(const std::string& path) {
    SafeTensors st;
    st.path_ = path;
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) throw Error(ErrorKind::Io, "cannot open safetensors file '" + path + "'");
    const std::streamoff size = in.tellg();
    in.seekg(0);
    if (size < 8) throw Error(ErrorKind::InvalidFile, "'" + path + "' is too small to be a safetensors file");
    st.bytes_.resize(size_t(size));
    if (!in.read(reinterpret_cast<char*>(st.bytes_.data()), size)) throw Error(ErrorKind::Io, "cannot read '" + path + "'");
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; --i) hlen = (hlen << 8) | st.bytes_[size_t(i)];
    if (hlen > st.bytes_.size() - 8)
        throw Error(ErrorKind::InvalidFile, "'" + path + "': header length " + std::to_string(hlen) + " exceeds the file size");
    st.data_start_ = 8 + size_t(hlen);
    const uint64_t data_size = st.bytes_.size() - st.data_start_;
    nlohmann::json h;
    try {
        h = nlohmann::json::parse(st.bytes_.begin() + 8, st.bytes_.begin() + long(st.data_start_));
    } catch (const nlohmann::json::exception& e) {
        throw Error(ErrorKind::InvalidFile, "'" + path + "': the header is not valid JSON (" + e.what() + ")");
    }
    if (!h.is_object()) throw Error(ErrorKind::InvalidFile, "'" + path + "': the header is not a JSON object");
    for (auto it = h.begin(); it != h.end(); ++it) {
        if (it.key() == "__metadata__") continue;
        const auto& v = it.value();
        const std::string where = "'" + path + "' tensor '" + it.key() + "'";
        if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets") ||
            !v["dtype"].is_string() || !v["shape"].is_array() || !v["data_offsets"].is_array() || v["data_offsets"].size() != 2)
            throw Error(ErrorKind::InvalidFile, where + ": needs dtype, shape and data_offsets [begin, end]");
        StTensor t;
        t.dtype = v["dtype"].get<std::string>();
        for (const auto& d : v["shape"]) {
            if (!d.is_number_unsigned() || d.get<uint64_t>() > (uint64_t(1) << 40))
                throw Error(ErrorKind::InvalidFile, where + ": bad dimension in shape");
            t.shape.push_back(int64_t(d.get<uint64_t>()));
        }
        if (!v["data_offsets"][0].is_number_unsigned() || !v["data_offsets"][1].is_number_unsigned())
            throw Error(ErrorKind::InvalidFile, where + ": data_offsets must be non-negative integers");
        t.begin = v["data_offsets"][0].get<uint64_t>();
        t.end = v["data_offsets"][1].get<uint64_t>();
        const size_t es = dtype_size(t.dtype);
        if (es == 0) throw Error(ErrorKind::InvalidFile, where + ": unknown dtype '" + t.dtype + "'");
        if (t.begin > t.end || t.end > data_size)
            throw Error(ErrorKind::InvalidFile, where + ": data_offsets lie outside the data section");
        if (t.end - t.begin != uint64_t(t.n_elements()) * es)
            throw Error(ErrorKind::InvalidFile, where + ": byte size does not match shape and dtype");
        st.tensors_.emplace(it.key(), std::move(t));
    }
    return st;
}

const StTensor* SafeTensors::find(const std::string& name) const {
    auto it = tensors_.find(name);
    return it == tensors_.end() ? nullptr : &it->second;
}

std::vector<float> SafeTensors::read_f32(const std::string& name) const {
    const StTensor* t = find(name);
    if (!t) throw Error(ErrorKind::InvalidFile, "'" + path_ + "' has no tensor '" + name + "'");
    const uint8_t* p = bytes_.data() + data_start_ + t->begin;
    const size_t n = size_t(t->n_elements());
    std::vector<float> out(n);
    if (t->dtype == "F32") {
        std::memcpy(out.data(), p, n * 4);
    } else if (t->dtype == "F16" || t->dtype == "BF16") {
        for (size_t i = 0; i < n; ++i) {
            const uint16_t h = uint16_t(p[2 * i] | (p[2 * i + 1] << 8));
            out[i] = t->dtype == "F16" ? fp16_to_fp32(h) : bf16_to_fp32(h);
        }
    } else {
        throw Error(ErrorKind::Unsupported, "tensor '" + name + "' has dtype " + t->dtype + "; convert supports F32, F16 and BF16");
    }
    return out;
}

}  // namespace hearth::convert
