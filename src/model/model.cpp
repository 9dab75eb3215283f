// Model::load: open the GGUF (mmap by default), pick the architecture from the table, read and
// validate hyper-parameters, bind weights zero-copy and build the tokenizer.
#include "model/model.h"

#include "backend/cpu/repack.h"
#include "core/error.h"
#include "model/arch.h"
#include "tokenizer/tokenizer.h"

namespace hearth {

Model::~Model() = default;

namespace {
// The 2-D matrices the graphs multiply activations by (candidates for CPU weight repacking).
// locked: the model is mlock'ed, so a matrix get_rows also reads (a tied embedding) keeps its
// original rows resident and locked beside the repacked copy.
std::vector<cpu::WeightDesc> matmul_weights(const ModelWeights& w, bool locked) {
    std::vector<cpu::WeightDesc> out;
    auto add = [&](const TensorRef& r) {
        if (r && r.ne[2] == 1 && r.ne[3] == 1)
            out.push_back({r.data, r.type, r.ne[0], r.ne[1], r.row_bytes, locked && r.data == w.tok_embd.data});
    };
    add(w.output);
    for (const LayerWeights& l : w.layers) {
        for (const TensorRef* r : {&l.wq, &l.wk, &l.wv, &l.wo, &l.ffn_gate, &l.ffn_up, &l.ffn_down}) add(*r);
    }
    return out;
}
}  // namespace

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
    // When the weights are a plain file mapping, repacking drops the original rows' pages as it
    // goes (the kernels read only the repacked copies), so they stay resident only once. Under
    // --mlock the copies are locked in their place.
    m->repacked_ = std::make_unique<cpu::RepackedWeights>(
        matmul_weights(m->w_, f.is_mlocked()),
        cpu::RepackOptions{.release_originals = f.is_mmapped(), .lock = f.is_mlocked()});
    m->tokenizer_ = Tokenizer::from_gguf(f);
    if (m->tokenizer_->n_vocab() != m->hp_.n_vocab)
        throw Error(ErrorKind::InvalidFile, "the tokenizer has " + std::to_string(m->tokenizer_->n_vocab()) +
                                                " tokens but 'token_embd.weight' has " + std::to_string(m->hp_.n_vocab) + " rows");
    return m;
}

const Tokenizer& Model::tokenizer() const { return *tokenizer_; }

std::optional<std::string> Model::chat_template() const { return file_->get_string("tokenizer.chat_template"); }

std::string Model::mlock_warning() const {
    std::string w = file_->mlock_warning();
    if (repacked_ && !repacked_->lock_warning().empty()) w += (w.empty() ? "" : "; ") + repacked_->lock_warning();
    return w;
}

uint64_t Model::locked_bytes() const {
    if (!file_->is_mlocked()) return 0;
    const uint64_t copies = repacked_ ? repacked_->locked_bytes() : 0;
    return file_->file_size() - (repacked_ ? repacked_->released_bytes() : 0) + copies;
}

uint64_t Model::weight_bytes() const {
    uint64_t n = 0;
    for (const gguf::TensorInfo& t : file_->tensors()) n += t.nbytes;
    return n;
}

}  // namespace hearth
