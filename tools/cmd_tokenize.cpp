// `hearth tokenize -m FILE (-p TEXT | -f FILE) [--ids] [--no-bos] [--no-parse-special]`: runs the
// model's tokenizer on a text and prints one `id -> 'piece'` line per token, or a JSON id array.
// Pieces are printed with \n, \t, \r, \\, \' escaped and bytes that are not valid UTF-8 as \xNN.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "command.h"
#include "core/error.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"
#include "core/utf8.h"

namespace hearth::cli {
namespace {

void usage() {
    std::fprintf(
        stderr,
        "usage: hearth tokenize -m FILE (-p TEXT | -f FILE) [--ids] [--no-bos] [--no-parse-special]\n"
        "  -m, --model FILE      GGUF file with tokenizer metadata (a model or a vocab-only file)\n"
        "  -p, --prompt TEXT     text to tokenize\n"
        "  -f, --file FILE       read the text from FILE (bytes as is)\n"
        "  --ids                 print only a JSON array of token ids\n"
        "  --no-bos              do not add BOS/EOS (CLS/SEP) even when the model asks for them\n"
        "  --no-parse-special    treat control-token texts like <|im_end|> as plain text\n");
}

std::string escape_piece(const std::string& piece) {
    std::string out;
    for (size_t i = 0; i < piece.size();) {
        const size_t len = utf8::valid_length(piece, i);
        const unsigned char c = static_cast<unsigned char>(piece[i]);
        if (len == 0 || c < 0x20 || c == 0x7F) {
            char buf[8];
            if (c == '\n') {
                out += "\\n";
            } else if (c == '\t') {
                out += "\\t";
            } else if (c == '\r') {
                out += "\\r";
            } else {
                std::snprintf(buf, sizeof buf, "\\x%02X", c);
                out += buf;
            }
            ++i;
            continue;
        }
        if (c == '\\' || c == '\'') out += '\\';
        out.append(piece, i, len);
        i += len;
    }
    return out;
}

int run_tokenize(const std::vector<std::string>& args) {
    std::string model, text, text_file;
    bool have_text = false, ids_only = false, add_special = true, parse_special = true;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        const auto value = [&](std::string& dst) {
            if (i + 1 >= args.size()) {
                std::fprintf(stderr, "hearth tokenize: %s needs a value\n", a.c_str());
                return false;
            }
            dst = args[++i];
            return true;
        };
        if (a == "-h" || a == "--help") {
            usage();
            return 0;
        } else if (a == "-m" || a == "--model") {
            if (!value(model)) return 1;
        } else if (a == "-p" || a == "--prompt") {
            if (!value(text)) return 1;
            have_text = true;
        } else if (a == "-f" || a == "--file") {
            if (!value(text_file)) return 1;
        } else if (a == "--ids") {
            ids_only = true;
        } else if (a == "--no-bos") {
            add_special = false;
        } else if (a == "--no-parse-special") {
            parse_special = false;
        } else {
            std::fprintf(stderr, "hearth tokenize: unknown option '%s'\n", a.c_str());
            usage();
            return 1;
        }
    }
    if (model.empty() || (have_text == !text_file.empty())) {
        std::fprintf(stderr, "hearth tokenize: need -m FILE and exactly one of -p TEXT / -f FILE\n");
        usage();
        return 1;
    }
    if (!text_file.empty()) {
        std::ifstream in(text_file, std::ios::binary);
        if (!in) throw Error(ErrorKind::Io, "cannot read text file '" + text_file + "'");
        std::stringstream ss;
        ss << in.rdbuf();
        text = ss.str();
    }

    const auto file = gguf::File::open(model);
    const auto tok = Tokenizer::from_gguf(*file);
    const std::vector<int32_t> ids = tok->encode(text, add_special, parse_special);

    if (ids_only) {
        std::string out = "[";
        for (size_t i = 0; i < ids.size(); ++i) {
            if (i) out += ", ";
            out += std::to_string(ids[i]);
        }
        out += "]\n";
        std::fputs(out.c_str(), stdout);
        return 0;
    }
    for (int32_t id : ids) {
        std::printf("%6d -> '%s'\n", id,
                    escape_piece(tok->token_to_piece(id, /*render_special=*/true)).c_str());
    }
    return 0;
}

const CommandRegistration kRegistration("tokenize", "print the token ids of a text", run_tokenize);

}  // namespace
}  // namespace hearth::cli
