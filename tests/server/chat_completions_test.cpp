// Chat Completions mapping (server/chat_completions.h) on hand-written Harmony outputs: reasoning, the reply,
// tool calls, stop strings cut across token boundaries and UTF-8 characters, and the request checks.
#include "server/chat_completions.h"

#include <gtest/gtest.h>

namespace tllm::server {
namespace {

using Json = nlohmann::ordered_json;

const Tokenizer& tokenizer() {
    static const Tokenizer* t = new Tokenizer(std::move(Tokenizer::o200k_harmony()).value());
    return *t;
}

struct Assembled {
    Json response;       // the whole response
    std::string content; // the streamed content, concatenated
    std::string reasoning;
    Json last_chunk;
    bool ended_early = false;
};

// Feeds the tokens of `output` (the text after "<|start|>assistant") through two assemblers: one streams, one
// builds the whole response.
Assembled assemble(const std::string& output,
                   std::vector<std::string> stop = {},
                   bool length = false,
                   bool exclude_reasoning = false) {
    const std::vector<TokenId> tokens = tokenizer().encode_with_special(output).value();
    ChatCompletionAssembler streamed(tokenizer(), "chatcmpl-test", "gpt-oss", 1, stop, exclude_reasoning);
    ChatCompletionAssembler whole(tokenizer(), "chatcmpl-test", "gpt-oss", 1, stop, exclude_reasoning);
    Assembled out;
    std::vector<Json> chunks;
    for (TokenId token : tokens) {
        const bool ended = streamed.on_token(TokenEvent{1, token, 0.0f, {}}, chunks);
        std::vector<Json> ignored;
        whole.on_token(TokenEvent{1, token, 0.0f, {}}, ignored);
        if (ended) {
            out.ended_early = true;
            break;
        }
    }
    out.last_chunk = streamed.finish_chunk(length, chunks);
    for (const Json& chunk : chunks) {
        const Json& delta = chunk["choices"][0]["delta"];
        out.content += delta.value("content", "");
        out.reasoning += delta.value("reasoning_content", "");
        EXPECT_EQ(delta.value("reasoning", ""), delta.value("reasoning_content", "")); // both names, same text
    }
    out.response = whole.response(length, 7);
    return out;
}

TEST(ChatCompletions, ReasoningAndReplyGoToTheirFields) {
    const Assembled a = assemble("<|channel|>analysis<|message|>Think first.<|end|><|start|>assistant<|channel|>final"
                                 "<|message|>Hello, world.<|return|>");
    const Json& message = a.response["choices"][0]["message"];
    EXPECT_EQ(message["content"], "Hello, world.");
    EXPECT_EQ(message["reasoning_content"], "Think first.");
    EXPECT_EQ(a.content, "Hello, world.");
    EXPECT_EQ(a.reasoning, "Think first.");
    EXPECT_EQ(a.response["choices"][0]["finish_reason"], "stop");
    EXPECT_EQ(a.last_chunk["choices"][0]["finish_reason"], "stop");
    EXPECT_EQ(a.response["usage"]["prompt_tokens"], 7);
    EXPECT_EQ(a.response["object"], "chat.completion");
    EXPECT_EQ(message["reasoning"], "Think first.");
    // reasoning.exclude: generated, not returned.
    const Assembled hidden =
        assemble("<|channel|>analysis<|message|>Think first.<|end|><|start|>assistant<|channel|>final"
                 "<|message|>Hello, world.<|return|>",
                 {}, false, true);
    EXPECT_EQ(hidden.reasoning, "");
    EXPECT_FALSE(hidden.response["choices"][0]["message"].contains("reasoning"));
    EXPECT_EQ(hidden.content, "Hello, world.");
}

TEST(ChatCompletions, FunctionCallsBecomeToolCalls) {
    const Assembled a = assemble("<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>"
                                 "{\"city\": \"Paris\"}<|call|>");
    const Json& message = a.response["choices"][0]["message"];
    ASSERT_EQ(message["tool_calls"].size(), 1u);
    EXPECT_EQ(message["tool_calls"][0]["function"]["name"], "get_weather");
    EXPECT_EQ(message["tool_calls"][0]["function"]["arguments"], "{\"city\": \"Paris\"}");
    EXPECT_TRUE(message["content"].is_null());
    EXPECT_EQ(a.response["choices"][0]["finish_reason"], "tool_calls");
}

TEST(ChatCompletions, AStopStringEndsTheReplyBeforeIt) {
    // "lo, wo" spans several tokens; the streamed text never shows any of it.
    const Assembled a = assemble("<|channel|>final<|message|>Hello, world. Hello again.<|return|>", {"lo, wo"});
    EXPECT_TRUE(a.ended_early);
    EXPECT_EQ(a.response["choices"][0]["message"]["content"], "Hel");
    EXPECT_EQ(a.content, "Hel");
    EXPECT_EQ(a.response["choices"][0]["finish_reason"], "stop");
    // Held-back text that did not become a stop string is sent at the end; a cut never splits a character.
    const Assembled b = assemble("<|channel|>final<|message|>naïve café", {"é!"}, true);
    EXPECT_FALSE(b.ended_early);
    EXPECT_EQ(b.content, "naïve café");
    EXPECT_EQ(b.response["choices"][0]["finish_reason"], "length");
}

TEST(ChatCompletions, RequestsAreCheckedFieldByField) {
    ChatLimits limits;
    limits.max_output_tokens = 100;
    limits.context = 4096;
    limits.conversation_date = "2026-12-07";
    const Json ok = {{"model", "gpt-oss-20b"}, {"messages", {{{"role", "user"}, {"content", "Hi"}}}}};
    auto job = parse_chat_completion(ok, tokenizer(), limits, 5);
    ASSERT_TRUE(job.ok()) << job.error().to_string();
    EXPECT_EQ(job->request.max_new_tokens, 100);
    EXPECT_EQ(job->request.sampling.seed, 5u);
    EXPECT_FLOAT_EQ(job->request.sampling.temperature, 1.0f);
    EXPECT_FALSE(job->stream);
    EXPECT_EQ(job->model, "gpt-oss-20b");
    // The prompt ends by opening the assistant's turn.
    const std::string prompt = tokenizer().decode(job->request.prompt).value();
    EXPECT_NE(prompt.find("2026-12-07"), std::string::npos);
    EXPECT_TRUE(prompt.ends_with("<|start|>assistant")) << prompt;
    // reasoning: {effort} sets the system message's reasoning level, as reasoning_effort does.
    Json low = ok;
    low["reasoning"] = {{"effort", "low"}, {"exclude", true}};
    auto low_job = parse_chat_completion(low, tokenizer(), limits, 5);
    ASSERT_TRUE(low_job.ok()) << low_job.error().to_string();
    EXPECT_NE(tokenizer().decode(low_job->request.prompt).value().find("Reasoning: low"), std::string::npos);
    EXPECT_TRUE(low_job->exclude_reasoning);
    auto refused = [&](Json body, const std::string& words) {
        auto result = parse_chat_completion(body, tokenizer(), limits, 5);
        ASSERT_FALSE(result.ok()) << body.dump();
        EXPECT_NE(result.error().message().find(words), std::string::npos) << result.error().message();
    };
    refused(Json::array(), "JSON object");
    refused({{"model", "m"}}, "messages");
    auto with = [&](const char* key, Json value) {
        Json body = ok;
        body[key] = std::move(value);
        return body;
    };
    refused(with("temperature", 3), "temperature");
    refused(with("temperature", "hot"), "temperature");
    refused(with("top_p", 0), "top_p");
    refused(with("max_tokens", 101), "max_tokens");
    refused(with("max_tokens", 0), "max_tokens");
    refused(with("n", 2), "one choice");
    refused(with("stream", "yes"), "stream");
    refused(with("stop", Json::array({"a", "b", "c", "d", "e"})), "stop");
    refused(with("stop", ""), "stop");
    refused(with("seed", 1.5), "seed");
    refused(with("reasoning", "low"), "reasoning");
    refused(with("reasoning", {{"effort", "max"}}), "reasoning_effort");
    refused(with("reasoning", {{"exclude", 1}}), "exclude");
    limits.context = 8;
    refused(ok, "context");
}

} // namespace
} // namespace tllm::server
