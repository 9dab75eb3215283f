// Unit tests of the server's request schema (types, ranges, limits -> 400 with the field named),
// the /rerank body, API-error rendering, API-key checks, and the UTF-8 / stop-string text stream.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "core/error.h"
#include "server/api_error.h"
#include "server/auth.h"
#include "server/request_schema.h"
#include "server/rerank_request.h"
#include "server/text_stream.h"

using namespace hearth::server;
using json = nlohmann::ordered_json;

namespace {

GenerationRequest parse_chat(const std::string& body) {
    RequestLimits limits;
    return parse_generation_request(parse_body(body, limits), Endpoint::Chat, limits, 1000);
}

// Runs fn and returns the ApiError it throws (fails the test if none).
template <typename Fn>
ApiError expect_error(Fn&& fn) {
    try {
        fn();
    } catch (const ApiError& e) {
        return e;
    }
    ADD_FAILURE() << "no ApiError thrown";
    return ApiError(0, "");
}

const char* kMsgs = R"("messages":[{"role":"user","content":"hi"}])";

std::string chat(const std::string& extra) { return std::string("{") + kMsgs + (extra.empty() ? "" : "," + extra) + "}"; }

}  // namespace

TEST(ServerSchema, AcceptsFullChatRequest) {
    auto r = parse_chat(chat(R"("max_tokens":12,"temperature":0,"top_p":0.5,"top_k":3,"min_p":0.1,"seed":42,
        "stop":["a","b"],"presence_penalty":1,"frequency_penalty":-1,"logit_bias":{"5":-100,"7":2.5},
        "logprobs":true,"top_logprobs":3,"stream":true,"stream_options":{"include_usage":true},
        "response_format":{"type":"json_object"},"tools":[{"type":"function","function":{"name":"f","parameters":{}}}],
        "tool_choice":"auto","chat_template_kwargs":{"enable_thinking":false},"n":1)"));
    EXPECT_EQ(r.max_tokens, 12);
    EXPECT_EQ(r.sampling.temperature, 0.0f);
    EXPECT_EQ(r.sampling.top_k, 3);
    EXPECT_EQ(r.sampling.seed, 42u);
    EXPECT_EQ(r.stop.size(), 2u);
    ASSERT_EQ(r.sampling.logit_bias.size(), 2u);
    EXPECT_TRUE(std::isinf(r.sampling.logit_bias[0].second));
    EXPECT_TRUE(r.logprobs);
    EXPECT_EQ(r.top_logprobs, 3);
    EXPECT_TRUE(r.stream);
    EXPECT_TRUE(r.include_usage);
    EXPECT_EQ(r.response_format, "json_object");
    EXPECT_EQ(r.tools.size(), 1u);
    EXPECT_EQ(r.chat_template_kwargs["enable_thinking"], false);
}

TEST(ServerSchema, WrongTypesNameTheField) {
    struct Case {
        const char* extra;
        const char* param;
    } cases[] = {
        {R"("max_tokens":"5")", "max_tokens"},   {R"("temperature":"hot")", "temperature"},
        {R"("stream":1)", "stream"},             {R"("stop":5)", "stop"},
        {R"("top_k":1.5)", "top_k"},             {R"("logit_bias":[1])", "logit_bias"},
        {R"("tools":{})", "tools"},              {R"("seed":"x")", "seed"},
        {R"("logprobs":"yes")", "logprobs"},     {R"("response_format":"json")", "response_format"},
    };
    for (const auto& c : cases) {
        ApiError e = expect_error([&] { parse_chat(chat(c.extra)); });
        EXPECT_EQ(e.status(), 400) << c.extra;
        EXPECT_EQ(e.param(), c.param) << c.extra;
        EXPECT_EQ(e.to_json()["error"]["type"], "invalid_request_error");
    }
}

TEST(ServerSchema, OutOfRangeValues) {
    const char* cases[] = {
        R"("temperature":-1)", R"("temperature":2.5)", R"("top_p":1.5)", R"("top_logprobs":21)",
        R"("max_tokens":-5)",  R"("presence_penalty":3)", R"("n":2)", R"("min_p":-0.1)",
        R"("logit_bias":{"5000":1})", R"("logit_bias":{"5":101})", R"("logit_bias":{"x":1})",
    };
    for (const char* c : cases) {
        ApiError e = expect_error([&] { parse_chat(chat(std::string(c) + (std::string(c).find("top_logprobs") != std::string::npos ? ",\"logprobs\":true" : ""))); });
        EXPECT_EQ(e.status(), 400) << c;
    }
    ApiError n = expect_error([&] { parse_chat(chat(R"("n":3)")); });
    EXPECT_NE(std::string(n.what()).find("n=1"), std::string::npos);
}

TEST(ServerSchema, StopLimits) {
    std::string many = "\"stop\":[";
    for (int i = 0; i < 17; ++i) many += std::string(i ? "," : "") + "\"s" + std::to_string(i) + "\"";
    many += "]";
    EXPECT_EQ(expect_error([&] { parse_chat(chat(many)); }).param(), "stop");
    std::string longstop = "\"stop\":\"" + std::string(257, 'x') + "\"";
    EXPECT_EQ(expect_error([&] { parse_chat(chat(longstop)); }).param(), "stop");
    EXPECT_EQ(parse_chat(chat("\"stop\":\"" + std::string(256, 'x') + "\"")).stop.size(), 1u);
}

TEST(ServerSchema, MessagesShape) {
    RequestLimits l;
    auto bad = [&](const char* body) {
        return expect_error([&] { parse_generation_request(parse_body(body, l), Endpoint::Chat, l, 100); });
    };
    EXPECT_EQ(bad(R"({})").param(), "messages");
    EXPECT_EQ(bad(R"({"messages":[]})").param(), "messages");
    EXPECT_EQ(bad(R"({"messages":[{"role":"wizard","content":"x"}]})").param(), "messages[0].role");
    EXPECT_EQ(bad(R"({"messages":[{"role":"user","content":5}]})").param(), "messages[0].content");
    auto r = parse_generation_request(
        parse_body(R"({"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]})", l),
        Endpoint::Chat, l, 100);
    EXPECT_EQ(r.messages[0]["content"], "ab");
}

TEST(ServerSchema, BodyLevelErrors) {
    RequestLimits l;
    EXPECT_EQ(expect_error([&] { parse_body("{not json", l); }).status(), 400);
    EXPECT_EQ(expect_error([&] { parse_body("[1,2]", l); }).status(), 400);
    EXPECT_EQ(expect_error([&] { parse_body("{\"a\":\"\xff\xfe\"}", l); }).status(), 400);  // invalid UTF-8
    EXPECT_EQ(expect_error([&] { parse_body(std::string(100000, '['), l); }).status(), 400);  // depth
    EXPECT_EQ(expect_error([&] { parse_body("{\"a\":77777777E7757777}", l); }).status(), 400);  // number overflow
    l.max_body_bytes = 10;
    EXPECT_EQ(expect_error([&] { parse_body("{\"aaaaaaaaaaaa\":1}", l); }).status(), 413);
}

TEST(ServerSchema, CompletionPrompts) {
    RequestLimits l;
    auto r = parse_generation_request(parse_body(R"({"prompt":[1,2,3],"logprobs":2})", l), Endpoint::Completions, l, 100);
    EXPECT_TRUE(r.prompt_is_tokens);
    EXPECT_EQ(r.prompt_tokens.size(), 3u);
    EXPECT_EQ(r.top_logprobs, 2);
    EXPECT_EQ(expect_error([&] {
                  parse_generation_request(parse_body(R"({"prompt":[1,200]})", l), Endpoint::Completions, l, 100);
              }).param(),
              "prompt");
    EXPECT_EQ(expect_error([&] {
                  parse_generation_request(parse_body(R"({"prompt":["a","b"]})", l), Endpoint::Completions, l, 100);
              }).param(),
              "prompt");
    auto legacy = parse_generation_request(parse_body(R"({"prompt":"x","n_predict":-1,"n_probs":3})", l),
                                           Endpoint::LegacyCompletion, l, 100);
    EXPECT_EQ(legacy.max_tokens, -1);
    EXPECT_EQ(legacy.top_logprobs, 3);
}

TEST(ServerAuth, KeysAndHeaders) {
    ApiKeys keys;
    EXPECT_FALSE(keys.enabled());
    keys.add_list("alpha, beta,,");
    EXPECT_EQ(keys.size(), 2u);
    EXPECT_TRUE(keys.check("alpha"));
    EXPECT_TRUE(keys.check("beta"));
    EXPECT_FALSE(keys.check("alph"));
    EXPECT_FALSE(keys.check("alphaa"));
    EXPECT_FALSE(keys.check(""));
    EXPECT_EQ(presented_key("Bearer  sk-1 ", ""), "sk-1");
    EXPECT_EQ(presented_key("bearer sk-2", ""), "sk-2");
    EXPECT_EQ(presented_key("", "sk-3"), "sk-3");
    EXPECT_EQ(presented_key("Basic xyz", ""), "");
    EXPECT_TRUE(constant_time_equals("abc", "abc"));
    EXPECT_FALSE(constant_time_equals("abc", "abd"));
    EXPECT_FALSE(constant_time_equals("abc", "ab"));
    EXPECT_THROW(keys.add_file("/nonexistent/keys.txt"), hearth::Error);
    std::string path = testing::TempDir() + "/hearth_server_keys.txt";
    {
        std::ofstream f(path);
        f << "# comment\n  gamma  \n\ndelta\n";
    }
    keys.add_file(path);
    EXPECT_EQ(keys.size(), 4u);
    EXPECT_TRUE(keys.check("gamma"));
    EXPECT_TRUE(keys.check("delta"));
    EXPECT_FALSE(keys.check("# comment"));
    std::remove(path.c_str());
}

TEST(ServerTextStream, Utf8IsNeverSplit) {
    TextStream ts;
    std::string euro = "\xE2\x82\xAC";
    EXPECT_EQ(ts.push(euro.substr(0, 1)), "");
    EXPECT_EQ(ts.push(euro.substr(1, 1)), "");
    EXPECT_EQ(ts.push(euro.substr(2, 1) + "x"), euro + "x");
    EXPECT_EQ(utf8_sanitize("a\xFF" "b"), "a\xEF\xBF\xBD" "b");
    EXPECT_EQ(utf8_sanitize("\xED\xA0\x80"), "\xEF\xBF\xBD");  // surrogate
    TextStream t2;
    EXPECT_EQ(t2.push("\xE2\x82"), "");
    EXPECT_EQ(t2.flush(), "\xEF\xBF\xBD");  // truncated at the end
}

TEST(ServerTextStream, StopStringsAreHeldBackAndCut) {
    TextStream ts({"END", "\n\n"});
    std::string out;
    out += ts.push("hello E");
    EXPECT_EQ(out, "hello ");
    out += ts.push("N");
    EXPECT_EQ(out, "hello ");
    out += ts.push("X more");  // "ENX" is not a stop: released
    EXPECT_EQ(out, "hello ENX more");
    out += ts.push(" done\n");
    out += ts.push("\nafter");
    EXPECT_TRUE(ts.stopped());
    EXPECT_EQ(ts.matched_stop(), "\n\n");
    EXPECT_EQ(out, "hello ENX more done");
    EXPECT_EQ(ts.push("ignored"), "");
    EXPECT_EQ(ts.flush(), "");
}

TEST(RerankRequest, AcceptsStringsAndTextObjectsAndClampsTopN) {
    RequestLimits l;
    const RerankRequest r = parse_rerank_request(
        parse_body(R"({"query":"q","documents":["a",{"text":"b"},"c"],"top_n":2,"return_documents":true})", l));
    EXPECT_EQ(r.query, "q");
    ASSERT_EQ(r.documents.size(), 3u);
    EXPECT_EQ(r.documents[1], "b");
    EXPECT_EQ(r.top_n, 2u);
    EXPECT_TRUE(r.return_documents);
    EXPECT_EQ(parse_rerank_request(parse_body(R"({"query":"q","documents":["a"]})", l)).top_n, 1u);
    EXPECT_EQ(parse_rerank_request(parse_body(R"({"query":"q","documents":["a","b"],"top_n":99})", l)).top_n, 2u);
    EXPECT_EQ(parse_rerank_request(parse_body(R"({"query":"q","documents":["a","b"],"top_n":18446744073709551615})", l)).top_n, 2u);
    EXPECT_EQ(parse_rerank_request(parse_body(R"({"query":"q","documents":["a"],"top_n":null,"return_documents":null})", l)).top_n, 1u);
}

TEST(RerankRequest, EachViolationNamesItsField) {
    RequestLimits l;
    auto param_of = [&](const std::string& body) {
        const ApiError e = expect_error([&] { parse_rerank_request(parse_body(body, l)); });
        EXPECT_EQ(e.status(), 400) << body;
        return e.param();
    };
    EXPECT_EQ(param_of(R"({"documents":["a"]})"), "query");
    EXPECT_EQ(param_of(R"({"query":7,"documents":["a"]})"), "query");
    EXPECT_EQ(param_of(R"({"query":"q"})"), "documents");
    EXPECT_EQ(param_of(R"({"query":"q","documents":[]})"), "documents");
    EXPECT_EQ(param_of(R"({"query":"q","documents":"a"})"), "documents");
    EXPECT_EQ(param_of(R"({"query":"q","documents":["a",3]})"), "documents");
    EXPECT_EQ(param_of(R"({"query":"q","documents":[{"txt":"a"}]})"), "documents");
    EXPECT_EQ(param_of(R"({"query":"q","documents":["a"],"top_n":0})"), "top_n");
    EXPECT_EQ(param_of(R"({"query":"q","documents":["a"],"top_n":-3})"), "top_n");
    EXPECT_EQ(param_of(R"({"query":"q","documents":["a"],"top_n":1.5})"), "top_n");
    EXPECT_EQ(param_of(R"({"query":"q","documents":["a"],"top_n":"2"})"), "top_n");
    EXPECT_EQ(param_of(R"({"query":"q","documents":["a"],"return_documents":1})"), "return_documents");
}
