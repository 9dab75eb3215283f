// HTTP-facing errors of the server: an HTTP status plus the fields of an OpenAI-style error object
// {"error":{"message","type","param","code"}}. Handlers throw ApiError; the HTTP layer renders it.
#pragma once

#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace hearth::server {

class ApiError : public std::runtime_error {
public:
    ApiError(int status, std::string message, std::string param = "", std::string type = "")
        : std::runtime_error(message), status_(status), param_(std::move(param)), type_(std::move(type)) {}

    int status() const { return status_; }
    const std::string& param() const { return param_; }
    // OpenAI error type: invalid_request_error for 4xx, authentication_error for 401, ...
    std::string type() const;
    nlohmann::json to_json() const;

private:
    int status_;
    std::string param_;
    std::string type_;
};

// 400 invalid_request_error naming the offending parameter.
inline ApiError bad_request(const std::string& message, const std::string& param = "") {
    return ApiError(400, message, param);
}

// Renders an error object for any status (used for 404/405/500 raised outside handlers too).
nlohmann::json error_json(int status, const std::string& message, const std::string& param = "",
                          const std::string& type = "");

}  // namespace hearth::server
