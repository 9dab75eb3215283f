// `hearth quantize IN OUT TYPE [--threads N]`: converts a GGUF model to another quantization mix
// (F16, BF16, Q8_0, Q4_0 ... Q6_K, Q4_K_M ...). Metadata is kept (general.file_type and
// general.quantization_version updated); each weight matrix gets the type chosen by the mix policy
// (src/quant/mix), other tensors are copied. Rows are converted by a pool of std::threads.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "command.h"
#include "core/error.h"
#include "gguf/gguf.h"
#include "quant/dtype.h"
#include "quant/mix/quant_mix.h"
#include "quant/quant.h"

namespace hearth::cli {
namespace {

using Clock = std::chrono::steady_clock;

void print_usage() {
    std::fprintf(stderr,
                 "usage: hearth quantize IN.gguf OUT.gguf TYPE [--threads N]\n\n"
                 "Converts the weights of IN to the mix TYPE and writes OUT.\n\nTYPE:\n");
    for (const auto& m : quant::quant_mixes()) std::fprintf(stderr, "  %-8s %s\n", m.name, m.description);
}

struct Plan {
    const gguf::TensorInfo* info;
    DType out_type;
    uint64_t out_bytes;
};

// Shows conversion progress: a bar on a terminal, one line per tensor otherwise.
class Progress {
public:
    Progress(uint64_t total_elems, size_t n_tensors)
        : total_(total_elems ? total_elems : 1), n_tensors_(n_tensors), tty_(::isatty(::fileno(stderr)) != 0) {}

    void tensor_started(size_t index, const Plan& p) {
        index_ = index;
        name_ = p.info->name;
        if (!tty_) {
            std::fprintf(stderr, "[%3zu/%3zu] %-40s %6s -> %-6s %10.2f MiB\n", index + 1, n_tensors_, name_.c_str(),
                         dtype_name(p.info->type), dtype_name(p.out_type), double(p.out_bytes) / (1 << 20));
        }
    }
    void show(uint64_t done_elems) {
        if (!tty_) return;
        const double frac = std::min(1.0, double(done_elems) / double(total_));
        const int width = 30, filled = static_cast<int>(frac * width);
        std::string bar(static_cast<size_t>(filled), '#');
        bar.resize(width, ' ');
        std::fprintf(stderr, "\r[%s] %5.1f%% %3zu/%zu %-36.36s", bar.c_str(), frac * 100.0, index_ + 1, n_tensors_,
                     name_.c_str());
        std::fflush(stderr);
    }
    void finish() {
        if (tty_) std::fprintf(stderr, "\n");
    }

private:
    uint64_t total_;
    size_t n_tensors_;
    bool tty_;
    size_t index_ = 0;
    std::string name_;
};

// Converts every row of one tensor (src type -> dst type) with n_threads workers.
void convert_tensor(const gguf::File& file, const Plan& p, uint8_t* dst, int n_threads, Progress& progress,
                    uint64_t elems_before) {
    const gguf::TensorInfo& t = *p.info;
    const int64_t ne0 = t.ne[0];
    const int64_t rows = t.n_elements() / ne0;
    const uint8_t* src = file.tensor_data(t);
    const size_t src_row = dtype_row_bytes(t.type, ne0);
    const size_t dst_row = dtype_row_bytes(p.out_type, ne0);
    std::atomic<int64_t> next_row{0}, rows_done{0};
    std::exception_ptr error;
    std::mutex error_mutex;
    const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(64, rows / (8 * n_threads) + 1));
    auto worker = [&] {
        try {
            std::vector<float> row(static_cast<size_t>(ne0));
            for (;;) {
                const int64_t r0 = next_row.fetch_add(chunk);
                if (r0 >= rows) break;
                const int64_t r1 = std::min(rows, r0 + chunk);
                for (int64_t r = r0; r < r1; ++r) {
                    quant::dequantize_row(t.type, src + r * src_row, row.data(), ne0);
                    quant::quantize_row(p.out_type, row.data(), dst + r * dst_row, ne0);
                }
                rows_done.fetch_add(r1 - r0);
            }
        } catch (...) {
            std::lock_guard<std::mutex> lock(error_mutex);
            if (!error) error = std::current_exception();
            next_row.store(rows);
        }
    };
    const int n = static_cast<int>(std::min<int64_t>(n_threads, rows));
    std::vector<std::thread> pool;
    for (int i = 0; i < n; ++i) pool.emplace_back(worker);
    while (rows_done.load() < rows) {
        {
            std::lock_guard<std::mutex> lock(error_mutex);
            if (error) break;
        }
        progress.show(elems_before + static_cast<uint64_t>(rows_done.load() * ne0));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    for (auto& th : pool) th.join();
    if (error) {
        try {
            std::rethrow_exception(error);
        } catch (const Error& e) {
            throw Error(e.kind(), "tensor '" + t.name + "': " + e.what());
        }
    }
    progress.show(elems_before + static_cast<uint64_t>(t.n_elements()));
}

quant::ModelShape model_shape(const gguf::File& file) {
    quant::ModelShape s;
    s.arch = file.get_string("general.architecture").value_or("");
    auto get = [&](const std::string& key) -> int {
        try {
            return static_cast<int>(std::min<uint64_t>(file.get_uint(key).value_or(0), 1u << 20));
        } catch (const Error&) {
            return 0;  // present with another type (e.g. a per-layer array): treat as unknown
        }
    };
    s.n_layer = get(s.arch + ".block_count");
    s.n_head = get(s.arch + ".attention.head_count");
    s.n_head_kv = get(s.arch + ".attention.head_count_kv");
    if (s.n_layer == 0) {  // fall back to counting blocks
        for (const auto& t : file.tensors()) {
            if (t.name.rfind("blk.", 0) == 0) s.n_layer = std::max(s.n_layer, std::atoi(t.name.c_str() + 4) + 1);
        }
    }
    s.has_output = file.find_tensor("output.weight") != nullptr;
    return s;
}

int run_quantize(const std::vector<std::string>& args) {
    std::vector<std::string> pos;
    int n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--help" || a == "-h") {
            print_usage();
            return 0;
        }
        if (a == "--threads" || a == "-t") {
            if (i + 1 >= args.size()) {
                std::fprintf(stderr, "hearth quantize: %s needs a value\n", a.c_str());
                return 1;
            }
            const std::string& v = args[++i];
            char* end = nullptr;
            const long t = std::strtol(v.c_str(), &end, 10);
            if (v.empty() || *end != '\0' || t < 1 || t > 1024) {
                std::fprintf(stderr, "hearth quantize: --threads must be an integer in 1..1024, got '%s'\n", v.c_str());
                return 1;
            }
            n_threads = static_cast<int>(t);
        } else if (!a.empty() && a[0] == '-') {
            std::fprintf(stderr, "hearth quantize: unknown option '%s'\n", a.c_str());
            print_usage();
            return 1;
        } else {
            pos.push_back(a);
        }
    }
    if (pos.size() != 3) {
        print_usage();
        return 1;
    }
    const auto mix = quant::quant_mix_from_name(pos[2]);
    if (!mix) {
        std::fprintf(stderr, "hearth quantize: unknown type '%s'\n\n", pos[2].c_str());
        print_usage();
        return 1;
    }
    const auto start = Clock::now();
    auto file = gguf::File::open(pos[0]);
    const quant::ModelShape shape = model_shape(*file);

    std::vector<Plan> plan;
    uint64_t total_elems = 0, in_bytes = 0, out_bytes = 0;
    for (const auto& t : file->tensors()) {
        DType out = t.type;
        if (quant::is_quantizable_tensor(t.name, static_cast<int>(t.n_dims)))
            out = quant::choose_tensor_type(*mix, shape, t.name, t.ne[0]);
        if (out != t.type) {
            if (!dtype_traits(t.type).can_dequantize)
                throw Error(ErrorKind::Unsupported, "tensor '" + t.name + "' has type " + dtype_name(t.type) +
                                                        ", which hearth cannot convert");
            if (t.ne[0] % dtype_traits(out).block_elems != 0)
                throw Error(ErrorKind::InvalidFile, "tensor '" + t.name + "': row length " + std::to_string(t.ne[0]) +
                                                        " does not fit type " + dtype_name(out));
        }
        const uint64_t nbytes = out == t.type ? t.nbytes : dtype_row_bytes(out, t.ne[0]) * (t.n_elements() / t.ne[0]);
        plan.push_back({&t, out, nbytes});
        total_elems += static_cast<uint64_t>(t.n_elements());
        in_bytes += t.nbytes;
        out_bytes += nbytes;
    }

    size_t requantized = 0;
    for (const auto& p : plan) {
        const DType src = p.info->type;
        if (p.out_type != src && src != DType::F32 && src != DType::F16 && src != DType::BF16) ++requantized;
    }
    if (requantized > 0) {
        std::fprintf(stderr,
                     "hearth quantize: warning: %zu tensors are already quantized and will be re-quantized; "
                     "quality is best when starting from an F16/BF16/F32 model\n",
                     requantized);
    }

    gguf::Writer writer;
    for (const auto& kv : file->kvs()) writer.set(kv.key, kv.value);
    writer.set("general.quantization_version", gguf::Value::u32(2));
    writer.set("general.file_type", gguf::Value::u32(mix->file_type));

    Progress progress(total_elems, plan.size());
    uint64_t elems_before = 0;
    for (size_t i = 0; i < plan.size(); ++i) {
        const Plan& p = plan[i];
        std::vector<int64_t> dims(p.info->ne, p.info->ne + p.info->n_dims);
        const uint64_t before = elems_before;
        elems_before += static_cast<uint64_t>(p.info->n_elements());
        writer.add_tensor(p.info->name, p.out_type, dims, [&, i, before](uint8_t* dst, size_t nbytes) {
            HEARTH_ASSERT(nbytes == plan[i].out_bytes);
            progress.tensor_started(i, plan[i]);
            if (plan[i].out_type == plan[i].info->type) {
                std::memcpy(dst, file->tensor_data(*plan[i].info), nbytes);
                progress.show(before + static_cast<uint64_t>(plan[i].info->n_elements()));
            } else {
                convert_tensor(*file, plan[i], dst, n_threads, progress, before);
            }
        });
    }
    writer.write(pos[1]);
    progress.finish();

    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    std::map<std::string, int> per_type;
    for (const auto& p : plan) ++per_type[dtype_name(p.out_type)];
    std::printf("quantized %s -> %s as %s (general.file_type %u) with %d threads\n", pos[0].c_str(), pos[1].c_str(),
                mix->name, mix->file_type, n_threads);
    std::printf("  tensors: %zu (", plan.size());
    bool first = true;
    for (const auto& [name, count] : per_type) {
        std::printf("%s%s: %d", first ? "" : ", ", name.c_str(), count);
        first = false;
    }
    std::printf(")\n  tensor data: %.2f MiB -> %.2f MiB (%.1f%%), %.2f bits per weight\n", double(in_bytes) / (1 << 20),
                double(out_bytes) / (1 << 20), in_bytes ? 100.0 * double(out_bytes) / double(in_bytes) : 0.0,
                total_elems ? 8.0 * double(out_bytes) / double(total_elems) : 0.0);
    std::printf("  time: %.2f s\n", secs);
    return 0;
}

const CommandRegistration kRegistration("quantize", "convert a GGUF model to another quantization type (Q4_K_M, ...)",
                                        run_quantize);

}  // namespace
}  // namespace hearth::cli
