// libFuzzer target for the server's request parsing: arbitrary bytes go through the body parser
// and the generation-request schema of every endpoint, the /rerank schema, the /tokenize-style
// field getters, the UTF-8 / stop-string text stream, and the JSON-constraint automaton (every
// accepted prefix plus its closing() must parse as a JSON object). Anything but ApiError (or a
// clean result) is a bug.
// The first line (up to 256 bytes) also goes through the option parsers of the KV-cache / placement
// flags (-ctk/-ctv, --vram-budget, --device, -ot): they may only throw hearth::Error(InvalidArgument).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "backend/placement/placement.h"
#include "core/error.h"
#include "quant/dtype.h"
#include "server/api_error.h"
#include "server/json_constraint.h"
#include "server/oai_format.h"
#include "server/request_schema.h"
#include "server/rerank_request.h"
#include "server/text_stream.h"

using namespace hearth::server;

namespace {

// One command-line flag value through each option parser; a parse either succeeds with a value the
// rest of the program can use or throws InvalidArgument.
void fuzz_option_parsers(std::string_view v) {
    namespace pl = hearth::placement;
    auto expect_invalid = [](const hearth::Error& e) {
        if (e.kind() != hearth::ErrorKind::InvalidArgument) __builtin_trap();
    };
    try {
        const hearth::DType t = pl::parse_kv_type(v);
        if (hearth::dtype_traits(t).block_elems < 1) __builtin_trap();
    } catch (const hearth::Error& e) {
        expect_invalid(e);
    }
    try {
        (void)pl::format_size(pl::parse_size(v));
    } catch (const hearth::Error& e) {
        expect_invalid(e);
    }
    try {
        for (const pl::DeviceId& d : pl::parse_device_list(v))
            if (d.index < 0) __builtin_trap();
    } catch (const hearth::Error& e) {
        expect_invalid(e);
    }
    try {
        for (const pl::TensorOverride& o : pl::parse_overrides(v))
            if (o.pattern_text.empty()) __builtin_trap();
    } catch (const hearth::Error& e) {
        expect_invalid(e);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view body(reinterpret_cast<const char*>(data), size);
    fuzz_option_parsers(body.substr(0, std::min<size_t>(body.find('\n'), 256)));
    RequestLimits limits;
    limits.max_body_bytes = 1 << 16;
    try {
        nlohmann::ordered_json j = parse_body(body, limits);
        for (Endpoint ep : {Endpoint::Chat, Endpoint::Completions, Endpoint::LegacyCompletion}) {
            try {
                GenerationRequest r = parse_generation_request(j, ep, limits, 1000);
                // Whatever was accepted must be within the schema's limits.
                if (r.stop.size() > limits.max_stop || r.top_logprobs > limits.max_top_logprobs) __builtin_trap();
                for (const auto& s : r.stop)
                    if (s.size() > limits.max_stop_bytes) __builtin_trap();
                for (const auto& [id, bias] : r.sampling.logit_bias)
                    if (id < 0 || id >= 1000) __builtin_trap();
                for (int32_t t : r.prompt_tokens)
                    if (t < 0 || t >= 1000) __builtin_trap();
                (void)dump_json(r.messages);
            } catch (const ApiError& e) {
                if (e.status() < 400 || e.status() >= 500) __builtin_trap();
                (void)dump_json(e.to_json());
            }
        }
        try {
            const RerankRequest rr = parse_rerank_request(j);
            // Whatever was accepted is usable as is: documents to rank and how many to return.
            if (rr.documents.empty() || rr.top_n < 1 || rr.top_n > rr.documents.size()) __builtin_trap();
        } catch (const ApiError& e) {
            if (e.status() != 400) __builtin_trap();
        }
        try {
            (void)get_int_field(j, "n", -5, 5);
            (void)get_bool_field(j, "add_special");
            (void)get_string_field(j, "content");
            if (j.contains("tokens")) (void)get_token_array(j["tokens"], "tokens", 1000);
        } catch (const ApiError&) {
        }
    } catch (const ApiError& e) {
        if (e.status() != 400 && e.status() != 413) __builtin_trap();
    }
    // Text stream: split the input into pieces at byte 0x01; stop strings from the first piece.
    std::string all(body);
    size_t cut = all.find('\x01');
    std::vector<std::string> stops;
    // Stop strings come from parsed JSON, so they are valid UTF-8 (an invalid one such as "\xbd" would
    // "leak" as a byte of the U+FFFD the stream puts in place of invalid input).
    if (cut != std::string::npos && cut > 0 && cut <= 8 && utf8_sanitize(all.substr(0, cut)) == all.substr(0, cut))
        stops.push_back(all.substr(0, cut));
    TextStream ts(stops);
    std::string out;
    size_t pos = cut == std::string::npos ? 0 : cut + 1;
    while (pos < all.size()) {
        size_t next = std::min(all.size(), pos + 1 + (static_cast<unsigned char>(all[pos]) % 7));
        out += ts.push(std::string_view(all).substr(pos, next - pos));
        pos = next;
    }
    out += ts.flush();
    if (utf8_sanitize(out) != out) __builtin_trap();  // deltas are always valid UTF-8
    for (const auto& s : stops)
        if (out.find(s) != std::string::npos) __builtin_trap();  // a stop string never leaks
    // JSON constraint: feed bytes while accepted; the accepted prefix + closing() is one JSON object.
    JsonPrefix jp(true);
    std::string accepted;
    for (char c : body) {
        JsonPrefix before = jp;
        if (!jp.feed(c)) {
            jp = before;
            break;
        }
        accepted.push_back(c);
        if (jp.complete()) break;
    }
    std::string completed = accepted + jp.closing();
    try {
        if (!nlohmann::json::parse(completed).is_object()) __builtin_trap();
    } catch (const nlohmann::json::out_of_range&) {
        // valid JSON grammar, but a number beyond double range: nlohmann's limit, not ours
    } catch (const nlohmann::json::parse_error&) {
        // string contents are not UTF-8-checked by the automaton: only invalid UTF-8 may fail here
        if (utf8_sanitize(completed) == completed) __builtin_trap();
    }
    return 0;
}
