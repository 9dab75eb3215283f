// Pre-tokenizer pattern sets (the split regexes from the models' tokenizer.json files) and the
// PCRE2 splitting loop (see pretokenizer.h).
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pretokenizer.h"

#include <pcre2.h>

#include "core/error.h"

namespace hearth {

namespace {

// GPT-2's pattern (also MPT, OLMo, Jais, and the second stage of several others).
const char* const kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
// Llama 3: case-insensitive contractions, numbers in groups of at most three digits.
const char* const kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen2: like Llama 3 but every digit on its own.
const char* const kQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

std::vector<std::string> patterns_for(const std::string& pre) {
    if (pre == "gpt-2" || pre == "gpt2" || pre == "mpt" || pre == "olmo" || pre == "jais") {
        return {kGpt2};
    }
    if (pre == "llama3" || pre == "llama-bpe" || pre == "llama-v3" || pre == "dbrx" || pre == "smaug-bpe" ||
        pre == "falcon3" || pre == "pixtral") {
        return {kLlama3};
    }
    if (pre == "qwen2" || pre == "stablelm2" || pre == "deepseek-r1-qwen" || pre == "megrez") {
        return {kQwen2};
    }
    if (pre == "starcoder" || pre == "refact" || pre == "command-r" || pre == "smollm" ||
        pre == "codeshell" || pre == "exaone" || pre == "minerva" || pre == "gpt-neox") {
        // Digits are split individually first, then the GPT-2 pattern runs on the rest.
        return {R"(\p{N})", kGpt2};
    }
    if (pre == "falcon") {
        // Runs of punctuation (Unicode P plus the ASCII symbols HF counts as punctuation), then
        // GPT-2, then numbers in groups of three.
        return {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2, "[0-9][0-9][0-9]"};
    }
    if (pre == "deepseek-llm") {
        return {
            "[\r\n]",
            "\\s?[A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-\u02af"
            "\u0370-\u0373\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1\u03a3-\u03f5"
            "\u03f7-\u0481\u048a-\u052f\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba"
            "\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45"
            "\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b\u1f5d\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe"
            "\u1fc2-\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4\u1ff6-\u1ffc"
            "\u2102\u2107\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d\u212f-\u2134\u2139"
            "\u213c-\u213f\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee\u2cf2\u2cf3"
            "\ua640-\ua66d\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e\uab70-\uabbf\ufb00-\ufb06"
            "\ufb13-\ufb17\uff21-\uff3a\uff41-\uff5a\U00010400-\U0001044f\U000104b0-\U000104d3"
            "\U000104d8-\U000104fb\U00010c80-\U00010cb2\U00010cc0-\U00010cf2\U000118a0-\U000118df"
            "\U0001e900-\U0001e943]+",
            "\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+",
            "\\s+$",
            "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+",
            "\\p{N}+",
        };
    }
    if (pre == "deepseek-coder") {
        return {"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+",
                "\\p{N}"};
    }
    if (pre.empty() || pre == "default") {
        // llama.cpp's default for BPE vocabularies without a known pre-tokenizer.
        return {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"};
    }
    throw Error(
        ErrorKind::Unsupported,
        "tokenizer.ggml.pre: unknown BPE pre-tokenizer '" + pre +
            "' (supported: default, gpt-2, mpt, olmo, jais, llama3/llama-bpe, dbrx, smaug-bpe, falcon3, "
            "pixtral, qwen2, stablelm2, deepseek-r1-qwen, megrez, starcoder, refact, command-r, smollm, "
            "codeshell, exaone, minerva, gpt-neox, falcon, deepseek-llm, deepseek-coder)");
}

}  // namespace

struct PreTokenizer::Pattern {
    pcre2_code* code = nullptr;
    ~Pattern() { pcre2_code_free(code); }
};

bool PreTokenizer::ignores_merges(const std::string& pre) {
    return pre == "llama3" || pre == "llama-bpe" || pre == "llama-v3";
}

std::unique_ptr<PreTokenizer> PreTokenizer::for_name(const std::string& pre) {
    return std::make_unique<PreTokenizer>(patterns_for(pre));
}

PreTokenizer::PreTokenizer(const std::vector<std::string>& patterns) {
    for (const std::string& p : patterns) {
        int err = 0;
        PCRE2_SIZE err_offset = 0;
        auto pat = std::make_unique<Pattern>();
        pat->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(p.data()), p.size(), PCRE2_UTF | PCRE2_UCP,
                                  &err, &err_offset, nullptr);
        if (!pat->code) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof msg);
            throw Error(ErrorKind::InvalidArgument, "pre-tokenizer regex does not compile at offset " +
                                                        std::to_string(err_offset) + ": " +
                                                        reinterpret_cast<const char*>(msg));
        }
        pcre2_jit_compile(pat->code, PCRE2_JIT_COMPLETE);  // optional speed-up; interpreter otherwise
        patterns_.push_back(std::move(pat));
    }
}

PreTokenizer::~PreTokenizer() = default;

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>& out) const {
    std::vector<std::string_view> pieces{text};
    std::vector<std::string_view> next;
    for (const auto& pat : patterns_) {
        pcre2_match_data* md = pcre2_match_data_create_from_pattern(pat->code, nullptr);
        if (!md) throw Error(ErrorKind::OutOfMemory, "pre-tokenizer: cannot allocate PCRE2 match data");
        next.clear();
        for (std::string_view piece : pieces) {
            const auto* subject = reinterpret_cast<PCRE2_SPTR>(piece.data());
            size_t pos = 0;
            size_t gap_start = 0;
            while (pos < piece.size()) {
                const int rc =
                    pcre2_match(pat->code, subject, piece.size(), pos, PCRE2_NO_UTF_CHECK, md, nullptr);
                if (rc < 0) break;  // no further match (or a resource limit: keep the rest whole)
                const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
                const size_t start = ov[0], end = ov[1];
                if (end == start) {  // empty match: step over one code point
                    pos = end + 1;
                    while (pos < piece.size() && (static_cast<uint8_t>(piece[pos]) & 0xC0) == 0x80) ++pos;
                    continue;
                }
                if (start > gap_start) next.push_back(piece.substr(gap_start, start - gap_start));
                next.push_back(piece.substr(start, end - start));
                pos = gap_start = end;
            }
            if (gap_start < piece.size()) next.push_back(piece.substr(gap_start));
        }
        pcre2_match_data_free(md);
        pieces.swap(next);
    }
    out.insert(out.end(), pieces.begin(), pieces.end());
}

}  // namespace hearth
