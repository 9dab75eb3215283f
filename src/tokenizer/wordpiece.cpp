// WordPiece encoding (BERT-style "bert" vocabularies, e.g. bge): BERT normalization (drop control
// characters, NFD + strip combining marks, lowercase; via ICU), split on whitespace, isolate
// punctuation and CJK ideographs, then greedy longest-match-first per word. GGUF stores
// word-initial pieces with a leading U+2581 and continuation pieces bare (HF's "##x" is "x").
// A word that cannot be fully spelled, or is longer than 100 code points, becomes [UNK].
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include "core/error.h"
#include "core/utf8.h"
#include "tokenizer/vocab.h"

namespace hearth {

namespace {

constexpr size_t kMaxWordChars = 100;

bool is_cjk(uint32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

bool is_whitespace(uint32_t cp) {
    return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' ||
           u_charType(static_cast<UChar32>(cp)) == U_SPACE_SEPARATOR;
}

// BERT clean_text: NUL, U+FFFD and "other" characters (Cc, Cf, Co, Cn, Cs) vanish; \t \n \r
// are whitespace.
bool is_dropped(uint32_t cp) {
    if (cp == 0 || cp == 0xFFFD) return true;
    if (cp == '\t' || cp == '\n' || cp == '\r') return false;
    const int8_t t = u_charType(static_cast<UChar32>(cp));
    return t == U_CONTROL_CHAR || t == U_FORMAT_CHAR || t == U_PRIVATE_USE_CHAR || t == U_UNASSIGNED ||
           t == U_SURROGATE;
}

bool is_punctuation(uint32_t cp) {
    if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
        (cp >= 123 && cp <= 126)) {
        return true;
    }
    return u_ispunct(static_cast<UChar32>(cp));
}

// Greedy longest-match-first spelling of one word (lowercased, normalized UTF-8).
void encode_word(const Tokenizer::Impl& v, const std::string& word, size_t n_chars,
                 std::vector<int32_t>& out) {
    if (n_chars > kMaxWordChars) {
        if (v.unk >= 0) out.push_back(v.unk);
        return;
    }
    const size_t mark = out.size();
    std::string candidate;
    size_t pos = 0;
    while (pos < word.size()) {
        int32_t found = -1;
        size_t found_end = pos;
        // Try the longest remaining prefix first, shrinking one code point at a time.
        size_t end = word.size();
        while (end > pos) {
            candidate.clear();
            if (pos == 0) candidate = "\xE2\x96\x81";  // U+2581 word-initial marker
            candidate.append(word, pos, end - pos);
            const int32_t id = v.lookup(candidate);
            if (id >= 0) {
                found = id;
                found_end = end;
                break;
            }
            do {
                --end;
            } while (end > pos && (static_cast<uint8_t>(word[end]) & 0xC0) == 0x80);
        }
        if (found < 0) {
            out.resize(mark);
            if (v.unk >= 0) out.push_back(v.unk);
            return;
        }
        out.push_back(found);
        pos = found_end;
    }
}

const icu::Normalizer2& nfd() {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* n = icu::Normalizer2::getNFDInstance(status);
    if (U_FAILURE(status) || !n) throw Error(ErrorKind::Internal, "ICU: NFD normalizer unavailable");
    return *n;
}

}  // namespace

void wordpiece_encode(const Tokenizer::Impl& v, std::string_view text, std::vector<int32_t>& out) {
    UErrorCode status = U_ZERO_ERROR;
    icu::UnicodeString decomposed = nfd().normalize(
        icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size()))),
        status);
    if (U_FAILURE(status)) throw Error(ErrorKind::Internal, "ICU: NFD normalization failed");

    std::string word;
    size_t word_chars = 0;
    const auto flush = [&] {
        if (!word.empty()) encode_word(v, word, word_chars, out);
        word.clear();
        word_chars = 0;
    };
    for (int32_t i = 0; i < decomposed.length();) {
        const UChar32 c = decomposed.char32At(i);
        i += U16_LENGTH(c);
        auto cp = static_cast<uint32_t>(c);
        if (cp >= 0xD800 && cp <= 0xDFFF)
            cp = utf8::kReplacement;  // unpaired surrogate (not from valid input)
        if (is_dropped(cp)) continue;
        if (is_whitespace(cp)) {
            flush();
            continue;
        }
        if (u_charType(c) == U_NON_SPACING_MARK) continue;  // accents stripped after NFD
        cp = static_cast<uint32_t>(u_tolower(static_cast<UChar32>(cp)));
        if (is_punctuation(cp) || is_cjk(cp)) {
            flush();
            utf8::append(word, cp);
            word_chars = 1;
            flush();
            continue;
        }
        utf8::append(word, cp);
        ++word_chars;
    }
    flush();
}

}  // namespace hearth
