// hearth_ab_builds: decode (or prompt) speed of two or more builds of libhearth.so measured in ONE
// process, tokens (or prompt batches) alternating between them. On a shared machine the memory bandwidth drifts by tens of
// percent within seconds, so separate runs (even ABBA-paired) blur a 5-10% change; here every
// build meets the same drift, token by token, and the ratio comes out within about 1-2%.
//
//   hearth_ab_builds -m MODEL.gguf [-n TOKENS] [-p PROMPT] [-d DEPTH] [-r REPS] [-t THREADS] [-c N_CTX] LIB_A.so LIB_B.so [...]
//
// With -p PROMPT the unit is a prompt instead of a token: each of the TOKENS steps clears the cache
// and decodes PROMPT tokens in one batch (as llama-bench's pp test), builds taking turns per prompt.
// With -d DEPTH every build first fills DEPTH positions (untimed, in batches of 512) and keeps them;
// tokens (or prompts) then go at positions DEPTH.. (llama-bench's -d).
//
// Each library is copied to a private temporary file and dlopen'ed with RTLD_LOCAL, so every build
// keeps its own globals (weights registry, thread pool) and the same file may be given twice as a
// control. Each build loads the model and gets one context; a repetition clears the caches, then
// decodes TOKENS positions (after one warm-up token), taking the builds in turn at each position
// (the order rotates so none is always first). Prints a markdown table, then one JSON line:
// per build the mean ms/token, its speed relative to the first build, and the per-repetition
// ratios. Typical use, comparing a change against its parent commit:
//   git worktree add /tmp/base HEAD~1 && cmake -S /tmp/base -B /tmp/base/build
//   cmake --build /tmp/base/build --target hearth
//   ./build/bin/hearth_ab_builds -m model.gguf /tmp/base/build/lib/libhearth.so build/lib/libhearth.so
#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include "hearth/hearth.h"

namespace {

// The C API entry points of one loaded build.
struct Build {
    std::string path;  // as given
    std::string copy;  // the private copy dlopen'ed
    void* handle = nullptr;
    decltype(&hearth_last_error) last_error = nullptr;
    decltype(&hearth_model_load) model_load = nullptr;
    decltype(&hearth_context_default_params) default_params = nullptr;
    decltype(&hearth_context_new) context_new = nullptr;
    decltype(&hearth_decode) decode = nullptr;
    decltype(&hearth_kv_remove) kv_remove = nullptr;
    hearth_context* ctx = nullptr;
    std::vector<double> rep_seconds;  // decode time of each repetition
    double seconds() const { return std::accumulate(rep_seconds.begin(), rep_seconds.end(), 0.0); }
};

[[noreturn]] void fail(const std::string& msg) {
    std::fprintf(stderr, "hearth_ab_builds: %s\n", msg.c_str());
    std::exit(1);
}

std::string private_copy(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("cannot read " + path);
    char name[] = "/tmp/hearth_ab_XXXXXX.so";
    const int fd = mkstemps(name, 3);
    if (fd < 0) fail("cannot create a temporary copy of " + path);
    close(fd);
    std::ofstream out(name, std::ios::binary);
    out << in.rdbuf();
    if (!out) fail("cannot write " + std::string(name));
    return name;
}

template <class F>
void resolve(Build& b, F& fn, const char* symbol) {
    fn = reinterpret_cast<F>(dlsym(b.handle, symbol));
    if (!fn) fail(b.path + " has no symbol " + symbol);
}

void load(Build& b, const std::string& model, int threads, int n_ctx) {
    b.copy = private_copy(b.path);
    b.handle = dlopen(b.copy.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!b.handle) fail(std::string("dlopen ") + b.path + ": " + dlerror());
    resolve(b, b.last_error, "hearth_last_error");
    resolve(b, b.model_load, "hearth_model_load");
    resolve(b, b.default_params, "hearth_context_default_params");
    resolve(b, b.context_new, "hearth_context_new");
    resolve(b, b.decode, "hearth_decode");
    resolve(b, b.kv_remove, "hearth_kv_remove");
    hearth_model* m = nullptr;
    if (b.model_load(model.c_str(), 1, &m) != HEARTH_OK) fail(b.path + ": " + b.last_error());
    hearth_context_params p;
    b.default_params(&p);
    p.n_ctx = n_ctx;
    p.n_threads = threads;
    if (b.context_new(m, &p, &b.ctx) != HEARTH_OK) fail(b.path + ": " + b.last_error());
}

std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (char ch : s) {
        if (ch == '"' || ch == '\\') out += '\\';
        out += ch;
    }
    return out + "\"";
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    std::string model;
    int tokens = 128, reps = 3, threads = 2, n_ctx = 0, prompt = 0, depth = 0;
    std::vector<Build> builds;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) fail(a + " needs a value");
            return argv[++i];
        };
        auto number = [&](int lo) {
            const std::string v = value();
            char* end = nullptr;
            const long n = std::strtol(v.c_str(), &end, 10);
            if (!end || *end || n < lo || n > 1000000) fail(a + ": not a number >= " + std::to_string(lo) + ": " + v);
            return static_cast<int>(n);
        };
        if (a == "-m") model = value();
        else if (a == "-n") tokens = number(1);
        else if (a == "-p") prompt = number(1);
        else if (a == "-d") depth = number(0);
        else if (a == "-r") reps = number(1);
        else if (a == "-t") threads = number(1);
        else if (a == "-c") n_ctx = number(1);
        else if (a == "-h" || a == "--help") {
            std::printf("usage: %s -m MODEL [-n TOKENS] [-p PROMPT] [-d DEPTH] [-r REPS] [-t THREADS] [-c N_CTX] LIB_A.so LIB_B.so [...]\n", argv[0]);
            return 0;
        } else if (!a.empty() && a[0] == '-') fail("unknown option " + a);
        else {
            Build b;
            b.path = a;
            builds.push_back(b);
        }
    }
    if (model.empty() || builds.size() < 2) fail("need -m MODEL and at least two libraries (see --help)");
    const int positions = depth + (prompt > 0 ? prompt : tokens);  // KV cells one context needs
    if (n_ctx == 0) n_ctx = positions + 16;
    if (n_ctx < positions + 1) fail(prompt > 0 ? "-c must exceed -p" : "-c must exceed -n");
    std::vector<int32_t> prompt_tokens(static_cast<size_t>(prompt)), prompt_pos(static_cast<size_t>(prompt));
    for (int i = 0; i < prompt; ++i) {
        prompt_tokens[static_cast<size_t>(i)] = (i * 7919 + 13) % 1000;
        prompt_pos[static_cast<size_t>(i)] = depth + i;
    }
    for (Build& b : builds) load(b, model, threads, n_ctx);
    for (Build& b : builds) {  // -d: the kept context, filled once per build
        for (int p0 = 0; p0 < depth; p0 += 512) {
            const int n = std::min(512, depth - p0);
            std::vector<int32_t> tok(static_cast<size_t>(n)), pos(static_cast<size_t>(n));
            for (int i = 0; i < n; ++i) {
                tok[static_cast<size_t>(i)] = ((p0 + i) * 7919 + 13) % 1000;
                pos[static_cast<size_t>(i)] = p0 + i;
            }
            if (b.decode(b.ctx, tok.data(), pos.data(), nullptr, nullptr, n) != HEARTH_OK) fail(b.path + ": " + b.last_error());
        }
    }

    const size_t nb = builds.size();
    for (int r = 0; r < reps; ++r) {
        std::vector<double> rep(nb, 0.0);
        for (Build& b : builds) b.kv_remove(b.ctx, -1, depth, -1);
        for (int t = 0; t <= tokens; ++t) {  // position 0 warms up and is not counted
            for (size_t k = 0; k < nb; ++k) {
                Build& b = builds[(k + static_cast<size_t>(t + r)) % nb];
                const int32_t token = (t * 7919 + 13) % 1000, pos = depth + t;
                if (prompt > 0) b.kv_remove(b.ctx, -1, depth, -1);
                const auto t0 = std::chrono::steady_clock::now();
                const int rc = prompt > 0 ? b.decode(b.ctx, prompt_tokens.data(), prompt_pos.data(), nullptr, nullptr, prompt)
                                          : b.decode(b.ctx, &token, &pos, nullptr, nullptr, 1);
                if (rc != HEARTH_OK) fail(b.path + ": " + b.last_error());
                const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                if (t > 0) rep[static_cast<size_t>(&b - builds.data())] += dt;
            }
        }
        for (size_t i = 0; i < nb; ++i) {
            builds[i].rep_seconds.push_back(rep[i]);
        }
    }

    const double base = builds[0].seconds();
    const int per_step = prompt > 0 ? prompt : 1;  // tokens per timed step
    std::printf("| build | ms/token | t/s | speed vs first | per-repetition median (min..max) |\n|---|---|---|---|---|\n");
    std::string json = "{\"ab_builds\": {\"model\": " + json_string(model) + ", \"tokens\": " + std::to_string(tokens) +
                       ", \"prompt\": " + std::to_string(prompt) + ", \"depth\": " + std::to_string(depth) +
                       ", \"reps\": " + std::to_string(reps) + ", \"threads\": " + std::to_string(threads) + ", \"builds\": [";
    for (size_t i = 0; i < nb; ++i) {
        const Build& b = builds[i];
        std::vector<double> ratios;
        for (size_t r = 0; r < b.rep_seconds.size(); ++r) ratios.push_back(builds[0].rep_seconds[r] / b.rep_seconds[r]);
        const double ms = 1e3 * b.seconds() / (static_cast<double>(reps) * tokens * per_step);
        std::printf("| %s | %.3f | %.1f | %.3fx | %.3fx (%.3f..%.3f) |\n", b.path.c_str(), ms, 1e3 / ms, base / b.seconds(),
                    median(ratios), *std::min_element(ratios.begin(), ratios.end()),
                    *std::max_element(ratios.begin(), ratios.end()));
        json += std::string(i ? ", " : "") + "{\"lib\": " + json_string(b.path) + ", \"ms_per_token\": " + std::to_string(ms) +
                ", \"speed_vs_first\": " + std::to_string(base / b.seconds()) + ", \"rep_ratios\": [";
        for (size_t r = 0; r < ratios.size(); ++r) json += (r ? ", " : "") + std::to_string(ratios[r]);
        json += "]}";
    }
    std::printf("%s]}}\n", json.c_str());
    for (Build& b : builds) std::remove(b.copy.c_str());
    return 0;
}
