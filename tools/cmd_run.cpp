// `hearth run`: load a model, feed a prompt (or chat interactively) and stream generated text, with
// a memory breakdown at load and llama.cpp-style timings at the end; optionally one JSON object
// per generated token with its top-k log-probabilities (--n-probs K --output-format json).
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli_kv.h"
#include "cli_parse.h"
#include "chat/chat_template.h"
#include "command.h"
#include "core/error.h"
#include "model/model.h"
#include "runtime/context.h"
#include "runtime/kv_shift.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace hearth::cli {
namespace {

struct RunArgs {
    std::string model, prompt, prompt_file, system, dump_graph, output_format = "text";
    int n_predict = 128, n_threads = 0, n_probs = 0;
    int64_t n_ctx = 0;
    int n_keep = 0;              // --keep: prompt tokens (after BOS) a context shift keeps; -1 = whole prompt
    bool context_shift = false;  // --context-shift: a full context drops old tokens instead of ending
    bool chat = false, verbose_prompt = false, no_mmap = false, mlock = false, prompt_set = false;
    SamplerParams sp;
    cli::KvArgs kv;
};

void usage() {
    std::fprintf(stderr,
                 "usage: hearth run -m FILE [-p PROMPT | -f FILE] [-n N] [--temp T] [--seed S] [-c N] [-t N]\n"
                 "                  [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty R]\n"
                 "                  [--chat] [-sys TEXT] [--verbose-prompt] [--no-mmap] [--mlock]\n"
                 "                  [--n-probs K --output-format json] [--dump-graph FILE]\n"
                 "  -n N   tokens to generate (default 128; -1: until end of generation or a full context)\n"
                 "  -c N   context size (default: the model's trained length; KV memory grows as it fills)\n"
                 "  --temp T  0 = greedy (default 0.8)\n"
                 "  --context-shift  when the context is full, keep the first --keep tokens, drop half of\n"
                 "                   the rest and go on generating (default: generation ends)\n"
                 "  --keep N  prompt tokens after BOS the context shift keeps (default 0; -1: the whole prompt)\n");
    std::fputs(cli::kv_usage(), stderr);
}

double mib(uint64_t b) { return double(b) / (1024.0 * 1024.0); }

// Parses args; returns 0 on success, 1 on a usage error (message printed).
int parse(const std::vector<std::string>& a, RunArgs& r) {
    auto need = [&](size_t& i) -> const std::string& {
        if (i + 1 >= a.size()) throw Error(ErrorKind::InvalidArgument, "option " + a[i] + " needs a value");
        return a[++i];
    };
    for (size_t i = 0; i < a.size(); ++i) {
        const std::string& o = a[i];
        if (o == "-h" || o == "--help") {
            usage();
            return -1;
        } else if (cli::parse_kv_arg(a, i, r.kv)) {
        } else if (o == "-m" || o == "--model") r.model = need(i);
        else if (o == "-p" || o == "--prompt") r.prompt = need(i), r.prompt_set = true;
        else if (o == "-f" || o == "--file") r.prompt_file = need(i);
        else if (o == "-n" || o == "--n-predict") r.n_predict = int(parse_int(o, need(i)));
        else if (o == "--temp") r.sp.temperature = parse_float(o, need(i));
        else if (o == "--seed") r.sp.seed = uint64_t(parse_int(o, need(i)));
        else if (o == "--top-k") r.sp.top_k = int32_t(parse_int(o, need(i)));
        else if (o == "--top-p") r.sp.top_p = parse_float(o, need(i));
        else if (o == "--min-p") r.sp.min_p = parse_float(o, need(i));
        else if (o == "--repeat-penalty") r.sp.repeat_penalty = parse_float(o, need(i));
        else if (o == "-c" || o == "--ctx-size") r.n_ctx = parse_int(o, need(i));
        else if (o == "-t" || o == "--threads") r.n_threads = int(parse_int(o, need(i)));
        else if (o == "--chat") r.chat = true;
        else if (o == "--context-shift") r.context_shift = true;
        else if (o == "--no-context-shift") r.context_shift = false;
        else if (o == "--keep") r.n_keep = int(parse_int(o, need(i)));
        else if (o == "-sys" || o == "--system") r.system = need(i);
        else if (o == "--verbose-prompt") r.verbose_prompt = true;
        else if (o == "--no-mmap") r.no_mmap = true;
        else if (o == "--mlock") r.mlock = true;
        else if (o == "--n-probs") r.n_probs = int(parse_int(o, need(i)));
        else if (o == "--output-format") r.output_format = need(i);
        else if (o == "--dump-graph") r.dump_graph = need(i);
        else if (o == "--device" || o == "-dev") {  // RAM-only path: the CPU is the only backend today
            const std::string& d = need(i);
            if (d != "none" && d != "cpu")
                throw Error(ErrorKind::InvalidArgument, "--device '" + d + "': only none / cpu are available (no GPU backend is built in)");
        } else if (o == "-ngl" || o == "--n-gpu-layers") {
            if (parse_int(o, need(i)) != 0) std::fprintf(stderr, "hearth run: no GPU backend is built in; -ngl is ignored\n");
        } else {
            std::fprintf(stderr, "hearth run: unknown option '%s'\n", o.c_str());
            usage();
            return 1;
        }
    }
    if (r.model.empty()) {
        std::fprintf(stderr, "hearth run: -m FILE is required\n");
        usage();
        return 1;
    }
    if (r.output_format != "text" && r.output_format != "json")
        throw Error(ErrorKind::InvalidArgument, "--output-format must be text or json, got '" + r.output_format + "'");
    if (r.n_probs < 0 || r.n_probs > 100) throw Error(ErrorKind::InvalidArgument, "--n-probs must be in [0, 100]");
    if (r.n_ctx < 0) throw Error(ErrorKind::InvalidArgument, "-c must be >= 0");
    if (r.n_keep < -1) throw Error(ErrorKind::InvalidArgument, "--keep must be >= -1 (-1: the whole prompt)");
    if (!r.prompt_file.empty()) {
        std::ifstream in(r.prompt_file, std::ios::binary);
        if (!in) throw Error(ErrorKind::Io, "cannot read prompt file '" + r.prompt_file + "'");
        std::stringstream ss;
        ss << in.rdbuf();
        r.prompt = ss.str();
        r.prompt_set = true;
    }
    return 0;
}

// Turns a conversation into the text to feed next. With the model's chat template (Jinja, via
// src/chat) the whole conversation is rendered each turn and only what was not fed yet is fed;
// without one (or when it fails to render) a built-in format: Gemma's turn markers when the
// vocabulary has them, else ChatML.
struct ChatFormatter {
    std::optional<std::string> tmpl;
    bool gemma = false;
    chat::ChatTemplateInputs in;
    std::string fed;      // template mode: the conversation text fed so far
    std::string closing;  // text that closes the last reply, fed before the next user turn

    std::string builtin_turn(const std::string& role, const std::string& text) const {
        if (gemma) return "<start_of_turn>" + std::string(role == "assistant" ? "model" : role) + "\n" + text + "<end_of_turn>\n";
        return "<|im_start|>" + role + "\n" + text + "<|im_end|>\n";
    }

    std::string user_turn(const std::string& line) {
        in.messages.push_back({{"role", "user"}, {"content", line}});
        if (tmpl) {
            try {
                in.add_generation_prompt = true;
                const std::string full = chat::render_chat_template(*tmpl, in);
                std::string delta = closing + (full.rfind(fed, 0) == 0 ? full.substr(fed.size()) : full);
                closing.clear();
                fed = full;
                return delta;
            } catch (const Error& e) {
                std::fprintf(stderr, "hearth run: chat template failed (%s); using the built-in format\n", e.what());
                tmpl.reset();
            }
        }
        std::string text = closing;
        if (in.messages.size() <= 2)  // first user turn: the system message (if any) goes first
            for (const auto& m : in.messages)
                if (m["role"] == "system") text += builtin_turn("system", m["content"].get<std::string>());
        closing.clear();
        return text + builtin_turn("user", line) + (gemma ? "<start_of_turn>model\n" : "<|im_start|>assistant\n");
    }

    void assistant_reply(const std::string& reply) {
        in.messages.push_back({{"role", "assistant"}, {"content", reply}});
        if (tmpl) {
            fed += reply;
            try {
                in.add_generation_prompt = false;
                const std::string closed = chat::render_chat_template(*tmpl, in);
                if (closed.rfind(fed, 0) == 0) {  // the close is fed with the next user turn
                    closing = closed.substr(fed.size());
                    fed = closed;
                }
            } catch (const Error&) {
            }
            return;
        }
        closing = gemma ? "<end_of_turn>\n" : "<|im_end|>\n";
    }
};

struct Generator {
    const Model& model;
    Context& ctx;
    Sampler sampler;
    const RunArgs& args;
    int32_t n_past = 0;
    int32_t n_keep = 0;    // positions [0, n_keep) survive a context shift (BOS + --keep prompt tokens)
    int n_shifts = 0;
    double shift_ms = 0;   // time spent re-rotating cached K in context shifts
    size_t last_index = 0;  // batch index of the token whose logits the last decode kept
    double prompt_ms = 0, gen_ms = 0;
    int prompt_tokens = 0, gen_tokens = 0;

    Generator(const Model& m, Context& c, const RunArgs& a)
        : model(m), ctx(c), sampler(a.sp, int32_t(m.n_vocab())), args(a) {}

    // Sets n_keep from the first prompt as llama.cpp does: BOS (when the model adds one) plus
    // --keep tokens, or the whole prompt for --keep -1 (or more than it has).
    void set_keep(const std::vector<int32_t>& prompt, bool bos_added) {
        const int32_t n = int32_t(prompt.size());
        n_keep = args.n_keep < 0 || args.n_keep + (bos_added ? 1 : 0) > n ? n : args.n_keep + (bos_added ? 1 : 0);
    }

    // Context shift (llama.cpp's): drop [n_keep, n_keep + discard) with discard = half of what follows
    // the kept tokens, move the rest down (their cached K re-rotated). False when nothing can go.
    bool shift() {
        const int32_t discard = context_shift_discard(n_past, n_keep);
        if (discard <= 0) return false;
        const auto t0 = std::chrono::steady_clock::now();
        ctx.kv_remove(0, n_keep, n_keep + discard);
        ctx.kv_shift(0, n_keep + discard, n_past, -discard);
        shift_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        n_past -= discard;
        ++n_shifts;
        return true;
    }

    // Decodes tokens (logits for the last); returns false when the context is full (and, with
    // --context-shift, shifting cannot make room).
    bool feed(const std::vector<int32_t>& toks) {
        if (toks.empty()) return true;
        while (n_past + int64_t(toks.size()) > ctx.n_ctx())
            if (!args.context_shift || !shift()) return false;
        const int n_batch = ctx.params().n_batch;
        for (size_t i = 0; i < toks.size(); i += size_t(n_batch)) {
            Batch b;
            const size_t end = std::min(toks.size(), i + size_t(n_batch));
            for (size_t j = i; j < end; ++j) b.add(toks[j], n_past++, 0, j + 1 == toks.size());
            ctx.decode(b);
            last_index = b.size() - 1;
        }
        return true;
    }

    // Generates up to n tokens, streaming them; returns the text.
    std::string generate(int n) {
        std::string text;
        for (int k = 0; n < 0 || k < n; ++k) {
            const float* logits = ctx.logits(last_index);
            const int32_t id = sampler.sample(logits);
            sampler.accept(id);
            const std::string piece = model.tokenizer().token_to_piece(id);
            if (args.output_format == "json") {
                nlohmann::json j;
                j["id"] = id;
                j["piece"] = piece;
                j["logprob"] = token_logprob(logits, int32_t(model.n_vocab()), id);
                nlohmann::json top = nlohmann::json::array();
                for (const TokenLogprob& t : top_logprobs(logits, int32_t(model.n_vocab()), std::max(args.n_probs, 1)))
                    top.push_back({t.id, t.logprob});
                j["top"] = top;
                std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
            } else if (!model.tokenizer().is_eog(id)) {
                std::fwrite(piece.data(), 1, piece.size(), stdout);
            }
            std::fflush(stdout);
            if (model.tokenizer().is_eog(id)) break;
            text += piece;
            const auto t0 = std::chrono::steady_clock::now();
            const bool ok = feed({id});
            gen_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
            ++gen_tokens;
            if (!ok) {
                std::fprintf(stderr, "\nhearth run: context full (n_ctx = %lld)%s\n", (long long)ctx.n_ctx(),
                             args.context_shift ? "" : "; generation stops (--context-shift keeps generating)");
                break;
            }
        }
        return text;
    }

    bool prompt(const std::vector<int32_t>& toks) {
        for (int32_t t : toks) sampler.accept(t);
        const auto t0 = std::chrono::steady_clock::now();
        const bool ok = feed(toks);
        prompt_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        prompt_tokens += int(toks.size());
        return ok;
    }
};

void print_memory(const Context& ctx, const char* when) {
    const MemoryReport m = ctx.memory();
    char compute[64];
    if (m.compute == 0)
        std::snprintf(compute, sizeof compute, "sized by the first decode");
    else
        std::snprintf(compute, sizeof compute, "%.2f MiB", mib(m.compute));
    std::fprintf(stderr, "hearth: memory (all CPU/RAM) %s: weights %.1f MiB | KV cache %.2f MiB allocated (%.2f in use) of %.1f MiB at n_ctx %lld | compute %s\n",
                 when, mib(m.weights), mib(m.kv_allocated), mib(m.kv_used), mib(m.kv_capacity), (long long)ctx.n_ctx(), compute);
}

int run(const std::vector<std::string>& argv) {
    RunArgs a;
    const int rc = parse(argv, a);
    if (rc != 0) return rc < 0 ? 0 : rc;

    const auto t_load = std::chrono::steady_clock::now();
    auto model = Model::load(a.model, {.use_mmap = !a.no_mmap, .mlock = a.mlock});
    if (const std::string w = model->mlock_warning(); !w.empty()) std::fprintf(stderr, "hearth: warning: %s\n", w.c_str());
    const HParams& hp = model->hparams();
    std::fprintf(stderr, "hearth: loaded %s: arch %s, %lld layers, n_embd %lld, n_head %lld/%lld, n_vocab %lld, n_ctx_train %lld (%.0f ms, %s)\n",
                 a.model.c_str(), hp.arch.c_str(), (long long)hp.n_layer, (long long)hp.n_embd, (long long)hp.n_head,
                 (long long)hp.n_head_kv, (long long)hp.n_vocab, (long long)hp.n_ctx_train,
                 std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_load).count(),
                 model->file().is_mmapped() ? "mmap" : "read");
    ContextParams cp;
    cp.n_ctx = a.n_ctx;
    cp.n_threads = a.n_threads;
    a.kv.apply(cp);
    Context ctx(*model, cp);
    std::fprintf(stderr, "hearth: %s\n", cli::kv_load_line(ctx).c_str());
    print_memory(ctx, "at load");
    if (!a.dump_graph.empty()) ctx.dump_next_graph(a.dump_graph);

    Generator g(*model, ctx, a);
    const Tokenizer& tok = model->tokenizer();
    if (a.chat) {
        ChatFormatter fmt;
        fmt.tmpl = model->chat_template();
        fmt.gemma = tok.find_token("<start_of_turn>").has_value();
        fmt.in.bos_token = tok.bos() >= 0 ? tok.token_text(tok.bos()) : "";
        fmt.in.eos_token = tok.eos() >= 0 ? tok.token_text(tok.eos()) : "";
        if (!a.system.empty()) fmt.in.messages.push_back({{"role", "system"}, {"content", a.system}});
        std::string line;
        std::vector<std::string> queued;
        if (a.prompt_set) queued.push_back(a.prompt);
        bool first = true;
        while (true) {
            if (queued.empty()) {
                std::fprintf(stderr, "\n> ");
                if (!std::getline(std::cin, line)) break;
                if (line.empty()) continue;
            } else {
                line = queued.front();
                queued.erase(queued.begin());
            }
            std::string text = fmt.user_turn(line);
            // BOS once, unless the template writes it itself.
            const bool add_bos = first && !(fmt.in.bos_token.size() && text.rfind(fmt.in.bos_token, 0) == 0);
            auto toks = tok.encode(text, add_bos, true);
            if (first) g.set_keep(toks, add_bos && tok.bos() >= 0 && !toks.empty() && toks[0] == tok.bos());
            first = false;
            if (a.verbose_prompt) std::fprintf(stderr, "hearth: chat input (%zu tokens): [%s]\n", toks.size(), text.c_str());
            if (!g.prompt(toks)) {
                std::fprintf(stderr, "hearth run: context full (n_ctx = %lld)\n", (long long)ctx.n_ctx());
                break;
            }
            fmt.assistant_reply(g.generate(a.n_predict));
            std::printf("\n");
        }
    } else {
        auto toks = tok.encode(a.prompt, true, true);
        if (toks.empty()) throw Error(ErrorKind::InvalidArgument, "the prompt is empty (and the model adds no BOS)");
        if (a.verbose_prompt) {
            std::fprintf(stderr, "hearth: prompt: %zu tokens\n", toks.size());
            for (int32_t t : toks) std::fprintf(stderr, "%6d -> '%s'\n", t, tok.token_to_piece(t, true).c_str());
        }
        g.set_keep(toks, tok.bos() >= 0 && toks[0] == tok.bos());
        if (!g.prompt(toks))
            throw Error(ErrorKind::InvalidArgument, "the prompt (" + std::to_string(toks.size()) +
                                                        " tokens) does not fit the context (n_ctx = " + std::to_string(ctx.n_ctx()) + ")");
        if (a.output_format == "text") {
            const std::string shown = tok.decode(toks);
            std::fwrite(shown.data(), 1, shown.size(), stdout);
            std::fflush(stdout);
        }
        g.generate(a.n_predict);
        if (a.output_format == "text") std::printf("\n");
    }
    if (g.n_shifts > 0)
        std::fprintf(stderr, "hearth: context shifts: %d (kept the first %d tokens each time; %.2f ms per shift)\n", g.n_shifts,
                     g.n_keep, g.shift_ms / g.n_shifts);
    print_memory(ctx, "at end");
    std::fprintf(stderr, "hearth: prompt eval time = %10.2f ms / %5d tokens (%8.2f ms per token, %8.2f tokens per second)\n",
                 g.prompt_ms, g.prompt_tokens, g.prompt_tokens ? g.prompt_ms / g.prompt_tokens : 0.0,
                 g.prompt_ms > 0 ? 1000.0 * g.prompt_tokens / g.prompt_ms : 0.0);
    std::fprintf(stderr, "hearth:        eval time = %10.2f ms / %5d runs   (%8.2f ms per token, %8.2f tokens per second)\n",
                 g.gen_ms, g.gen_tokens, g.gen_tokens ? g.gen_ms / g.gen_tokens : 0.0,
                 g.gen_ms > 0 ? 1000.0 * g.gen_tokens / g.gen_ms : 0.0);
    return 0;
}

const CommandRegistration kRegistration("run", "generate text from a prompt (or chat) with a model", run);

}  // namespace
}  // namespace hearth::cli
