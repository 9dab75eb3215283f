// The /rerank request body (llama-server / Cohere / Jina shape), validated and extracted before any
// model work: {query: str, documents: [str | {text: str}, ...], top_n?: int >= 1, return_documents?:
// bool}. A violation throws ApiError 400 naming the field. Kept apart from the route so the fuzz
// target (tests/fuzz/fuzz_request.cpp) drives it with arbitrary bodies.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace hearth::server {

struct RerankRequest {
    std::string query;
    std::vector<std::string> documents;  // at least one
    size_t top_n = 0;                    // results to return: min(top_n, documents), all when absent
    bool return_documents = false;
};

RerankRequest parse_rerank_request(const nlohmann::ordered_json& body);

}  // namespace hearth::server
