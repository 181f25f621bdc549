// Chat Completions mapping (server/chat_completions.h) on hand-written Harmony outputs: reasoning, the reply,
// tool calls, stop strings cut across token boundaries and UTF-8 characters, log-probabilities of the reply's
// tokens, forced call headers (tool_choice), and the request checks.
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
    Json logprobs = Json::array(); // the streamed log-probability entries, concatenated
    Json last_chunk;
    bool ended_early = false;
};

// A made-up log-probability for the i-th sampled token, and its two "likeliest" alternatives.
TokenEvent event(size_t i, TokenId token) {
    const float logprob = -0.25f * static_cast<float>(i + 1);
    return TokenEvent{1, token, logprob, {{token, logprob}, {kTokenEnd, logprob - 1}}};
}

// Feeds the tokens of `output` (the text after "<|start|>assistant", after options.forced_header if any) through
// two assemblers: one streams, one builds the whole response.
Assembled assemble(const std::string& output, ChatOutputOptions options = {}, bool length = false) {
    const std::vector<TokenId> tokens = tokenizer().encode_with_special(output).value();
    ChatCompletionAssembler streamed(tokenizer(), "chatcmpl-test", "gpt-oss", 1, options);
    ChatCompletionAssembler whole(tokenizer(), "chatcmpl-test", "gpt-oss", 1, options);
    Assembled out;
    std::vector<Json> chunks;
    for (size_t i = 0; i < tokens.size(); ++i) {
        const bool ended = streamed.on_token(event(i, tokens[i]), chunks);
        std::vector<Json> ignored;
        whole.on_token(event(i, tokens[i]), ignored);
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
        const Json& logprobs = chunk["choices"][0]["logprobs"];
        // Every chunk that carries content carries its tokens' entries, but the first (the role's).
        EXPECT_EQ(logprobs.is_null(), !options.logprobs || !delta.contains("content") || delta.contains("role"))
            << chunk.dump();
        if (!logprobs.is_null()) {
            out.logprobs.insert(out.logprobs.end(), logprobs["content"].begin(), logprobs["content"].end());
        }
    }
    out.response = whole.response(length, 7);
    return out;
}

ChatOutputOptions stopping_at(std::vector<std::string> stop) {
    ChatOutputOptions options;
    options.stop_text = std::move(stop);
    return options;
}

ChatOutputOptions with_logprobs() {
    ChatOutputOptions options;
    options.logprobs = true;
    return options;
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
                 ChatOutputOptions{{}, true, false, {}});
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
    const Assembled a =
        assemble("<|channel|>final<|message|>Hello, world. Hello again.<|return|>", stopping_at({"lo, wo"}));
    EXPECT_TRUE(a.ended_early);
    EXPECT_EQ(a.response["choices"][0]["message"]["content"], "Hel");
    EXPECT_EQ(a.content, "Hel");
    EXPECT_EQ(a.response["choices"][0]["finish_reason"], "stop");
    // Held-back text that did not become a stop string is sent at the end; a cut never splits a character.
    const Assembled b = assemble("<|channel|>final<|message|>naïve café", stopping_at({"é!"}), true);
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
    EXPECT_EQ(job->n, 1);
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
    EXPECT_TRUE(low_job->output.exclude_reasoning);
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
    refused(with("n", 17), "n must be an integer from 1 to 16");
    refused(with("n", 0), "n must be");
    refused(with("n", "2"), "n must be");
    refused(with("stream", "yes"), "stream");
    refused(with("stop", Json::array({"a", "b", "c", "d", "e"})), "stop");
    refused(with("stop", ""), "stop");
    refused(with("seed", 1.5), "seed");
    refused(with("reasoning", "low"), "reasoning");
    refused(with("reasoning", {{"effort", "max"}}), "reasoning_effort");
    refused(with("reasoning", {{"exclude", 1}}), "exclude");
    refused(with("logprobs", 1), "logprobs");
    refused(with("top_logprobs", 3), "top_logprobs needs logprobs");
    Json too_many = with("logprobs", true);
    too_many["top_logprobs"] = 21;
    refused(too_many, "top_logprobs");
    refused(with("parallel_tool_calls", "yes"), "parallel_tool_calls");
    refused(with("tool_choice", "required"), "tools declare no function");
    refused(with("tool_choice", "sometimes"), "tool_choice");
    limits.context = 8;
    refused(ok, "context");
}

TEST(ChatCompletions, LogprobsCoverTheTokensOfTheContent) {
    const std::string output = "<|channel|>analysis<|message|>Think first.<|end|><|start|>assistant<|channel|>final"
                               "<|message|>Hello, world.<|return|>";
    const Assembled a = assemble(output, with_logprobs());
    const Json& logprobs = a.response["choices"][0]["logprobs"];
    ASSERT_TRUE(logprobs.is_object()) << a.response.dump();
    EXPECT_TRUE(logprobs["refusal"].is_null());
    const Json& entries = logprobs["content"];
    EXPECT_EQ(entries, a.logprobs) << "streamed entries differ from the whole response's";
    // The entries are the content's tokens, in order, with what the engine said of each, and nothing of the
    // reasoning or of Harmony's structure.
    const std::vector<TokenId> tokens = tokenizer().encode_with_special(output).value();
    const size_t first = std::find(tokens.begin(), tokens.end(), kTokenMessage) - tokens.begin();
    const size_t content_start =
        std::find(tokens.begin() + static_cast<std::ptrdiff_t>(first) + 1, tokens.end(), kTokenMessage) -
        tokens.begin() + 1;
    ASSERT_EQ(entries.size(), tokens.size() - content_start - 1); // all but <|return|>
    std::string text;
    for (size_t i = 0; i < entries.size(); ++i) {
        const Json& entry = entries[i];
        const TokenId token = tokens[content_start + i];
        const std::string bytes(tokenizer().token_bytes(token).value());
        text += entry["token"].get<std::string>();
        EXPECT_FLOAT_EQ(entry["logprob"].get<float>(), -0.25f * static_cast<float>(content_start + i + 1));
        EXPECT_EQ(entry["bytes"].size(), bytes.size());
        EXPECT_EQ(entry["bytes"][0].get<int>(), static_cast<unsigned char>(bytes[0]));
        ASSERT_EQ(entry["top_logprobs"].size(), 2u);
        EXPECT_EQ(entry["top_logprobs"][0]["token"], entry["token"]);
        EXPECT_EQ(entry["top_logprobs"][1]["token"], "<|end|>");
        EXPECT_FLOAT_EQ(entry["top_logprobs"][1]["logprob"].get<float>(), entry["logprob"].get<float>() - 1);
    }
    EXPECT_EQ(text, "Hello, world.");
    // Without logprobs: null, whole and streamed.
    EXPECT_TRUE(assemble(output).response["choices"][0]["logprobs"].is_null());
}

TEST(ChatCompletions, LogprobsEndWithTheTextAStopStringLeaves) {
    ChatOutputOptions options = stopping_at({", wor"});
    options.logprobs = true;
    const Assembled a = assemble("<|channel|>final<|message|>Hello, world. Hello again.<|return|>", options);
    EXPECT_EQ(a.content, "Hello");
    const Json& entries = a.response["choices"][0]["logprobs"]["content"];
    EXPECT_EQ(entries, a.logprobs);
    std::string text;
    for (const Json& entry : entries) {
        text += entry["token"].get<std::string>();
    }
    EXPECT_EQ(text, "Hello"); // "," and what follows are cut, and so are their tokens
}

// The bytes of a response's log-probability entries, concatenated.
std::string entry_bytes(const Json& response) {
    std::string out;
    for (const Json& entry : response["choices"][0]["logprobs"]["content"]) {
        for (const Json& byte : entry["bytes"]) {
            out += static_cast<char>(byte.get<int>());
        }
    }
    return out;
}

TEST(ChatCompletions, LogprobsOfOutputThatBreaksHarmonyCoverItsText) {
    // Text where a header should be: it becomes the content, and its tokens get their entries.
    for (const char* output : {"Hello there, <|channel|> world<|message|>and more", "Hello there<|end|>",
                               "<|channel|>final<|message|>Fine.<|end|>plain after"}) {
        const Assembled a = assemble(output, with_logprobs(), true);
        const std::string content = a.response["choices"][0]["message"]["content"];
        EXPECT_FALSE(content.empty()) << output;
        EXPECT_EQ(entry_bytes(a.response), content) << output;
        EXPECT_EQ(a.logprobs, a.response["choices"][0]["logprobs"]["content"]) << output;
    }
}

TEST(ChatCompletions, TokenTextsThatAreNotUtf8AreEscaped) {
    EXPECT_EQ(token_display("caf\xc3\xa9"), "caf\xc3\xa9");
    EXPECT_EQ(token_display("\xe2\x80"), "\\xe2\\x80");
    EXPECT_EQ(token_display("a\xff"
                            "b"),
              "a\\xffb");
    EXPECT_EQ(token_bytes_json("\xe2\x80"), Json::array({0xe2, 0x80}));
}

TEST(ChatCompletions, ToolChoiceForcesTheCallHeader) {
    ChatLimits limits;
    limits.max_output_tokens = 100;
    limits.context = 4096;
    limits.conversation_date = "2026-12-07";
    const Json tools = Json::array(
        {{{"type", "function"},
          {"function",
           {{"name", "get_weather"}, {"parameters", {{"type", "object"}, {"properties", Json::object()}}}}}},
         {{"type", "function"}, {"function", {{"name", "get_time"}}}}});
    const Json ok = {{"messages", {{{"role", "user"}, {"content", "Weather in Paris?"}}}}, {"tools", tools}};
    auto prompt_of = [&](const Json& tool_choice) {
        Json body = ok;
        body["tool_choice"] = tool_choice;
        auto job = parse_chat_completion(body, tokenizer(), limits, 5);
        EXPECT_TRUE(job.ok()) << job.error().to_string();
        return job.ok() ? std::make_pair(tokenizer().decode(job->request.prompt).value(), job->output)
                        : std::make_pair(std::string(), ChatOutputOptions{});
    };
    const auto [required, required_output] = prompt_of("required");
    EXPECT_TRUE(required.ends_with("<|start|>assistant<|channel|>commentary to=functions.")) << required;
    const auto [named, named_output] = prompt_of({{"type", "function"}, {"function", {{"name", "get_time"}}}});
    EXPECT_TRUE(named.ends_with("<|start|>assistant<|channel|>commentary to=functions.get_time <|constrain|>json"
                                "<|message|>"))
        << named;
    const auto [none, none_output] = prompt_of("none");
    EXPECT_EQ(none.find("get_weather"), std::string::npos) << none;
    EXPECT_TRUE(none_output.forced_header.empty());
    EXPECT_NE(prompt_of("auto").first.find("get_weather"), std::string::npos);

    // The model's tokens after the forced header complete the call.
    const Assembled a =
        assemble("get_weather <|constrain|>json<|message|>{\"city\": \"Paris\"}<|call|>", required_output);
    const Json& message = a.response["choices"][0]["message"];
    ASSERT_EQ(message["tool_calls"].size(), 1u) << a.response.dump();
    EXPECT_EQ(message["tool_calls"][0]["function"]["name"], "get_weather");
    EXPECT_EQ(message["tool_calls"][0]["function"]["arguments"], "{\"city\": \"Paris\"}");
    EXPECT_EQ(a.response["choices"][0]["finish_reason"], "tool_calls");
    const Assembled b = assemble("{}<|call|>", named_output);
    EXPECT_EQ(b.response["choices"][0]["message"]["tool_calls"][0]["function"]["name"], "get_time");
    EXPECT_EQ(b.response["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"], "{}");

    Json unknown = ok;
    unknown["tool_choice"] = {{"type", "function"}, {"function", {{"name", "get_stock"}}}};
    auto refused = parse_chat_completion(unknown, tokenizer(), limits, 5);
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.error().message().find("\"get_stock\""), std::string::npos) << refused.error().message();
    Json nameless = ok;
    nameless["tool_choice"] = {{"type", "function"}};
    EXPECT_FALSE(parse_chat_completion(nameless, tokenizer(), limits, 5).ok());
}

TEST(ChatCompletions, LogprobsAreAskedOfTheEngine) {
    ChatLimits limits;
    limits.max_output_tokens = 100;
    limits.context = 4096;
    Json body = {{"messages", {{{"role", "user"}, {"content", "Hi"}}}}};
    EXPECT_EQ(parse_chat_completion(body, tokenizer(), limits, 5)->request.top_logprobs, -1);
    body["logprobs"] = true;
    EXPECT_EQ(parse_chat_completion(body, tokenizer(), limits, 5)->request.top_logprobs, 0);
    body["top_logprobs"] = 5;
    auto job = parse_chat_completion(body, tokenizer(), limits, 5);
    EXPECT_EQ(job->request.top_logprobs, 5);
    EXPECT_TRUE(job->output.logprobs);
}

} // namespace
} // namespace tllm::server
