// Tokenizer: loading tokenizer.ggml.* metadata into Tokenizer::Impl, special-token partitioning,
// BOS/EOS handling, dispatch to the SPM / BPE / WordPiece encoders, and detokenization.
#include "tokenizer/tokenizer.h"

#include <cstdio>
#include <set>

#include "core/error.h"
#include "gguf/gguf.h"
#include "core/utf8.h"
#include "tokenizer/vocab.h"

namespace hearth {

namespace {

const std::string kEmpty;
constexpr std::string_view kSpmSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's escaped space

// Texts of tokens that end a turn in common chat formats (used when tokenizer.ggml.eot_token_id is
// absent, and to mark end-of-generation tokens).
constexpr std::string_view kEotTexts[] = {"<|eot_id|>",    "<|im_end|>", "<|end|>", "<end_of_turn>",
                                          "<|endoftext|>", "<EOT>",      "_<EOT>",  "<｜end▁of▁sentence｜>"};
constexpr std::string_view kExtraEogTexts[] = {"<|eom_id|>", "<|end_of_text|>", "<|return|>", "<|call|>"};

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
    std::string out;
    out.reserve(s.size() + s.size() / 2);
    size_t pos = 0;
    while (true) {
        const size_t hit = s.find(from, pos);
        if (hit == std::string_view::npos) break;
        out.append(s, pos, hit - pos);
        out.append(to);
        pos = hit + from.size();
    }
    out.append(s, pos);
    return out;
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

// "<0xAB>" -> 0xAB; -1 for any other text.
int parse_byte_token(const std::string& text) {
    if (text.size() != 6 || text.compare(0, 3, "<0x") != 0 || text[5] != '>') return -1;
    const int hi = hex_digit(text[3]), lo = hex_digit(text[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

int32_t read_id(const gguf::File& f, const char* key, int32_t n_vocab) {
    const std::optional<int64_t> id = f.get_int(key);
    if (!id) return -1;
    if (*id < 0 || *id >= n_vocab) {
        throw Error(ErrorKind::InvalidFile, std::string(key) + ": token id " + std::to_string(*id) +
                                                " is outside the vocabulary (n_vocab " +
                                                std::to_string(n_vocab) + ")");
    }
    return static_cast<int32_t>(*id);
}

void load_vocabulary(const gguf::File& f, Tokenizer::Impl& v) {
    const auto* tokens = f.get_string_array("tokenizer.ggml.tokens");
    if (!tokens)
        throw Error(ErrorKind::InvalidFile, "tokenizer.ggml.tokens: missing (no vocabulary in this file)");
    if (tokens->empty() || tokens->size() > static_cast<size_t>(INT32_MAX)) {
        throw Error(ErrorKind::InvalidFile,
                    "tokenizer.ggml.tokens: bad vocabulary size " + std::to_string(tokens->size()));
    }
    const size_t n = tokens->size();
    v.texts = *tokens;
    v.scores.assign(n, 0.0f);
    v.types.assign(n, TokenType::Normal);
    if (const auto* scores = f.get_float_array("tokenizer.ggml.scores")) {
        if (scores->size() != n) {
            throw Error(ErrorKind::InvalidFile, "tokenizer.ggml.scores: " + std::to_string(scores->size()) +
                                                    " entries for " + std::to_string(n) + " tokens");
        }
        for (size_t i = 0; i < n; ++i) v.scores[i] = static_cast<float>((*scores)[i]);
    } else if (v.kind == TokenizerKind::Spm) {
        throw Error(ErrorKind::InvalidFile,
                    "tokenizer.ggml.scores: missing (required by the SentencePiece tokenizer)");
    }
    if (const auto* types = f.get_int_array("tokenizer.ggml.token_type")) {
        if (types->size() != n) {
            throw Error(ErrorKind::InvalidFile,
                        "tokenizer.ggml.token_type: " + std::to_string(types->size()) + " entries for " +
                            std::to_string(n) + " tokens");
        }
        for (size_t i = 0; i < n; ++i) {
            const int64_t t = (*types)[i];
            if (t < 0 || t > static_cast<int64_t>(TokenType::Byte)) {
                throw Error(ErrorKind::InvalidFile, "tokenizer.ggml.token_type[" + std::to_string(i) +
                                                        "]: unknown token type " + std::to_string(t));
            }
            v.types[i] = static_cast<TokenType>(t);
        }
    }
    v.text_to_id.build(v.texts);
}

void load_special_ids(const gguf::File& f, Tokenizer::Impl& v) {
    const int32_t n = v.n_vocab();
    v.bos = read_id(f, "tokenizer.ggml.bos_token_id", n);
    v.eos = read_id(f, "tokenizer.ggml.eos_token_id", n);
    v.eot = read_id(f, "tokenizer.ggml.eot_token_id", n);
    v.eom = read_id(f, "tokenizer.ggml.eom_token_id", n);
    v.unk = read_id(f, "tokenizer.ggml.unknown_token_id", n);
    v.sep = read_id(f, "tokenizer.ggml.seperator_token_id", n);  // sic: the GGUF key is misspelled
    v.pad = read_id(f, "tokenizer.ggml.padding_token_id", n);
    v.cls = read_id(f, "tokenizer.ggml.cls_token_id", n);
    v.mask = read_id(f, "tokenizer.ggml.mask_token_id", n);
    if (v.kind == TokenizerKind::WordPiece) {
        if (v.bos < 0) v.bos = v.cls;  // BERT's sequence start is [CLS]
        if (v.cls < 0) v.cls = v.bos;
    }

    const bool spm = v.kind == TokenizerKind::Spm, wpm = v.kind == TokenizerKind::WordPiece;
    v.add_bos = f.get_bool("tokenizer.ggml.add_bos_token").value_or(spm || wpm);
    v.add_eos = wpm ? f.get_bool("tokenizer.ggml.add_sep_token").value_or(true)
                    : f.get_bool("tokenizer.ggml.add_eos_token").value_or(false);
    v.add_space_prefix = f.get_bool("tokenizer.ggml.add_space_prefix").value_or(spm);

    const auto special_typed = [&](int32_t id) {
        return v.types[id] == TokenType::Control || v.types[id] == TokenType::UserDefined;
    };
    if (v.eot < 0) {
        for (std::string_view text : kEotTexts) {
            const int32_t id = v.lookup(text);
            if (id >= 0 && special_typed(id)) {
                v.eot = id;
                break;
            }
        }
    }
    v.eog.assign(static_cast<size_t>(n), 0);
    for (int32_t id : {v.eos, v.eot, v.eom}) {
        if (id >= 0) v.eog[id] = 1;
    }
    const auto mark_eog = [&](std::string_view text) {
        const int32_t id = v.lookup(text);
        if (id >= 0 && special_typed(id)) v.eog[id] = 1;
    };
    for (std::string_view text : kEotTexts) mark_eog(text);
    for (std::string_view text : kExtraEogTexts) mark_eog(text);

    for (int32_t id = 0; id < n; ++id) {
        const TokenType t = v.types[id];
        if (t == TokenType::Control || t == TokenType::UserDefined || t == TokenType::Unknown) {
            v.specials.add(v.texts[id], id, t == TokenType::UserDefined);
        }
    }
}

void load_bpe(const gguf::File& f, Tokenizer::Impl& v) {
    for (int b = 0; b < 256; ++b) {
        v.byte_tokens[b] = v.lookup(bpe_bytes_to_text(std::string(1, static_cast<char>(b))));
    }
    const auto* merges = f.get_string_array("tokenizer.ggml.merges");
    if (!merges)
        throw Error(ErrorKind::InvalidFile, "tokenizer.ggml.merges: missing (required by the BPE tokenizer)");
    std::string joined;
    for (size_t i = 0; i < merges->size(); ++i) {
        const std::string& m = (*merges)[i];
        const size_t space = m.find(' ', 1);
        if (space == std::string::npos || space + 1 >= m.size()) {
            throw Error(ErrorKind::InvalidFile, "tokenizer.ggml.merges[" + std::to_string(i) + "]: '" + m +
                                                    "' is not of the form 'left right'");
        }
        const std::string_view left(m.data(), space), right(m.data() + space + 1, m.size() - space - 1);
        joined.assign(left);
        joined.append(right);
        const int32_t l = v.lookup(left), r = v.lookup(right), result = v.lookup(joined);
        if (l < 0 || r < 0 || result < 0) continue;  // a rule that can never apply to this vocabulary
        v.merges.add(l, r, static_cast<int32_t>(i), result);
    }
    const std::string pre = v.pre == "default" ? "" : v.pre;
    v.pretokenizer = PreTokenizer::for_name(pre);
    v.ignore_merges = PreTokenizer::ignores_merges(pre);
}

void load_spm(Tokenizer::Impl& v) {
    char name[8];
    for (int b = 0; b < 256; ++b) {
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        v.byte_tokens[b] = v.lookup(name);
    }
    std::set<uint32_t> joins;
    for (const std::string& text : v.texts) {
        for (size_t pos = text.find(kSpmSpace, 1); pos != std::string::npos;
             pos = text.find(kSpmSpace, pos + 1)) {
            size_t start = pos - 1;  // back to the lead byte of the preceding character
            while (start > 0 && (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80) --start;
            if (utf8::valid_length(text, start) != pos - start)
                continue;  // not valid UTF-8: cannot match text
            size_t i = start;
            joins.insert(utf8::next(text, i));
        }
    }
    v.spm_joins_space.assign(joins.begin(), joins.end());
}

}  // namespace

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const gguf::File& file) {
    auto v = std::make_unique<Impl>();
    const std::optional<std::string> model = file.get_string("tokenizer.ggml.model");
    if (!model)
        throw Error(ErrorKind::InvalidFile, "tokenizer.ggml.model: missing (no tokenizer in this file)");
    if (*model == "llama") {
        v->kind = TokenizerKind::Spm;
    } else if (*model == "gpt2") {
        v->kind = TokenizerKind::Bpe;
    } else if (*model == "bert") {
        v->kind = TokenizerKind::WordPiece;
    } else {
        throw Error(ErrorKind::Unsupported, "tokenizer.ggml.model: unsupported tokenizer '" + *model +
                                                "' (supported: llama, gpt2, bert)");
    }
    v->pre = file.get_string("tokenizer.ggml.pre").value_or("");
    load_vocabulary(file, *v);
    load_special_ids(file, *v);
    if (v->kind == TokenizerKind::Bpe) load_bpe(file, *v);
    if (v->kind == TokenizerKind::Spm) load_spm(*v);
    return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(v)));
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
    const Impl& v = *impl_;
    const std::string clean = utf8::sanitize(text);
    std::vector<TextFragment> fragments;
    v.specials.partition(clean, parse_special, fragments);

    std::vector<int32_t> out;
    out.reserve(clean.size() / 3 + 4);
    if (add_special && v.add_bos && v.bos >= 0) out.push_back(v.bos);
    bool prev_special = true;  // SPM: a text fragment at the start or after a special token gets " "
    for (const TextFragment& frag : fragments) {
        if (frag.token >= 0) {
            out.push_back(frag.token);
            prev_special = true;
            continue;
        }
        switch (v.kind) {
            case TokenizerKind::Spm: {
                std::string escaped;
                if (v.add_space_prefix && prev_special) escaped = std::string(kSpmSpace);
                escaped += replace_all(frag.text, " ", kSpmSpace);
                spm_encode(v, escaped, out);
                break;
            }
            case TokenizerKind::Bpe:
                bpe_encode(v, frag.text, out);
                break;
            case TokenizerKind::WordPiece:
                wordpiece_encode(v, frag.text, out);
                break;
        }
        prev_special = false;
    }
    if (add_special && v.add_eos) {
        const int32_t end = v.kind == TokenizerKind::WordPiece ? v.sep : v.eos;
        if (end >= 0) out.push_back(end);
    }
    return out;
}

std::string Tokenizer::token_to_piece(int32_t id, bool render_special) const {
    const Impl& v = *impl_;
    if (!v.valid(id)) return {};
    const std::string& text = v.texts[id];
    switch (v.types[id]) {
        case TokenType::Control:
        case TokenType::Unknown:
        case TokenType::Unused:
            return render_special ? text : std::string();
        case TokenType::Byte:
            if (v.kind == TokenizerKind::Spm) {
                const int byte = parse_byte_token(text);
                if (byte >= 0) return std::string(1, static_cast<char>(byte));
            }
            break;
        case TokenType::UserDefined:
            if (v.kind != TokenizerKind::Spm) return text;  // added tokens are stored as raw text
            break;
        default:
            break;
    }
    switch (v.kind) {
        case TokenizerKind::Spm:
            return replace_all(text, kSpmSpace, " ");
        case TokenizerKind::WordPiece:
            if (text.compare(0, kSpmSpace.size(), kSpmSpace) == 0) return " " + text.substr(kSpmSpace.size());
            return text;
        case TokenizerKind::Bpe: {
            std::string out;
            if (!utf8::is_valid(text)) return text;
            for (size_t i = 0; i < text.size();) {
                const size_t start = i;
                const int b = bpe_codepoint_to_byte(utf8::next(text, i));
                if (b >= 0) {
                    out += static_cast<char>(b);
                } else {
                    out.append(text, start, i - start);  // outside the byte alphabet: keep as is
                }
            }
            return out;
        }
    }
    return text;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool render_special) const {
    const Impl& v = *impl_;
    std::string out;
    for (size_t i = 0; i < ids.size(); ++i) {
        std::string piece = token_to_piece(ids[i], render_special);
        // Undo the space encode() put in front of the text: SPM with add_space_prefix, at the
        // first token (after an optional BOS); WordPiece's word-initial marker on the first word.
        const bool first_text = i == 0 || (i == 1 && ids[0] == v.bos);
        if (first_text && !piece.empty() && piece[0] == ' ' &&
            ((v.kind == TokenizerKind::Spm && v.add_space_prefix) || (v.kind == TokenizerKind::WordPiece))) {
            piece.erase(0, 1);
        }
        out += piece;
    }
    return out;
}

int32_t Tokenizer::n_vocab() const {
    return impl_->n_vocab();
}
int32_t Tokenizer::bos() const {
    return impl_->bos;
}
int32_t Tokenizer::eos() const {
    return impl_->eos;
}
int32_t Tokenizer::eot() const {
    return impl_->eot;
}
int32_t Tokenizer::unk() const {
    return impl_->unk;
}
int32_t Tokenizer::sep() const {
    return impl_->sep;
}
int32_t Tokenizer::pad() const {
    return impl_->pad;
}
int32_t Tokenizer::cls() const {
    return impl_->cls;
}
bool Tokenizer::add_bos() const {
    return impl_->add_bos;
}
bool Tokenizer::add_eos() const {
    return impl_->add_eos;
}
TokenizerKind Tokenizer::kind() const {
    return impl_->kind;
}
const std::string& Tokenizer::pre() const {
    return impl_->pre;
}

bool Tokenizer::is_eog(int32_t id) const {
    return impl_->valid(id) && impl_->eog[id];
}
bool Tokenizer::is_control(int32_t id) const {
    return impl_->valid(id) && impl_->types[id] == TokenType::Control;
}
TokenType Tokenizer::token_type(int32_t id) const {
    return impl_->valid(id) ? impl_->types[id] : TokenType::Undefined;
}
float Tokenizer::token_score(int32_t id) const {
    return impl_->valid(id) ? impl_->scores[id] : 0.0f;
}
std::optional<int32_t> Tokenizer::find_token(std::string_view text) const {
    const int32_t id = impl_->lookup(text);
    return id >= 0 ? std::optional<int32_t>(id) : std::nullopt;
}
const std::string& Tokenizer::token_text(int32_t id) const {
    return impl_->valid(id) ? impl_->texts[id] : kEmpty;
}

}  // namespace hearth
