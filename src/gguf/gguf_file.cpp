// Getting GGUF bytes into memory: mmap (default) or a plain read, optional mlock with an actionable
// warning when the OS refuses, or a copy of caller bytes. Parsing itself is in gguf_reader.cpp.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "gguf/gguf.h"

namespace hearth::gguf {
namespace {

std::string errno_text(int err) { return std::string(std::strerror(err)); }

std::string format_limit(rlim_t v) {
    if (v == RLIM_INFINITY) return "unlimited";
    return std::to_string(static_cast<unsigned long long>(v / 1024)) + " KiB";
}

// The in-memory copy (--no-mmap, from_memory) starts at a 64-byte boundary inside `owned` so that
// tensor data is as aligned as in a page-aligned mapping (offsets are multiples of the alignment).
constexpr size_t kCopyAlignment = 64;
uint8_t* aligned_buffer(std::vector<uint8_t>& owned, uint64_t size) {
    owned.resize(static_cast<size_t>(size) + kCopyAlignment);
    const auto addr = reinterpret_cast<uintptr_t>(owned.data());
    return owned.data() + ((kCopyAlignment - addr % kCopyAlignment) % kCopyAlignment);
}

// Owns a file descriptor for the duration of open().
struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

std::unique_ptr<File> File::open(const std::string& path, const OpenOptions& options) {
    std::unique_ptr<File> file(new File());
    file->path_ = path;
    Fd fd;
    // O_NONBLOCK: opening a FIFO must not wait for a writer (it is then rejected as not regular).
    fd.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd.fd < 0) throw Error(ErrorKind::Io, "cannot open '" + path + "': " + errno_text(errno));
    struct stat st {};
    if (::fstat(fd.fd, &st) != 0) throw Error(ErrorKind::Io, "cannot stat '" + path + "': " + errno_text(errno));
    if (!S_ISREG(st.st_mode)) throw Error(ErrorKind::Io, "'" + path + "' is not a regular file");
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    file->size_ = size;

    if (options.use_mmap && size > 0) {
        void* p = ::mmap(nullptr, static_cast<size_t>(size), PROT_READ, MAP_PRIVATE, fd.fd, 0);
        if (p == MAP_FAILED) throw Error(ErrorKind::Io, "cannot mmap '" + path + "': " + errno_text(errno));
        file->data_ = static_cast<const uint8_t*>(p);
        file->mmapped_ = true;
    } else {
        uint8_t* dst = aligned_buffer(file->owned_, size);
        uint64_t done = 0;
        while (done < size) {
            ssize_t n = ::read(fd.fd, dst + done, static_cast<size_t>(size - done));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw Error(ErrorKind::Io, "cannot read '" + path + "': " + errno_text(errno));
            if (n == 0) throw Error(ErrorKind::Io, "'" + path + "' shrank while being read");
            done += static_cast<uint64_t>(n);
        }
        file->data_ = dst;
    }

    if (options.mlock && size > 0) {
        if (::mlock(file->data_, static_cast<size_t>(size)) == 0) {
            file->mlocked_ = true;
        } else {
            const int err = errno;
            struct rlimit lim {};
            std::string limit = "unknown";
            if (::getrlimit(RLIMIT_MEMLOCK, &lim) == 0) limit = format_limit(lim.rlim_cur);
            file->mlock_warning_ =
                "mlock of " + std::to_string(size >> 20) + " MiB failed (" + errno_text(err) +
                "); the locked-memory limit (RLIMIT_MEMLOCK, `ulimit -l`) is " + limit +
                ". Raise it with `ulimit -l unlimited` (or a 'memlock' line in /etc/security/limits.conf, "
                "or LimitMEMLOCK= for a systemd service); continuing without locked memory";
        }
    }

    file->parse();
    return file;
}

std::unique_ptr<File> File::from_memory(const void* data, size_t size) {
    std::unique_ptr<File> file(new File());
    file->path_ = "<memory>";
    uint8_t* dst = aligned_buffer(file->owned_, size);
    if (size > 0) std::memcpy(dst, data, size);
    file->data_ = dst;
    file->size_ = size;
    file->parse();
    return file;
}

File::~File() {
    if (mlocked_) ::munlock(data_, static_cast<size_t>(size_));
    if (mmapped_) ::munmap(const_cast<uint8_t*>(data_), static_cast<size_t>(size_));
}

}  // namespace hearth::gguf
