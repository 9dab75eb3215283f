// `hearth info FILE [--json] [--no-mmap] [--mlock]`: what a GGUF file holds — architecture,
// hyper-parameters, tokenizer summary, chat template, tensor table, per-type totals, parameter count
// and bits per weight — as text or as one JSON object. A malformed file exits 2 with the reader's error.
#include <cinttypes>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "command.h"
#include "core/error.h"
#include "gguf/gguf.h"

namespace hearth::cli {
namespace {

using gguf::File;
using gguf::Value;
using gguf::ValueType;
using nlohmann::json;

constexpr size_t kMaxJsonArray = 1024;  // longer arrays are summarized (type and length)
constexpr size_t kMaxTextArray = 8;

// GGUF token types (tokenizer.ggml.token_type values).
constexpr int64_t kTokenControl = 3;
constexpr int64_t kTokenUserDefined = 4;

json scalar_json(const Value& v) {
    if (const auto* u = std::get_if<uint64_t>(&v.scalar)) return *u;
    if (const auto* i = std::get_if<int64_t>(&v.scalar)) return *i;
    if (const auto* d = std::get_if<double>(&v.scalar)) return *d;
    if (const auto* b = std::get_if<bool>(&v.scalar)) return *b;
    return std::get<std::string>(v.scalar);
}

json value_json(const Value& v) {
    if (v.type != ValueType::Array) return scalar_json(v);
    const size_t n = v.array_size();
    if (n > kMaxJsonArray)
        return json{{"array_type", gguf::value_type_name(v.array_type)}, {"length", n}};
    if (v.array_type == ValueType::String) return v.strings;
    if (v.array_type == ValueType::Bool) {
        json out = json::array();
        for (uint8_t b : v.bools) out.push_back(b != 0);
        return out;
    }
    if (gguf::is_float_type(v.array_type)) return v.floats;
    return v.ints;
}

std::string scalar_text(const Value& v) {
    char buf[64];
    if (const auto* u = std::get_if<uint64_t>(&v.scalar)) return std::to_string(*u);
    if (const auto* i = std::get_if<int64_t>(&v.scalar)) return std::to_string(*i);
    if (const auto* d = std::get_if<double>(&v.scalar)) {
        std::snprintf(buf, sizeof buf, "%g", *d);
        return buf;
    }
    if (const auto* b = std::get_if<bool>(&v.scalar)) return *b ? "true" : "false";
    const auto& s = std::get<std::string>(v.scalar);
    return "'" + (s.size() > 60 ? s.substr(0, 60) + "...'" : s + "'");
}

std::string value_text(const Value& v) {
    if (v.type != ValueType::Array) return scalar_text(v);
    const size_t n = v.array_size();
    std::string out = std::string("[") + gguf::value_type_name(v.array_type) + " x " + std::to_string(n) + ":";
    for (size_t i = 0; i < n && i < kMaxTextArray; ++i) {
        out += i ? ", " : " ";
        if (v.array_type == ValueType::String) out += "'" + v.strings[i] + "'";
        else if (v.array_type == ValueType::Bool) out += v.bools[i] ? "true" : "false";
        else if (gguf::is_float_type(v.array_type)) out += std::to_string(v.floats[i]);
        else out += std::to_string(v.ints[i]);
    }
    if (n > kMaxTextArray) out += ", ...";
    return out + "]";
}

std::vector<int64_t> shape_of(const gguf::TensorInfo& t) { return {t.ne, t.ne + t.n_dims}; }

std::string shape_text(const gguf::TensorInfo& t) {
    std::string s = "[";
    for (uint32_t d = 0; d < t.n_dims; ++d) s += (d ? ", " : "") + std::to_string(t.ne[d]);
    return s + "]";
}

// Builds the whole report as JSON; the text form is printed from the same object.
json describe(const File& f) {
    json out;
    out["file"] = f.path();
    out["file_size"] = f.file_size();
    out["gguf_version"] = f.version();
    out["alignment"] = f.alignment();
    out["data_offset"] = f.data_offset();
    out["mmap"] = f.is_mmapped();
    out["mlocked"] = f.is_mlocked();
    const std::string arch = f.get_string("general.architecture").value_or("");
    out["architecture"] = arch;
    out["name"] = f.get_string("general.name").value_or("");
    out["n_kv"] = f.kvs().size();

    json general = json::object(), hparams = json::object();
    const std::string prefix = arch + ".";
    for (const auto& kv : f.kvs()) {
        if (kv.key.starts_with("general.")) general[kv.key] = value_json(kv.value);
        else if (!arch.empty() && kv.key.starts_with(prefix)) hparams[kv.key] = value_json(kv.value);
    }
    out["general"] = general;
    out["hyperparameters"] = hparams;

    json tok = json::object();
    const auto* tokens = f.get_string_array("tokenizer.ggml.tokens");
    tok["model"] = f.get_string("tokenizer.ggml.model").value_or("");
    tok["pre"] = f.get_string("tokenizer.ggml.pre").value_or("");
    tok["vocab_size"] = tokens ? tokens->size() : 0;
    const auto* merges = f.get_string_array("tokenizer.ggml.merges");
    tok["merges"] = merges ? merges->size() : 0;
    const std::pair<const char*, const char*> specials[] = {
        {"bos", "tokenizer.ggml.bos_token_id"},
        {"eos", "tokenizer.ggml.eos_token_id"},
        {"unk", "tokenizer.ggml.unknown_token_id"},
        {"pad", "tokenizer.ggml.padding_token_id"},
    };
    for (const auto& [label, key] : specials) {
        const auto id = f.get_int(key);
        if (!id) {
            tok[label] = nullptr;
            continue;
        }
        json entry{{"id", *id}};
        if (tokens && *id >= 0 && static_cast<uint64_t>(*id) < tokens->size())
            entry["text"] = (*tokens)[static_cast<size_t>(*id)];
        else
            entry["text"] = nullptr;  // id outside the vocabulary
        tok[label] = entry;
    }
    size_t n_control = 0, n_user = 0;
    if (const auto* types = f.get_int_array("tokenizer.ggml.token_type")) {
        for (int64_t t : *types) {
            n_control += t == kTokenControl;
            n_user += t == kTokenUserDefined;
        }
    }
    tok["control_tokens"] = n_control;
    tok["user_defined_tokens"] = n_user;
    out["tokenizer"] = tok;

    const auto tmpl = f.get_string("tokenizer.chat_template");
    out["chat_template"] = {{"present", tmpl.has_value()}, {"length", tmpl ? tmpl->size() : 0}};

    json tensors = json::array();
    std::map<std::string, std::pair<uint64_t, uint64_t>> per_type;  // name -> (count, bytes)
    uint64_t params = 0, tensor_bytes = 0;
    for (const auto& t : f.tensors()) {
        tensors.push_back({{"name", t.name},
                           {"type", dtype_name(t.type)},
                           {"type_id", static_cast<uint32_t>(t.type)},
                           {"shape", shape_of(t)},
                           {"offset", t.offset},
                           {"bytes", t.nbytes}});
        auto& slot = per_type[dtype_name(t.type)];
        slot.first += 1;
        slot.second += t.nbytes;
        params += static_cast<uint64_t>(t.n_elements());
        tensor_bytes += t.nbytes;
    }
    json types = json::object();
    for (const auto& [name, cb] : per_type) types[name] = {{"count", cb.first}, {"bytes", cb.second}};
    out["n_tensors"] = f.tensors().size();
    out["tensors"] = tensors;
    out["types"] = types;
    out["parameters"] = params;
    out["tensor_bytes"] = tensor_bytes;
    out["bits_per_weight"] = params ? 8.0 * static_cast<double>(tensor_bytes) / static_cast<double>(params) : 0.0;
    json warnings = f.warnings();
    if (!f.mlock_warning().empty()) warnings.push_back(f.mlock_warning());
    out["warnings"] = warnings;
    return out;
}

// JSON text that never throws on strings that are not UTF-8 (token texts may be arbitrary bytes).
std::string dump(const json& j, int indent = -1) { return j.dump(indent, ' ', false, json::error_handler_t::replace); }

std::string text_of(const json& j) {
    if (j.is_string()) return j.get<std::string>();
    return dump(j);
}

void print_text(const File& f, const json& r) {
    const double mib = static_cast<double>(f.file_size()) / (1024.0 * 1024.0);
    std::printf("file:           %s (%.1f MiB, GGUF v%u, %s%s)\n", f.path().c_str(), mib, f.version(),
                f.is_mmapped() ? "mmap" : "read", f.is_mlocked() ? ", mlocked" : "");
    std::printf("architecture:   %s\n", text_of(r["architecture"]).c_str());
    std::printf("name:           %s\n", text_of(r["name"]).c_str());
    std::printf("metadata:       %zu keys\n", f.kvs().size());
    const std::string arch = r["architecture"].get<std::string>();
    for (const auto& kv : f.kvs())
        if (kv.key.starts_with("general.") && kv.key != "general.architecture" && kv.key != "general.name")
            std::printf("  %-44s %s\n", kv.key.c_str(), value_text(kv.value).c_str());
    std::printf("hyper-parameters:\n");
    for (const auto& kv : f.kvs())
        if (!arch.empty() && kv.key.starts_with(arch + "."))
            std::printf("  %-44s %s\n", kv.key.c_str(), value_text(kv.value).c_str());
    const json& tok = r["tokenizer"];
    std::printf("tokenizer:\n  model %s, pre-tokenizer %s, vocab %s, merges %s\n", text_of(tok["model"]).c_str(),
                text_of(tok["pre"]).c_str(), text_of(tok["vocab_size"]).c_str(), text_of(tok["merges"]).c_str());
    for (const char* label : {"bos", "eos", "unk", "pad"}) {
        const json& e = tok[label];
        if (e.is_null()) std::printf("  %-4s (none)\n", label);
        else std::printf("  %-4s %s %s\n", label, text_of(e["id"]).c_str(), dump(e["text"]).c_str());
    }
    std::printf("  control tokens %s, user-defined tokens %s\n", text_of(tok["control_tokens"]).c_str(),
                text_of(tok["user_defined_tokens"]).c_str());
    if (r["chat_template"]["present"].get<bool>())
        std::printf("chat template:  present (%s bytes)\n", text_of(r["chat_template"]["length"]).c_str());
    else
        std::printf("chat template:  absent\n");
    std::printf("tensors (%zu):\n  %-40s %-8s %-26s %14s %14s\n", f.tensors().size(), "name", "type", "shape",
                "offset", "bytes");
    for (const auto& t : f.tensors())
        std::printf("  %-40s %-8s %-26s %14" PRIu64 " %14" PRIu64 "\n", t.name.c_str(), dtype_name(t.type),
                    shape_text(t).c_str(), t.offset, t.nbytes);
    std::printf("totals by type:\n");
    for (const auto& [name, v] : r["types"].items())
        std::printf("  %-8s %6s tensors %16s bytes\n", name.c_str(), text_of(v["count"]).c_str(),
                    text_of(v["bytes"]).c_str());
    const auto params = r["parameters"].get<uint64_t>();
    std::printf("parameters:     %" PRIu64 " (%.2f M)\n", params, static_cast<double>(params) / 1e6);
    std::printf("file size:      %" PRIu64 " bytes\n", f.file_size());
    std::printf("bits per weight: %.3f\n", r["bits_per_weight"].get<double>());
}

void usage() {
    std::fprintf(stderr,
                 "usage: hearth info FILE [--json] [--no-mmap] [--mlock]\n"
                 "  --json     print one JSON object instead of text\n"
                 "  --no-mmap  read the file into memory instead of mapping it\n"
                 "  --mlock    lock the file's pages in memory (warns if the OS refuses)\n");
}

int run_info(const std::vector<std::string>& args) {
    std::string path;
    bool as_json = false;
    gguf::OpenOptions options;
    for (const auto& a : args) {
        if (a == "--json") as_json = true;
        else if (a == "--no-mmap") options.use_mmap = false;
        else if (a == "--mlock") options.mlock = true;
        else if (a == "--help" || a == "-h") {
            usage();
            return 0;
        } else if (!a.empty() && a[0] == '-') {
            std::fprintf(stderr, "hearth info: unknown option '%s'\n", a.c_str());
            usage();
            return 1;
        } else if (path.empty()) path = a;
        else {
            std::fprintf(stderr, "hearth info: only one FILE may be given\n");
            usage();
            return 1;
        }
    }
    if (path.empty()) {
        usage();
        return 1;
    }
    auto file = File::open(path, options);  // hearth::Error -> exit 2 in main()
    for (const auto& w : file->warnings()) std::fprintf(stderr, "hearth info: warning: %s\n", w.c_str());
    if (!file->mlock_warning().empty())
        std::fprintf(stderr, "hearth info: warning: %s\n", file->mlock_warning().c_str());
    const json report = describe(*file);
    if (as_json) std::printf("%s\n", dump(report, 1).c_str());
    else print_text(*file, report);
    return 0;
}

const CommandRegistration kRegistration("info", "describe a GGUF file (metadata, tokenizer, tensors)", run_info);

}  // namespace
}  // namespace hearth::cli
