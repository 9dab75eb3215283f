// Tool-call / reasoning parsing of model output, whole and streamed one byte at a time: content,
// <think> reasoning, Hermes <tool_call> blocks, bare JSON calls, and no partial-tag leaks.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "chat/tool_calls.h"

using namespace hearth::chat;

namespace {

// Feeds `text` in pieces of `chunk` bytes, merges the deltas, and checks they equal message().
ParsedMessage stream(const std::string& text, size_t chunk, const ToolCallParseOptions& opt = {}) {
    StreamingToolCallParser p(opt);
    ParsedMessage merged;
    auto add = [&](const StreamDelta& d) {
        EXPECT_EQ(d.content.find("<tool_call"), std::string::npos) << "partial tag leaked: " << d.content;
        EXPECT_EQ(d.content.find("<think"), std::string::npos) << "partial tag leaked: " << d.content;
        merged.content += d.content;
        merged.reasoning_content += d.reasoning_content;
        for (const auto& c : d.tool_calls) {
            EXPECT_EQ(c.index, merged.tool_calls.size());
            merged.tool_calls.push_back(c.call);
        }
    };
    for (size_t i = 0; i < text.size(); i += chunk) add(p.feed(std::string_view(text).substr(i, chunk)));
    add(p.finish());
    EXPECT_EQ(merged.content, p.message().content);
    EXPECT_EQ(merged.reasoning_content, p.message().reasoning_content);
    EXPECT_EQ(merged.tool_calls.size(), p.message().tool_calls.size());
    return merged;
}

void expect_same_every_chunking(const std::string& text, const ToolCallParseOptions& opt = {}) {
    ParsedMessage whole = parse_model_output(text, opt);
    for (size_t chunk : {1, 2, 3, 5, 7, 64}) {
        ParsedMessage s = stream(text, chunk, opt);
        EXPECT_EQ(s.content, whole.content) << "chunk " << chunk;
        EXPECT_EQ(s.reasoning_content, whole.reasoning_content) << "chunk " << chunk;
        ASSERT_EQ(s.tool_calls.size(), whole.tool_calls.size()) << "chunk " << chunk;
        for (size_t i = 0; i < s.tool_calls.size(); ++i) {
            EXPECT_EQ(s.tool_calls[i].name, whole.tool_calls[i].name);
            EXPECT_EQ(s.tool_calls[i].arguments, whole.tool_calls[i].arguments);
        }
    }
}

}  // namespace

TEST(ChatToolCalls, PlainContent) {
    ParsedMessage m = parse_model_output("Hello, world! 1 < 2 and <b>bold</b>.");
    EXPECT_EQ(m.content, "Hello, world! 1 < 2 and <b>bold</b>.");
    EXPECT_TRUE(m.reasoning_content.empty());
    EXPECT_TRUE(m.tool_calls.empty());
    expect_same_every_chunking("Hello, world! 1 < 2 and <b>bold</b>. <tool");
}

TEST(ChatToolCalls, ReasoningSplit) {
    ParsedMessage m = parse_model_output("<think>\nThe user greets me.\n</think>\n\nHi there!");
    EXPECT_EQ(m.reasoning_content, "The user greets me.");
    EXPECT_EQ(m.content, "Hi there!");
    expect_same_every_chunking("<think>\nThe user greets me.\n</think>\n\nHi there!");
}

TEST(ChatToolCalls, ReasoningOpenedByPrompt) {
    ToolCallParseOptions opt;
    opt.reasoning_open_at_start = true;
    ParsedMessage m = parse_model_output("Let me think.\n</think>\nAnswer: 4", opt);
    EXPECT_EQ(m.reasoning_content, "Let me think.");
    EXPECT_EQ(m.content, "Answer: 4");
    expect_same_every_chunking("Let me think.\n</think>\nAnswer: 4", opt);
    // Truncated generation: everything is reasoning.
    EXPECT_EQ(parse_model_output("still thinking", opt).reasoning_content, "still thinking");
}

TEST(ChatToolCalls, HermesToolCall) {
    const std::string out =
        "I'll check the weather.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", "
        "\"unit\": \"celsius\"}}\n</tool_call>";
    ParsedMessage m = parse_model_output(out);
    EXPECT_EQ(m.content, "I'll check the weather.");
    ASSERT_EQ(m.tool_calls.size(), 1u);
    EXPECT_EQ(m.tool_calls[0].name, "get_weather");
    EXPECT_EQ(m.tool_calls[0].id, "call_0");
    EXPECT_EQ(nlohmann::json::parse(m.tool_calls[0].arguments), nlohmann::json::parse(R"({"city":"Paris","unit":"celsius"})"));
    EXPECT_EQ(m.tool_calls[0].arguments, R"({"city":"Paris","unit":"celsius"})");  // key order kept
    expect_same_every_chunking(out);
}

TEST(ChatToolCalls, ThinkThenTwoToolCalls) {
    const std::string out =
        "<think>Need two calls.</think>\n<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": 1}}\n</tool_call>\n"
        "<tool_call>\n{\"name\": \"b\", \"arguments\": \"{\\\"y\\\": [1, 2]}\"}\n</tool_call>";
    ParsedMessage m = parse_model_output(out);
    EXPECT_EQ(m.reasoning_content, "Need two calls.");
    EXPECT_EQ(m.content, "");
    ASSERT_EQ(m.tool_calls.size(), 2u);
    EXPECT_EQ(m.tool_calls[0].name, "a");
    EXPECT_EQ(m.tool_calls[0].arguments, R"({"x":1})");
    EXPECT_EQ(m.tool_calls[1].name, "b");
    EXPECT_EQ(m.tool_calls[1].arguments, R"({"y": [1, 2]})");  // string arguments pass through
    EXPECT_EQ(m.tool_calls[1].id, "call_1");
    expect_same_every_chunking(out);
}

TEST(ChatToolCalls, BareJsonToolCallAndList) {
    ParsedMessage m = parse_model_output(R"(  {"name": "search", "parameters": {"query": "llamas"}})");
    ASSERT_EQ(m.tool_calls.size(), 1u);
    EXPECT_EQ(m.tool_calls[0].name, "search");
    EXPECT_EQ(m.tool_calls[0].arguments, R"({"query":"llamas"})");
    EXPECT_EQ(m.content, "");
    const std::string list = R"([{"name": "a", "arguments": {}}, {"name": "b", "arguments": {"k": "v"}}])";
    ParsedMessage l = parse_model_output(list);
    ASSERT_EQ(l.tool_calls.size(), 2u);
    EXPECT_EQ(l.tool_calls[1].arguments, R"({"k":"v"})");
    expect_same_every_chunking(list);
}

TEST(ChatToolCalls, JsonThatIsNotAToolCallStaysContent) {
    const std::string out = R"({"answer": 42, "text": "a } brace"} and more)";
    ParsedMessage m = parse_model_output(out);
    EXPECT_TRUE(m.tool_calls.empty());
    EXPECT_EQ(m.content, out);
    expect_same_every_chunking(out);
    ToolCallParseOptions no_json;
    no_json.allow_plain_json = false;
    EXPECT_TRUE(parse_model_output(R"({"name": "a", "arguments": {}})", no_json).tool_calls.empty());
}

TEST(ChatToolCalls, BrokenToolCallKeepsText) {
    ParsedMessage m = parse_model_output("Sure <tool_call>{not json}</tool_call>");
    EXPECT_TRUE(m.tool_calls.empty());
    EXPECT_EQ(m.content, "Sure<tool_call>{not json}</tool_call>");
    // Unclosed but complete JSON at the end of generation still counts.
    ParsedMessage u = parse_model_output("<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": true}}");
    ASSERT_EQ(u.tool_calls.size(), 1u);
    EXPECT_EQ(u.tool_calls[0].arguments, R"({"a":true})");
    // A lone partial tag at the very end is released as content by finish().
    EXPECT_EQ(parse_model_output("value <tool_ca").content, "value <tool_ca");
}

TEST(ChatToolCalls, PartialTagIsHeldBackWhileStreaming) {
    StreamingToolCallParser p;
    EXPECT_EQ(p.feed("Checking <tool_").content, "Checking");
    StreamDelta d = p.feed("call>{\"name\": \"f\", \"arguments\": {}}</tool_call>");
    EXPECT_EQ(d.content, "");
    ASSERT_EQ(d.tool_calls.size(), 1u);
    EXPECT_EQ(d.tool_calls[0].call.name, "f");
    EXPECT_EQ(d.tool_calls[0].call.arguments, "{}");
    EXPECT_TRUE(p.finish().empty());
}

TEST(ChatToolCalls, DisabledFeaturesPassThrough) {
    ToolCallParseOptions opt;
    opt.parse_reasoning = false;
    opt.parse_tool_calls = false;
    const std::string out = "<think>x</think><tool_call>{\"name\":\"f\"}</tool_call>";
    ParsedMessage m = parse_model_output(out, opt);
    EXPECT_EQ(m.content, out);
    EXPECT_TRUE(m.tool_calls.empty());
}

TEST(ChatToolCalls, QwenCoderXmlForm) {
    const std::string out =
        "Let me look.\n<tool_call>\n<function=get_weather>\n<parameter=city>\nNew York\n</parameter>\n"
        "<parameter=days>\n3\n</parameter>\n<parameter=opts>\n{\"metric\": true}\n</parameter>\n</function>\n</tool_call>";
    ParsedMessage m = parse_model_output(out);
    EXPECT_EQ(m.content, "Let me look.");
    ASSERT_EQ(m.tool_calls.size(), 1u);
    EXPECT_EQ(m.tool_calls[0].name, "get_weather");
    EXPECT_EQ(m.tool_calls[0].arguments, R"({"city":"New York","days":3,"opts":{"metric":true}})");
    expect_same_every_chunking(out);
    // Malformed XML stays content.
    EXPECT_TRUE(parse_model_output("<tool_call><function=f><parameter=a>1</function></tool_call>").tool_calls.empty());
}

TEST(ChatToolCalls, PromptOpensReasoning) {
    EXPECT_TRUE(prompt_opens_reasoning("<|im_start|>assistant\n<think>\n"));
    EXPECT_FALSE(prompt_opens_reasoning("<|im_start|>assistant\n<think>\n\n</think>\n\n"));
    EXPECT_FALSE(prompt_opens_reasoning("<|im_start|>assistant\n"));
}

TEST(ChatToolCalls, InvalidUtf8InXmlValueIsReplacedNotThrown) {
    ParsedMessage m = parse_model_output("<tool_call><function=f><parameter=a>\n\x8a\xff\n</parameter></function></tool_call>");
    ASSERT_EQ(m.tool_calls.size(), 1u);
    EXPECT_EQ(m.tool_calls[0].arguments, "{\"a\":\"\xEF\xBF\xBD\xEF\xBF\xBD\"}");
}
