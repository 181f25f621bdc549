// Chat Completions requests -> Harmony prompts, checked against fixture text where one exists.
#include "chat/openai_request.h"
#include "chat/render.h"
#include "fixtures.h"

#include <gtest/gtest.h>

namespace tllm {
namespace {

using Json = nlohmann::ordered_json;

Result<std::string> render_request(const std::string& body, std::optional<std::string> date = std::nullopt) {
    TLLM_ASSIGN_OR_RETURN(auto messages, harmony_messages_from_chat_request(Json::parse(body), {date}));
    HarmonyRenderer renderer(testing::harmony_tokenizer());
    TLLM_ASSIGN_OR_RETURN(auto ids, renderer.render_for_completion(messages, Role::kAssistant));
    return testing::harmony_tokenizer().decode(ids);
}

TEST(ChatRequest, MatchesTheOfficialFixtures) {
    auto text = render_request(R"({"messages": [
        {"role": "system", "content": "Answer the user's questions like a robot."},
        {"role": "user", "content": "What is the capital of the largest country in the world?"}],
        "reasoning_effort": "high"})");
    ASSERT_TRUE(text.ok()) << text.error().to_string();
    EXPECT_EQ(*text, testing::official_fixture("test_simple_convo_high_effort.txt").text);

    auto tools = render_request(R"({"messages": [], "tools": [{"type": "function", "function": {
        "name": "lookup_weather",
        "description": "Use this tool to lookup the weather in a given location. Call it with the parameter 'location', can be any textual description of a location.",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}]})",
                                "2025-06-28");
    ASSERT_TRUE(tools.ok()) << tools.error().to_string();
    std::string expected = testing::official_fixture("test_browser_and_function_tool.txt").text;
    // Same developer message and functions line; that fixture also declares the browser tool.
    EXPECT_NE(expected.find(tools->substr(tools->find("<|start|>developer"))), std::string::npos);
    EXPECT_NE(tools->find("Calls to these tools must go to the commentary channel: 'functions'."), std::string::npos);
}

TEST(ChatRequest, ToolRoundTrip) {
    auto text = render_request(R"({"messages": [
        {"role": "user", "content": [{"type": "text", "text": "Weather in SF?"}]},
        {"role": "assistant", "reasoning_content": "Need lookup.", "content": null,
         "tool_calls": [{"id": "call_1", "type": "function",
                         "function": {"name": "lookup_weather", "arguments": "{\"location\": \"SF\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "{\"temperature\": 20}"}],
        "tools": [{"type": "function", "function": {"name": "lookup_weather", "description": "Weather."}}]})",
                               "2025-01-02");
    ASSERT_TRUE(text.ok()) << text.error().to_string();
    EXPECT_NE(text->find("Current date: 2025-01-02"), std::string::npos);
    EXPECT_NE(text->find("<|start|>assistant<|channel|>analysis<|message|>Need lookup.<|end|>"), std::string::npos);
    EXPECT_NE(text->find("<|start|>assistant to=functions.lookup_weather<|channel|>commentary <|constrain|>json"
                         "<|message|>{\"location\": \"SF\"}<|call|>"),
              std::string::npos);
    EXPECT_NE(text->find("<|start|>functions.lookup_weather to=assistant<|channel|>commentary<|message|>"
                         "{\"temperature\": 20}<|end|><|start|>assistant"),
              std::string::npos);
    EXPECT_NE(text->find("type lookup_weather = () => any;"), std::string::npos);
}

TEST(ChatRequest, RejectsBadRequests) {
    EXPECT_FALSE(harmony_messages_from_chat_request(Json::parse("[]"), {}).ok());
    EXPECT_FALSE(harmony_messages_from_chat_request(Json::parse(R"({"messages": [{"role": "x"}]})"), {}).ok());
    EXPECT_FALSE(
        harmony_messages_from_chat_request(Json::parse(R"({"messages": [], "reasoning_effort": "max"})"), {}).ok());
    auto orphan = harmony_messages_from_chat_request(
        Json::parse(R"({"messages": [{"role": "tool", "tool_call_id": "nope", "content": "1"}]})"), {});
    ASSERT_FALSE(orphan.ok());
    EXPECT_NE(orphan.error().message().find("messages[0]"), std::string::npos);
    EXPECT_FALSE(harmony_messages_from_chat_request(
                     Json::parse(R"({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})"), {})
                     .ok());
}

} // namespace
} // namespace tllm
