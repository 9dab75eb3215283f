// Model::load: open the GGUF (mmap by default), pick the architecture from the table, read and
// validate hyper-parameters, bind weights zero-copy and build the tokenizer.
#include "model/model.h"

#include "core/error.h"
#include "model/arch.h"
#include "tokenizer/tokenizer.h"

namespace hearth {

Model::~Model() = default;

std::unique_ptr<Model> Model::load(const std::string& path, const ModelParams& p) {
    gguf::OpenOptions opts;
    opts.use_mmap = p.use_mmap;
    opts.mlock = p.mlock;
    return from_file(gguf::File::open(path, opts));
}

std::unique_ptr<Model> Model::from_file(std::unique_ptr<gguf::File> file) {
    HEARTH_ASSERT(file != nullptr);
    std::unique_ptr<Model> m(new Model());
    m->file_ = std::move(file);
    const gguf::File& f = *m->file_;
    auto arch = f.get_string("general.architecture");
    if (!arch) throw Error(ErrorKind::InvalidFile, "key 'general.architecture' is missing: not a model file");
    m->arch_ = &find_arch(*arch);
    m->hp_ = read_hparams(f, *m->arch_);
    m->w_ = load_weights(f, *m->arch_, m->hp_);
    m->tokenizer_ = Tokenizer::from_gguf(f);
    if (m->tokenizer_->n_vocab() != m->hp_.n_vocab)
        throw Error(ErrorKind::InvalidFile, "the tokenizer has " + std::to_string(m->tokenizer_->n_vocab()) +
                                                " tokens but 'token_embd.weight' has " + std::to_string(m->hp_.n_vocab) + " rows");
    return m;
}

const Tokenizer& Model::tokenizer() const { return *tokenizer_; }

std::optional<std::string> Model::chat_template() const { return file_->get_string("tokenizer.chat_template"); }

uint64_t Model::weight_bytes() const {
    uint64_t n = 0;
    for (const gguf::TensorInfo& t : file_->tensors()) n += t.nbytes;
    return n;
}

}  // namespace hearth
