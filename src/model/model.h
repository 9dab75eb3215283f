// A loaded model: the GGUF file (weights mapped zero-copy), its validated hyper-parameters, its
// architecture's wiring and its tokenizer. Immutable after load(); one Model serves many Contexts.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "gguf/gguf.h"
#include "model/hparams.h"
#include "model/weights.h"

namespace hearth {

class Tokenizer;
struct ArchSpec;
namespace cpu {
class RepackedWeights;
}

struct ModelParams {
    bool use_mmap = true;  // false: read the file into memory (--no-mmap)
    bool mlock = false;    // lock the weights in RAM (warning, not error, when refused)
};

class Model {
public:
    // Opens path, reads and validates the hyper-parameters against the tensor shapes and binds every
    // weight tensor. Throws hearth::Error naming the key or tensor at fault.
    static std::unique_ptr<Model> load(const std::string& path, const ModelParams& p = {});
    // Same from an already opened file (tests, generator round-trips).
    static std::unique_ptr<Model> from_file(std::unique_ptr<gguf::File> file);
    ~Model();

    const Tokenizer& tokenizer() const;
    const gguf::File& file() const { return *file_; }
    const HParams& hparams() const { return hp_; }
    const ModelWeights& weights() const { return w_; }
    const ArchSpec& arch() const { return *arch_; }

    std::string architecture() const { return hp_.arch; }
    int64_t n_ctx_train() const { return hp_.n_ctx_train; }
    int64_t n_embd() const { return hp_.n_embd; }
    int64_t n_vocab() const { return hp_.n_vocab; }
    std::optional<std::string> chat_template() const;  // tokenizer.chat_template
    uint64_t weight_bytes() const;                     // bytes of all tensor data
    // Non-empty when ModelParams::mlock was asked for and the OS refused some of it (the file
    // mapping or the repacked copies the CPU kernels read); says what to do.
    std::string mlock_warning() const;
    // Bytes locked in RAM: the file mapping less the original pages released after repacking, plus
    // the locked repacked copies (0 without a successful --mlock).
    uint64_t locked_bytes() const;

private:
    Model() = default;
    std::unique_ptr<gguf::File> file_;
    std::unique_ptr<Tokenizer> tokenizer_;
    HParams hp_;
    ModelWeights w_;
    const ArchSpec* arch_ = nullptr;
    // CPU-kernel copies of the matmul weights in a row-interleaved layout (backend/cpu/repack.h);
    // declared after file_ so they are dropped before the mapping they were copied from.
    std::unique_ptr<cpu::RepackedWeights> repacked_;
};

}  // namespace hearth
