// Pooling of per-token hidden states into one sentence vector, and the --embd-normalize norms.
// Accumulates in double so the mean over long inputs does not lose precision.
#include "runtime/pooling.h"

#include <cmath>

#include "core/error.h"
#include "gguf/gguf.h"

namespace hearth {

PoolingType parse_pooling(std::string_view name) {
    if (name == "none") return PoolingType::None;
    if (name == "mean") return PoolingType::Mean;
    if (name == "cls") return PoolingType::Cls;
    if (name == "last") return PoolingType::Last;
    if (name == "rank") return PoolingType::Rank;
    throw Error(ErrorKind::InvalidArgument, "unknown pooling '" + std::string(name) + "' (expected none, mean, cls, last or rank)");
}

const char* pooling_name(PoolingType p) {
    switch (p) {
        case PoolingType::None: return "none";
        case PoolingType::Mean: return "mean";
        case PoolingType::Cls: return "cls";
        case PoolingType::Last: return "last";
        case PoolingType::Rank: return "rank";
        case PoolingType::Unspecified: break;
    }
    return "unspecified";
}

PoolingType file_pooling(const gguf::File& file, const std::string& arch) {
    const std::string key = arch + ".pooling_type";
    if (!file.find(key)) return PoolingType::Unspecified;
    const auto v = file.get_int(key);
    if (!v || *v < 0 || *v > 4)
        throw Error(ErrorKind::InvalidFile, "'" + key + "' must be an integer in [0, 4] (none, mean, cls, last, rank)");
    return PoolingType(int(*v));
}

std::vector<float> pool(const float* hidden, size_t n_tokens, size_t n_embd, PoolingType p) {
    if (n_tokens == 0) throw Error(ErrorKind::InvalidArgument, "pooling: the sequence has no tokens");
    switch (p) {
        case PoolingType::None: return std::vector<float>(hidden, hidden + n_tokens * n_embd);
        case PoolingType::Cls: return std::vector<float>(hidden, hidden + n_embd);
        case PoolingType::Last: return std::vector<float>(hidden + (n_tokens - 1) * n_embd, hidden + n_tokens * n_embd);
        case PoolingType::Mean: {
            std::vector<double> acc(n_embd, 0.0);
            for (size_t t = 0; t < n_tokens; ++t)
                for (size_t j = 0; j < n_embd; ++j) acc[j] += hidden[t * n_embd + j];
            std::vector<float> out(n_embd);
            for (size_t j = 0; j < n_embd; ++j) out[j] = float(acc[j] / double(n_tokens));
            return out;
        }
        case PoolingType::Rank:
            throw Error(ErrorKind::Unsupported, "pooling 'rank' is not a pooling of hidden states: the reranker head applies (runtime/rank_head.h)");
        case PoolingType::Unspecified: break;
    }
    throw Error(ErrorKind::InvalidArgument, "pooling: no pooling type chosen");
}

void normalize(float* v, size_t n, int mode) {
    if (mode < 0) return;
    double norm = 0.0;
    if (mode == 0) {
        double m = 0.0;
        for (size_t i = 0; i < n; ++i) m = std::max(m, double(std::fabs(v[i])));
        norm = m / 32760.0;
    } else if (mode == 1) {
        for (size_t i = 0; i < n; ++i) norm += std::fabs(v[i]);
    } else if (mode == 2) {
        for (size_t i = 0; i < n; ++i) norm += double(v[i]) * v[i];
        norm = std::sqrt(norm);
    } else {
        for (size_t i = 0; i < n; ++i) norm += std::pow(std::fabs(double(v[i])), mode);
        norm = std::pow(norm, 1.0 / mode);
    }
    const double s = norm > 0.0 ? 1.0 / norm : 0.0;
    for (size_t i = 0; i < n; ++i) v[i] = float(v[i] * s);
}

double cosine(const float* a, const float* b, size_t n) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; ++i) {
        ab += double(a[i]) * b[i];
        aa += double(a[i]) * a[i];
        bb += double(b[i]) * b[i];
    }
    return aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : 0.0;
}

}  // namespace hearth
