// GGUF v3 writer: metadata in insertion order, tensor infos, then each tensor's bytes aligned to
// general.alignment (default 32). Files are written to a temporary name and renamed into place so a
// crash never leaves a half-written model under the final name.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_set>

#include "core/error.h"
#include "gguf/gguf.h"

namespace hearth::gguf {
namespace {

// Serialization target: appends bytes to memory or writes them through to a file descriptor.
class Sink {
public:
    explicit Sink(std::vector<uint8_t>* memory) : memory_(memory) {}
    Sink(int fd, std::string path) : fd_(fd), path_(std::move(path)) { buffer_.reserve(kBufferBytes); }

    void put(const void* p, size_t n) {
        written_ += n;
        const auto* b = static_cast<const uint8_t*>(p);
        if (memory_) {
            memory_->insert(memory_->end(), b, b + n);
            return;
        }
        if (buffer_.size() + n > kBufferBytes) flush();
        if (n >= kBufferBytes) {
            write_all(b, n);
            return;
        }
        buffer_.insert(buffer_.end(), b, b + n);
    }
    template <typename T>
    void pod(T v) {
        put(&v, sizeof(T));
    }
    void str(const std::string& s) {
        pod<uint64_t>(s.size());
        put(s.data(), s.size());
    }
    void pad_to(uint64_t alignment) {
        static const uint8_t zeros[64] = {};
        uint64_t pad = (alignment - written_ % alignment) % alignment;
        while (pad > 0) {
            const size_t n = static_cast<size_t>(std::min<uint64_t>(pad, sizeof(zeros)));
            put(zeros, n);
            pad -= n;
        }
    }
    uint64_t written() const { return written_; }
    void flush() {
        if (fd_ >= 0 && !buffer_.empty()) write_all(buffer_.data(), buffer_.size());
        buffer_.clear();
    }

private:
    static constexpr size_t kBufferBytes = 1 << 20;
    void write_all(const uint8_t* p, size_t n) {
        while (n > 0) {
            ssize_t w = ::write(fd_, p, n);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) throw Error(ErrorKind::Io, "cannot write '" + path_ + "': " + std::strerror(errno));
            p += w;
            n -= static_cast<size_t>(w);
        }
    }

    std::vector<uint8_t>* memory_ = nullptr;
    int fd_ = -1;
    std::string path_;
    std::vector<uint8_t> buffer_;
    uint64_t written_ = 0;
};

void write_scalar(Sink& out, ValueType type, const Value& v) {
    // Integers may be held as uint64 or int64 whatever their declared type; take the bits.
    auto as_bits = [&]() -> uint64_t {
        if (const auto* u = std::get_if<uint64_t>(&v.scalar)) return *u;
        if (const auto* i = std::get_if<int64_t>(&v.scalar)) return static_cast<uint64_t>(*i);
        throw Error(ErrorKind::InvalidArgument,
                    std::string("Writer: value declared ") + value_type_name(type) + " holds no integer");
    };
    switch (type) {
        case ValueType::UInt8:
        case ValueType::Int8: out.pod<uint8_t>(static_cast<uint8_t>(as_bits())); break;
        case ValueType::UInt16:
        case ValueType::Int16: out.pod<uint16_t>(static_cast<uint16_t>(as_bits())); break;
        case ValueType::UInt32:
        case ValueType::Int32: out.pod<uint32_t>(static_cast<uint32_t>(as_bits())); break;
        case ValueType::UInt64:
        case ValueType::Int64: out.pod<uint64_t>(as_bits()); break;
        case ValueType::Float32: out.pod<float>(static_cast<float>(std::get<double>(v.scalar))); break;
        case ValueType::Float64: out.pod<double>(std::get<double>(v.scalar)); break;
        case ValueType::Bool: out.pod<uint8_t>(std::get<bool>(v.scalar) ? 1 : 0); break;
        case ValueType::String: out.str(std::get<std::string>(v.scalar)); break;
        case ValueType::Array: HEARTH_ASSERT_MSG(false, "write_scalar called on an array"); break;
    }
}

void write_value(Sink& out, const std::string& key, const Value& v) {
    out.pod<uint32_t>(static_cast<uint32_t>(v.type));
    if (v.type != ValueType::Array) {
        if (v.type == ValueType::String || v.type == ValueType::Bool || is_float_type(v.type)) {
            const bool ok = (v.type == ValueType::String && std::holds_alternative<std::string>(v.scalar)) ||
                            (v.type == ValueType::Bool && std::holds_alternative<bool>(v.scalar)) ||
                            (is_float_type(v.type) && std::holds_alternative<double>(v.scalar));
            if (!ok)
                throw Error(ErrorKind::InvalidArgument, "Writer: key '" + key + "' declared " +
                                                            value_type_name(v.type) + " holds another type");
        }
        write_scalar(out, v.type, v);
        return;
    }
    const ValueType t = v.array_type;
    if (t == ValueType::Array)
        throw Error(ErrorKind::InvalidArgument, "Writer: key '" + key + "': arrays of arrays are not allowed");
    out.pod<uint32_t>(static_cast<uint32_t>(t));
    out.pod<uint64_t>(v.array_size());
    if (t == ValueType::String) {
        for (const auto& s : v.strings) out.str(s);
    } else if (t == ValueType::Bool) {
        for (uint8_t b : v.bools) out.pod<uint8_t>(b ? 1 : 0);
    } else if (t == ValueType::Float32) {
        for (double f : v.floats) out.pod<float>(static_cast<float>(f));
    } else if (t == ValueType::Float64) {
        for (double f : v.floats) out.pod<double>(f);
    } else {
        Value element;
        for (int64_t i : v.ints) {
            element.scalar = i;
            write_scalar(out, t, element);
        }
    }
}

}  // namespace

void Writer::set(std::string key, Value value) {
    if (key.empty()) throw Error(ErrorKind::InvalidArgument, "Writer::set: empty key");
    for (auto& kv : kvs_) {
        if (kv.key == key) {
            kv.value = std::move(value);
            return;
        }
    }
    KeyValue kv;
    kv.key = std::move(key);
    kv.value = std::move(value);
    kvs_.push_back(std::move(kv));
}

void Writer::add_tensor(std::string name, DType type, std::vector<int64_t> shape, DataFn fill) {
    const std::string where = "Writer::add_tensor '" + name + "': ";
    if (name.empty()) throw Error(ErrorKind::InvalidArgument, "Writer::add_tensor: empty name");
    for (const auto& t : tensors_)
        if (t.name == name) throw Error(ErrorKind::InvalidArgument, where + "duplicate tensor name");
    if (shape.empty() || shape.size() > 4)
        throw Error(ErrorKind::InvalidArgument, where + "shape must have 1..4 dimensions");
    uint64_t elements = 1;
    for (int64_t d : shape) {
        if (d < 1) throw Error(ErrorKind::InvalidArgument, where + "dimensions must be >= 1");
        if (__builtin_mul_overflow(elements, static_cast<uint64_t>(d), &elements))
            throw Error(ErrorKind::InvalidArgument, where + "element count overflows");
    }
    const DTypeTraits& traits = dtype_traits(type);
    if (shape[0] % traits.block_elems != 0)
        throw Error(ErrorKind::InvalidArgument, where + "dimension 0 is not a multiple of the block size " +
                                                    std::to_string(traits.block_elems));
    const uint64_t nbytes = elements / traits.block_elems * traits.block_bytes;
    tensors_.push_back({std::move(name), type, std::move(shape), nbytes, std::move(fill)});
}

void Writer::add_tensor(std::string name, DType type, std::vector<int64_t> shape, const void* data,
                        size_t nbytes) {
    const std::string copy_name = name;
    add_tensor(std::move(name), type, std::move(shape), DataFn{});
    if (tensors_.back().nbytes != nbytes) {
        const uint64_t expected = tensors_.back().nbytes;
        tensors_.pop_back();
        throw Error(ErrorKind::InvalidArgument, "Writer::add_tensor '" + copy_name + "': got " +
                                                    std::to_string(nbytes) + " bytes, the shape needs " +
                                                    std::to_string(expected));
    }
    const auto* src = static_cast<const uint8_t*>(data);
    tensors_.back().fill = [src](uint8_t* dst, size_t n) { std::memcpy(dst, src, n); };
}

namespace {

// Writes everything through `out`; shared by to_bytes() and write().
template <typename Tensors>
void serialize(Sink& out, const std::vector<KeyValue>& kvs, const Tensors& tensors) {
    uint64_t alignment = 32;
    for (const auto& kv : kvs) {
        if (kv.key != "general.alignment") continue;
        const auto* a = std::get_if<uint64_t>(&kv.value.scalar);
        if (kv.value.type != ValueType::UInt32 || !a || *a == 0 || (*a & (*a - 1)) != 0)
            throw Error(ErrorKind::InvalidArgument, "Writer: general.alignment must be a u32 power of two");
        alignment = *a;
    }
    out.put("GGUF", 4);
    out.pod<uint32_t>(3);
    out.pod<uint64_t>(tensors.size());
    out.pod<uint64_t>(kvs.size());
    for (const auto& kv : kvs) {
        out.str(kv.key);
        write_value(out, kv.key, kv.value);
    }
    uint64_t offset = 0;
    for (const auto& t : tensors) {
        out.str(t.name);
        out.pod<uint32_t>(static_cast<uint32_t>(t.shape.size()));
        for (int64_t d : t.shape) out.pod<uint64_t>(static_cast<uint64_t>(d));
        out.pod<uint32_t>(static_cast<uint32_t>(t.type));
        out.pod<uint64_t>(offset);
        offset += (t.nbytes + alignment - 1) / alignment * alignment;
    }
    out.pad_to(alignment);
    std::vector<uint8_t> buffer;
    for (const auto& t : tensors) {
        buffer.assign(static_cast<size_t>(t.nbytes), 0);
        if (t.fill) t.fill(buffer.data(), buffer.size());
        out.put(buffer.data(), buffer.size());
        out.pad_to(alignment);
    }
    out.flush();
}

}  // namespace

std::vector<uint8_t> Writer::to_bytes() const {
    std::vector<uint8_t> bytes;
    Sink sink(&bytes);
    serialize(sink, kvs_, tensors_);
    return bytes;
}

void Writer::write(const std::string& path) const {
    std::string tmp = path + ".tmp.XXXXXX";
    int fd = ::mkstemp(tmp.data());
    if (fd < 0) throw Error(ErrorKind::Io, "cannot create a temporary file next to '" + path + "': " + std::strerror(errno));
    try {
        Sink sink(fd, tmp);
        serialize(sink, kvs_, tensors_);
        if (::fsync(fd) != 0) throw Error(ErrorKind::Io, "cannot sync '" + tmp + "': " + std::strerror(errno));
        if (::close(fd) != 0) {
            fd = -1;
            throw Error(ErrorKind::Io, "cannot close '" + tmp + "': " + std::strerror(errno));
        }
        fd = -1;
        ::chmod(tmp.c_str(), 0644);
        if (::rename(tmp.c_str(), path.c_str()) != 0)
            throw Error(ErrorKind::Io, "cannot rename '" + tmp + "' to '" + path + "': " + std::strerror(errno));
    } catch (...) {
        if (fd >= 0) ::close(fd);
        ::unlink(tmp.c_str());
        throw;
    }
}

}  // namespace hearth::gguf
