// Rendering of ApiError into the OpenAI error object shape, with the type chosen from the status.
#include "server/api_error.h"

namespace hearth::server {

static std::string type_for_status(int status) {
    switch (status) {
        case 401: return "authentication_error";
        case 403: return "permission_error";
        case 404: return "not_found_error";
        case 429: return "rate_limit_error";
        case 501: return "not_supported_error";
        case 503: return "unavailable_error";
        default: return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

std::string ApiError::type() const { return type_.empty() ? type_for_status(status_) : type_; }

nlohmann::json error_json(int status, const std::string& message, const std::string& param,
                          const std::string& type) {
    nlohmann::json err = {
        {"message", message},
        {"type", type.empty() ? type_for_status(status) : type},
        {"param", param.empty() ? nlohmann::json(nullptr) : nlohmann::json(param)},
        {"code", status},
    };
    return {{"error", err}};
}

nlohmann::json ApiError::to_json() const { return error_json(status_, what(), param_, type_); }

}  // namespace hearth::server
