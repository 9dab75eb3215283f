// Validation and extraction of /rerank bodies (see rerank_request.h).
#include "server/rerank_request.h"

#include <algorithm>
#include <cstdint>

#include "server/api_error.h"

namespace hearth::server {

namespace {

// documents: ["text", ...] or [{"text": "..."}, ...], at least one.
std::vector<std::string> parse_documents(const nlohmann::ordered_json& body) {
    if (!body.contains("documents")) throw bad_request("'documents' is required", "documents");
    const nlohmann::ordered_json& d = body["documents"];
    if (!d.is_array() || d.empty()) throw bad_request("'documents' must be a non-empty array of strings", "documents");
    std::vector<std::string> docs;
    docs.reserve(d.size());
    for (const auto& x : d) {
        if (x.is_string()) docs.push_back(x.get<std::string>());
        else if (x.is_object() && x.contains("text") && x["text"].is_string()) docs.push_back(x["text"].get<std::string>());
        else throw bad_request("'documents' elements must be strings (or objects with a string 'text')", "documents");
    }
    return docs;
}

}  // namespace

RerankRequest parse_rerank_request(const nlohmann::ordered_json& body) {
    RerankRequest r;
    if (!body.is_object()) throw bad_request("the request body must be a JSON object", "");
    if (!body.contains("query") || !body["query"].is_string()) throw bad_request("'query' must be a string", "query");
    r.query = body["query"].get<std::string>();
    r.documents = parse_documents(body);
    r.top_n = r.documents.size();
    if (body.contains("top_n") && !body["top_n"].is_null()) {
        const auto& t = body["top_n"];
        // is_number_integer covers unsigned values beyond INT64_MAX too: compare without converting.
        const bool positive = t.is_number_unsigned() ? t.get<uint64_t>() >= 1
                                                     : t.is_number_integer() && t.get<int64_t>() >= 1;
        if (!positive) throw bad_request("'top_n' must be a positive integer", "top_n");
        const uint64_t want = t.is_number_unsigned() ? t.get<uint64_t>() : static_cast<uint64_t>(t.get<int64_t>());
        r.top_n = static_cast<size_t>(std::min<uint64_t>(r.top_n, want));
    }
    if (body.contains("return_documents") && !body["return_documents"].is_null()) {
        if (!body["return_documents"].is_boolean()) throw bad_request("'return_documents' must be a boolean", "return_documents");
        r.return_documents = body["return_documents"].get<bool>();
    }
    return r;
}

}  // namespace hearth::server
