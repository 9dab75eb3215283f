// Unit tests of the server's HTTP lifecycle and assistant-output parsing: /health answers 503
// until the model is loaded and 200 after, other routes refuse with 503 while loading, a real
// chat request round-trips through cpp-httplib, drain stops the server; tool-call extraction.
#include <gtest/gtest.h>

#include <httplib.h>

#include <filesystem>

#include "server/chat_format.h"
#include "server/server.h"

using namespace hearth::server;
using nlohmann::json;

namespace {

const std::string kModel = std::string(HEARTH_SHARED_DIR) + "/models/tiny-qwen3-bpe-Q8_0.gguf";

}  // namespace

TEST(ServerHttp, HealthIs503UntilLoadedThen200) {
    if (!std::filesystem::exists(kModel)) GTEST_SKIP() << "shared model missing";
    ServerConfig cfg;
    cfg.model_path = kModel;
    cfg.port = 0;
    cfg.n_threads = 1;
    cfg.n_ctx = 512;
    Server srv(cfg);
    int port = srv.start();
    httplib::Client cli("127.0.0.1", port);
    cli.set_read_timeout(30, 0);
    auto h = cli.Get("/health");
    ASSERT_TRUE(h);
    EXPECT_EQ(h->status, 503);
    EXPECT_EQ(json::parse(h->body)["error"]["message"], "Loading model");
    auto m = cli.Get("/v1/models");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->status, 503);
    auto c0 = cli.Post("/v1/chat/completions", R"({"messages":[{"role":"user","content":"hi"}]})", "application/json");
    ASSERT_TRUE(c0);
    EXPECT_EQ(c0->status, 503);

    srv.load_model();
    h = cli.Get("/health");
    ASSERT_TRUE(h);
    EXPECT_EQ(h->status, 200);
    auto c = cli.Post("/v1/chat/completions",
                      R"({"messages":[{"role":"user","content":"hi"}],"max_tokens":3,"temperature":0})",
                      "application/json");
    ASSERT_TRUE(c);
    ASSERT_EQ(c->status, 200) << c->body;
    json j = json::parse(c->body);
    EXPECT_EQ(j["object"], "chat.completion");
    EXPECT_LE(j["usage"]["completion_tokens"].get<int>(), 3);
    auto bad = cli.Post("/v1/chat/completions", R"({"messages":[],"max_tokens":3})", "application/json");
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 400);
    EXPECT_EQ(json::parse(bad->body)["error"]["param"], "messages");

    srv.drain(std::chrono::milliseconds(2000));
    EXPECT_FALSE(srv.running());
}

TEST(ServerHttp, ApiKeyProtectsEverythingButHealthAndModels) {
    if (!std::filesystem::exists(kModel)) GTEST_SKIP() << "shared model missing";
    ServerConfig cfg;
    cfg.model_path = kModel;
    cfg.port = 0;
    cfg.n_threads = 1;
    cfg.n_ctx = 256;
    cfg.api_keys.add_list("k1,k2");
    Server srv(cfg);
    int port = srv.start();
    srv.load_model();
    httplib::Client cli("127.0.0.1", port);
    EXPECT_EQ(cli.Get("/health")->status, 200);
    EXPECT_EQ(cli.Get("/v1/models")->status, 200);
    auto noauth = cli.Get("/props");
    EXPECT_EQ(noauth->status, 401);
    EXPECT_EQ(json::parse(noauth->body)["error"]["type"], "authentication_error");
    EXPECT_EQ(cli.Get("/props", {{"Authorization", "Bearer k3"}})->status, 401);
    EXPECT_EQ(cli.Get("/props", {{"Authorization", "Bearer k2"}})->status, 200);
    EXPECT_EQ(cli.Post("/tokenize", {{"X-Api-Key", "k1"}}, R"({"content":"abc"})", "application/json")->status, 200);
    srv.stop();
}

TEST(ServerChatFormat, ParsesHermesToolCalls) {
    nlohmann::ordered_json tools = nlohmann::ordered_json::parse(
        R"([{"type":"function","function":{"name":"get_weather"}},{"type":"function","function":{"name":"add"}}])");
    ParsedAssistant p = parse_assistant_output(
        "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n"
        "<tool_call>{\"name\":\"add\",\"arguments\":{\"a\":1,\"b\":2}}</tool_call>",
        tools);
    ASSERT_EQ(p.tool_calls.size(), 2u);
    EXPECT_EQ(p.content, "Let me check.");
    EXPECT_EQ(p.tool_calls[0]["function"]["name"], "get_weather");
    EXPECT_EQ(json::parse(p.tool_calls[0]["function"]["arguments"].get<std::string>())["city"], "Paris");
    EXPECT_EQ(p.tool_calls[0]["type"], "function");
    EXPECT_TRUE(p.tool_calls[0]["id"].get<std::string>().rfind("call-", 0) == 0);
    // A bare JSON object naming a tool (Llama 3 style).
    ParsedAssistant bare = parse_assistant_output(R"( {"name": "add", "parameters": {"a": 1}} )", tools);
    ASSERT_EQ(bare.tool_calls.size(), 1u);
    EXPECT_EQ(bare.content, "");
    // Unknown tool names and broken JSON stay plain content.
    EXPECT_TRUE(parse_assistant_output("<tool_call>{\"name\":\"rm\",\"arguments\":{}}</tool_call>", tools).tool_calls.empty());
    ParsedAssistant broken = parse_assistant_output("<tool_call>{oops</tool_call>", tools);
    EXPECT_TRUE(broken.tool_calls.empty());
    EXPECT_EQ(broken.content, "<tool_call>{oops</tool_call>");
}
