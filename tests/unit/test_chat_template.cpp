// The server-facing chat API: render_chat_template over real shared templates (ChatML/Qwen,
// Llama 3, Gemma), tools and chat_template_kwargs, and errors raised by templates.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "chat/chat_template.h"
#include "core/error.h"

using namespace hearth::chat;
using json = nlohmann::ordered_json;

namespace {

std::string shared_template(const std::string& name) {
    std::ifstream f(std::string(HEARTH_SHARED_DIR) + "/templates/" + name, std::ios::binary);
    if (!f) return {};
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

}  // namespace

TEST(ChatTemplate, ChatMLGenerationPrompt) {
    const std::string tmpl =
        "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
    ChatTemplateInputs in;
    in.messages = json::parse(R"([{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}])");
    EXPECT_EQ(render_chat_template(tmpl, in),
              "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    in.add_generation_prompt = false;
    EXPECT_EQ(render_chat_template(tmpl, in), "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
}

TEST(ChatTemplate, ContextVariables) {
    ChatTemplateInputs in;
    in.messages = json::array();
    in.bos_token = "<s>";
    in.eos_token = "</s>";
    in.extra_context = json::parse(R"({"enable_thinking": false})");
    EXPECT_EQ(render_chat_template("{{ bos_token }}{{ eos_token }}|{{ tools is none }}|{{ enable_thinking }}", in),
              "<s></s>|True|False");
    in.tools = json::parse(R"([{"type":"function","function":{"name":"f","parameters":{"b":1,"a":2}}}])");
    EXPECT_EQ(render_chat_template("{{ tools | tojson }}", in),
              R"([{"type": "function", "function": {"name": "f", "parameters": {"b": 1, "a": 2}}}])");
    // A plain nlohmann::json converts implicitly (its keys arrive sorted).
    nlohmann::json plain = nlohmann::json::parse(R"([{"role":"user","content":"x"}])");
    in.messages = plain;
    EXPECT_EQ(render_chat_template("{{ messages[0].content }}", in), "x");
}

TEST(ChatTemplate, QwenTemplateWithToolCall) {
    const std::string tmpl = shared_template("Qwen-Qwen2.5-7B-Instruct.jinja");
    if (tmpl.empty()) GTEST_SKIP() << "shared templates not available";
    ChatTemplateInputs in;
    in.messages = json::parse(R"([
        {"role":"user","content":"Weather in Paris?"},
        {"role":"assistant","content":"","tool_calls":[{"type":"function","function":{"name":"get_weather","arguments":{"city":"Paris"}}}]},
        {"role":"tool","content":"21C"}])");
    in.tools = json::parse(R"([{"type":"function","function":{"name":"get_weather","description":"d","parameters":{"type":"object"}}}])");
    std::string out = render_chat_template(tmpl, in);
    EXPECT_NE(out.find("<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\""), std::string::npos) << out;
    EXPECT_NE(out.find("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"), std::string::npos) << out;
    EXPECT_NE(out.find("<tool_response>\n21C\n</tool_response>"), std::string::npos) << out;
    EXPECT_EQ(out.substr(out.size() - 22), "<|im_start|>assistant\n");
}

TEST(ChatTemplate, TemplateRaisesBecomesError) {
    const std::string tmpl = shared_template("google-gemma-2-2b-it.jinja");
    if (tmpl.empty()) GTEST_SKIP() << "shared templates not available";
    ChatTemplateInputs in;
    in.messages = json::parse(R"([{"role":"system","content":"s"},{"role":"user","content":"u"}])");
    try {
        render_chat_template(tmpl, in);
        FAIL() << "expected an error";
    } catch (const hearth::Error& e) {
        EXPECT_EQ(e.kind(), hearth::ErrorKind::InvalidArgument);
        EXPECT_NE(std::string(e.what()).find("System role not supported"), std::string::npos) << e.what();
    }
    in.messages = json::parse(R"([{"role":"user","content":"u"}])");
    EXPECT_NE(render_chat_template(tmpl, in).find("<start_of_turn>user\nu<end_of_turn>"), std::string::npos);
}

TEST(ChatTemplate, BadInputsAreErrors) {
    ChatTemplateInputs in;
    in.messages = json::object();
    EXPECT_THROW(render_chat_template("x", in), hearth::Error);
    in.messages = json::array();
    EXPECT_THROW(render_chat_template("{% for %}", in), hearth::Error);
    in.extra_context = json::array();
    EXPECT_THROW(render_chat_template("x", in), hearth::Error);
}
