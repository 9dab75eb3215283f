// `hearth embed -m FILE -p TEXT [-p TEXT ...] [--pooling P] [--embd-normalize N]
// [--embd-output-format json|array|json+]`: prints one embedding per text (text lines "embedding i:"
// by default; json as /v1/embeddings' data list; json+ adds the cosine-similarity matrix).
// `hearth embed -m RERANKER --rerank -q QUERY -p DOC [-p DOC ...]`: one relevance score per document
// (lines "rerank score i:"; json as /v1/rerank's results, best first; array: scores in input order).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_parse.h"
#include "command.h"
#include "core/error.h"
#include "model/model.h"
#include "runtime/embedding.h"
#include "runtime/pooling.h"

namespace hearth::cli {
namespace {

void usage() {
    std::fprintf(stderr,
                 "usage: hearth embed -m FILE (-p TEXT [-p TEXT ...] | -f FILE) [--pooling none|mean|cls|last|rank]\n"
                 "                    [--embd-normalize N] [--embd-output-format json|array|json+] [--embd-separator S]\n"
                 "                    [-c N] [-b N] [-ub N] [-t N] [--no-mmap] [--device none|cpu] [-ngl N]\n"
                 "  -p TEXT                 a text to embed (repeatable); -f FILE: texts separated by --embd-separator (default newline)\n"
                 "  --rerank -q QUERY       score each text as a document for QUERY with the model's rank head (cross-encoder)\n"
                 "  --pooling P             override the model's pooling (<arch>.pooling_type)\n"
                 "  --embd-normalize N      -1 none, 0 max-abs int16, 1 taxicab, 2 euclidean (default), >2 p-norm\n"
                 "  --embd-output-format F  json (OpenAI list), array (nested arrays), json+ (json + cosine similarities)\n"
                 "  --device none / -ngl 0  run from RAM on the CPU (the only backend hearth has today)\n");
}

std::vector<std::string> split(const std::string& s, const std::string& sep) {
    std::vector<std::string> out;
    size_t p = 0;
    while (true) {
        const size_t q = sep.empty() ? std::string::npos : s.find(sep, p);
        std::string part = s.substr(p, q == std::string::npos ? std::string::npos : q - p);
        if (!part.empty()) out.push_back(part);
        if (q == std::string::npos) break;
        p = q + sep.size();
    }
    return out;
}

// --rerank: scores of the documents for the query, printed as `format` says.
int print_rerank(const Model& model, const EmbedParams& ep, const std::string& query, const std::vector<std::string>& docs,
                 const std::string& format) {
    if (format == "json+") throw Error(ErrorKind::InvalidArgument, "--embd-output-format json+ has no meaning with --rerank");
    Embedder emb(model, ep);
    size_t n_tokens = 0;
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<float> scores = emb.rank(query, docs, &n_tokens);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "rerank: %zu documents, %zu tokens in %.3f s (%.1f pairs/s)\n", docs.size(), n_tokens, secs, double(docs.size()) / secs);
    if (format.empty()) {
        for (size_t i = 0; i < scores.size(); ++i) std::printf("rerank score %zu: %10.6f\n", i, double(scores[i]));
    } else if (format == "array") {
        std::printf("%s\n", nlohmann::json(scores).dump().c_str());
    } else {  // json: the /v1/rerank results list, best first
        std::vector<size_t> order(scores.size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
        nlohmann::json results = nlohmann::json::array();
        for (size_t i : order) results.push_back({{"index", i}, {"relevance_score", scores[i]}});
        std::printf("%s\n", nlohmann::json{{"object", "list"}, {"results", results}}.dump(2).c_str());
    }
    return 0;
}

int run_embed(const std::vector<std::string>& args) {
    std::string model_path, text_file, format, sep = "\n", device = "cpu", query;
    bool rerank = false, have_query = false;
    std::vector<std::string> texts;
    EmbedParams ep;
    ModelParams mp;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& o = args[i];
        const auto need = [&]() -> const std::string& {
            if (i + 1 >= args.size()) throw Error(ErrorKind::InvalidArgument, "option " + o + " needs a value");
            return args[++i];
        };
        if (o == "-h" || o == "--help") {
            usage();
            return 0;
        } else if (o == "-m" || o == "--model") model_path = need();
        else if (o == "-p" || o == "--prompt") texts.push_back(need());
        else if (o == "-f" || o == "--file") text_file = need();
        else if (o == "--rerank" || o == "--reranking") rerank = true;
        else if (o == "-q" || o == "--query") {
            query = need();
            have_query = true;
        }
        else if (o == "--pooling") ep.pooling = parse_pooling(need());
        else if (o == "--embd-normalize") ep.normalize = int(parse_int(o, need()));
        else if (o == "--embd-output-format") format = need();
        else if (o == "--embd-separator") sep = need();
        else if (o == "-c" || o == "--ctx-size") ep.n_ctx = parse_int(o, need());
        else if (o == "-b" || o == "--batch-size") ep.n_batch = int(parse_int(o, need()));
        else if (o == "-ub" || o == "--ubatch-size") ep.n_ubatch = int(parse_int(o, need()));
        else if (o == "-t" || o == "--threads") ep.n_threads = int(parse_int(o, need()));
        else if (o == "--no-mmap") mp.use_mmap = false;
        else if (o == "--device" || o == "-dev") device = need();
        else if (o == "-ngl" || o == "--n-gpu-layers") {
            if (parse_int(o, need()) != 0) std::fprintf(stderr, "hearth embed: no GPU backend is built in; -ngl is ignored, running on the CPU\n");
        } else {
            std::fprintf(stderr, "hearth embed: unknown option '%s'\n", o.c_str());
            usage();
            return 1;
        }
    }
    if (model_path.empty() || (texts.empty() == text_file.empty())) {
        std::fprintf(stderr, "hearth embed: need -m FILE and either -p TEXT (repeatable) or -f FILE\n");
        usage();
        return 1;
    }
    if (rerank != have_query) {
        std::fprintf(stderr, "hearth embed: --rerank and -q QUERY go together (the texts are the documents)\n");
        usage();
        return 1;
    }
    if (format != "" && format != "json" && format != "array" && format != "json+")
        throw Error(ErrorKind::InvalidArgument, "--embd-output-format must be json, array or json+, got '" + format + "'");
    if (device != "none" && device != "cpu")
        throw Error(ErrorKind::InvalidArgument, "--device '" + device + "': only none / cpu are available (no GPU backend is built in)");
    if (ep.n_ctx < 0 || ep.n_batch < 1 || ep.n_ubatch < 1) throw Error(ErrorKind::InvalidArgument, "-c must be >= 0, -b and -ub >= 1");
    if (!text_file.empty()) {
        std::ifstream in(text_file, std::ios::binary);
        if (!in) throw Error(ErrorKind::Io, "cannot read text file '" + text_file + "'");
        std::stringstream ss;
        ss << in.rdbuf();
        texts = split(ss.str(), sep);
        if (texts.empty()) throw Error(ErrorKind::InvalidArgument, "'" + text_file + "' holds no text");
    }

    const auto model = Model::load(model_path, mp);
    if (rerank) {
        if (ep.pooling != PoolingType::Unspecified && ep.pooling != PoolingType::Rank)
            throw Error(ErrorKind::InvalidArgument, "--rerank uses pooling rank; drop --pooling");
        ep.pooling = PoolingType::Rank;
        return print_rerank(*model, ep, query, texts, format);
    }
    Embedder emb(*model, ep);
    std::fprintf(stderr, "embed: buffers: weights %.1f MiB, KV cache, compute -> CPU (RAM); pooling %s, normalize %d\n",
                 double(model->weight_bytes()) / (1 << 20), pooling_name(emb.pooling()), ep.normalize);
    std::vector<std::vector<int32_t>> toks;
    for (const auto& t : texts) toks.push_back(emb.tokenize(t));
    size_t n_tokens = 0;
    for (const auto& t : toks) n_tokens += t.size();
    const auto t0 = std::chrono::steady_clock::now();
    const auto vecs = emb.embed(toks);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "embed: %zu inputs, %zu tokens in %.3f s (%.1f inputs/s, %.0f tokens/s)\n", toks.size(), n_tokens, secs,
                 double(toks.size()) / secs, double(n_tokens) / secs);
    const size_t ne = size_t(emb.n_embd());

    if (format.empty()) {
        for (size_t i = 0; i < vecs.size(); ++i) {
            const size_t rows = vecs[i].size() / ne;
            for (size_t r = 0; r < rows; ++r) {
                std::printf(rows > 1 ? "embedding %zu token %zu:" : "embedding %zu:", i, r);
                for (size_t j = 0; j < ne; ++j) std::printf(" %9.6f", double(vecs[i][r * ne + j]));
                std::printf("\n");
            }
        }
        return 0;
    }
    using nlohmann::json;
    if (format == "array") {
        json a = json::array();
        for (const auto& v : vecs) a.push_back(v);
        std::printf("%s\n", a.dump().c_str());
        return 0;
    }
    json data = json::array();
    for (size_t i = 0; i < vecs.size(); ++i) data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", vecs[i]}});
    json out = {{"object", "list"}, {"data", data}};
    if (format == "json+") {
        if (emb.pooling() == PoolingType::None)
            throw Error(ErrorKind::InvalidArgument, "json+ needs one vector per text: use a pooling other than none");
        json sim = json::array();
        for (const auto& a : vecs) {
            json row = json::array();
            for (const auto& b : vecs) row.push_back(cosine(a.data(), b.data(), ne));
            sim.push_back(row);
        }
        out["cosineSimilarity"] = sim;
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
}

const CommandRegistration kRegistration("embed", "print sentence embeddings of texts", run_embed);

}  // namespace
}  // namespace hearth::cli
