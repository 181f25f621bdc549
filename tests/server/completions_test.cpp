// Legacy Completions (server/completions.h): raw prompts (text with Harmony's specials, token ids), the fields
// refused with their names, and hand-written outputs through the assembler (stop tokens and strings, skipped
// specials, the legacy logprobs object), streamed and whole alike; then the route on a real server.
#include "server/completions.h"
#include "server_fixture.h"

namespace tllm::server {
namespace {

const Tokenizer& harmony_tokenizer() {
    static const Tokenizer* t = new Tokenizer(std::move(Tokenizer::o200k_harmony()).value());
    return *t;
}

ChatLimits completion_limits() {
    ChatLimits limits;
    limits.max_output_tokens = 100;
    limits.context = 4096;
    return limits;
}

TEST(Completions, PromptsAreRawTextOrTokenIds) {
    const Tokenizer& t = harmony_tokenizer();
    const std::string text = "<|start|>user<|message|>Hi<|end|><|start|>assistant";
    auto job = parse_completion({{"prompt", text}, {"max_tokens", 5}}, t, completion_limits(), 1);
    ASSERT_TRUE(job.ok()) << job.error().to_string();
    EXPECT_EQ(job->request.prompt, t.encode_with_special(text).value()); // no chat template around it
    EXPECT_EQ(job->request.prompt.front(), kTokenStart);
    EXPECT_EQ(job->request.max_new_tokens, 5);
    EXPECT_EQ(job->request.stop_tokens, (std::vector<int32_t>{kTokenReturn, kTokenEndOfText, kTokenCall}));
    EXPECT_EQ(job->request.top_logprobs, -1);
    auto ids = parse_completion({{"prompt", {1, 2, 3}}, {"logprobs", 2}}, t, completion_limits(), 1);
    ASSERT_TRUE(ids.ok());
    EXPECT_EQ(ids->request.prompt, (std::vector<int32_t>{1, 2, 3}));
    EXPECT_EQ(ids->request.top_logprobs, 2);
    auto one_string = parse_completion({{"prompt", {"Hi"}}}, t, completion_limits(), 1);
    ASSERT_TRUE(one_string.ok());
    EXPECT_EQ(one_string->request.prompt, t.encode_ordinary("Hi").value());
    auto one_list = parse_completion({{"prompt", {{7, 8}}}}, t, completion_limits(), 1);
    ASSERT_TRUE(one_list.ok());
    EXPECT_EQ(one_list->request.prompt, (std::vector<int32_t>{7, 8}));

    auto refused = [&](const Json& body, ErrorCode code, const std::string& words) {
        auto result = parse_completion(body, t, completion_limits(), 1);
        ASSERT_FALSE(result.ok()) << body.dump();
        EXPECT_EQ(result.error().code(), code) << body.dump();
        EXPECT_NE(result.error().message().find(words), std::string::npos) << result.error().message();
    };
    refused(Json::object(), ErrorCode::kInvalidArgument, "prompt");
    refused({{"prompt", ""}}, ErrorCode::kInvalidArgument, "prompt");
    refused({{"prompt", Json::array()}}, ErrorCode::kInvalidArgument, "prompt");
    refused({{"prompt", {"a", "b"}}}, ErrorCode::kUnsupported, "one prompt per request");
    refused({{"prompt", {{1}, {2}}}}, ErrorCode::kUnsupported, "one prompt per request");
    refused({{"prompt", {1, -2}}}, ErrorCode::kInvalidArgument, "token ids");
    refused({{"prompt", {1, 201088}}}, ErrorCode::kInvalidArgument, "token ids");
    refused({{"prompt", {1, "a"}}}, ErrorCode::kInvalidArgument, "token ids");
    refused({{"prompt", 3}}, ErrorCode::kInvalidArgument, "prompt");
    refused({{"prompt", "Hi"}, {"echo", true}}, ErrorCode::kUnsupported, "echo");
    refused({{"prompt", "Hi"}, {"suffix", "x"}}, ErrorCode::kUnsupported, "suffix");
    refused({{"prompt", "Hi"}, {"n", 17}}, ErrorCode::kInvalidArgument, "n must be an integer from 1 to 16");
    refused({{"prompt", "Hi"}, {"best_of", 3}}, ErrorCode::kUnsupported, "best_of");
    refused({{"prompt", "Hi"}, {"n", 2}, {"best_of", 3}}, ErrorCode::kUnsupported, "best_of may only equal n");
    auto two = parse_completion({{"prompt", "Hi"}, {"n", 2}, {"best_of", 2}}, t, completion_limits(), 1);
    ASSERT_TRUE(two.ok()) << two.error().to_string();
    EXPECT_EQ(two->n, 2);
    refused({{"prompt", "Hi"}, {"logprobs", 21}}, ErrorCode::kInvalidArgument, "logprobs");
    refused({{"prompt", "Hi"}, {"logprobs", true}}, ErrorCode::kInvalidArgument, "logprobs");
    refused({{"prompt", "Hi"}, {"max_tokens", 101}}, ErrorCode::kInvalidArgument, "max_tokens");
    refused({{"prompt", "Hi"}, {"temperature", -1}}, ErrorCode::kInvalidArgument, "temperature");
    refused({{"prompt", "Hi"}, {"stop", 5}}, ErrorCode::kInvalidArgument, "stop");
    refused({{"prompt", "Hi"}, {"stream_options", 5}}, ErrorCode::kInvalidArgument, "stream_options");
    refused({{"prompt", std::vector<int>(5000, 1)}}, ErrorCode::kContextOverflow, "context");
}

struct Completed {
    Json response;
    std::string streamed; // the chunks' text, concatenated
    Json streamed_logprobs = Json::object();
    std::string finish;
};

// Feeds the tokens of `output` through two assemblers, one streaming, one whole.
Completed complete(const std::string& output, CompletionOutputOptions options, bool length = false) {
    const Tokenizer& t = harmony_tokenizer();
    const std::vector<TokenId> tokens = t.encode_with_special(output).value();
    options.stop_tokens = {kTokenReturn, kTokenEndOfText, kTokenCall};
    CompletionAssembler streamed(t, "cmpl-test", "gpt-oss", 1, options);
    CompletionAssembler whole(t, "cmpl-test", "gpt-oss", 1, options);
    std::vector<Json> chunks;
    for (size_t i = 0; i < tokens.size(); ++i) {
        const float logprob = -0.5f * static_cast<float>(i + 1);
        const TokenEvent event{1, tokens[i], logprob, {{tokens[i], logprob}}};
        std::vector<Json> ignored;
        whole.on_token(event, ignored);
        if (streamed.on_token(event, chunks)) {
            break;
        }
    }
    Completed out;
    const Json last = streamed.finish_chunk(length, chunks);
    out.finish = last["choices"][0]["finish_reason"];
    for (const Json& chunk : chunks) {
        EXPECT_EQ(chunk["object"], "text_completion");
        out.streamed += chunk["choices"][0]["text"].get<std::string>();
        const Json& logprobs = chunk["choices"][0]["logprobs"];
        if (logprobs.is_null()) {
            continue;
        }
        for (const auto& [key, value] : logprobs.items()) {
            for (const Json& item : value) {
                out.streamed_logprobs[key].push_back(item);
            }
        }
    }
    out.response = whole.response(length, 3);
    return out;
}

TEST(Completions, TheReplyIsTheTokensTextUpToAnEnd) {
    const Completed a = complete("<|channel|>final<|message|>Bonjour.<|return|>ignored", {});
    EXPECT_EQ(a.response["choices"][0]["text"], "<|channel|>final<|message|>Bonjour.");
    EXPECT_EQ(a.streamed, a.response["choices"][0]["text"]);
    EXPECT_EQ(a.response["choices"][0]["finish_reason"], "stop");
    EXPECT_EQ(a.finish, "stop");
    EXPECT_TRUE(a.response["choices"][0]["logprobs"].is_null());
    EXPECT_EQ(a.response["usage"]["prompt_tokens"], 3);
    EXPECT_EQ(a.response["object"], "text_completion");

    CompletionOutputOptions skip;
    skip.skip_special_tokens = true;
    EXPECT_EQ(complete("<|channel|>final<|message|>Bonjour.", skip, true).response["choices"][0]["text"],
              "finalBonjour.");
    EXPECT_EQ(complete("Bonjour", {}, true).response["choices"][0]["finish_reason"], "length");

    CompletionOutputOptions stop;
    stop.stop_text = {"jour"};
    const Completed b = complete("Bonjour, monde.", stop, true);
    EXPECT_EQ(b.response["choices"][0]["text"], "Bon");
    EXPECT_EQ(b.streamed, "Bon");
    EXPECT_EQ(b.finish, "stop");
}

TEST(Completions, LogprobsComeInTheLegacyForm) {
    CompletionOutputOptions options;
    options.logprobs = true;
    const Completed a = complete("Hello, wörld<|return|>", options);
    const Json& logprobs = a.response["choices"][0]["logprobs"];
    ASSERT_TRUE(logprobs.is_object());
    EXPECT_EQ(logprobs, a.streamed_logprobs);
    const std::vector<TokenId> tokens = harmony_tokenizer().encode_ordinary("Hello, wörld").value();
    ASSERT_EQ(logprobs["tokens"].size(), tokens.size()); // <|return|> gets none
    std::string text;
    int64_t characters = 0;
    for (size_t i = 0; i < tokens.size(); ++i) {
        const std::string token = logprobs["tokens"][i];
        EXPECT_EQ(logprobs["text_offset"][i], characters) << i;
        text += token;
        characters += static_cast<int64_t>(token.size()) - (token.find("ö") != std::string::npos ? 1 : 0);
        EXPECT_FLOAT_EQ(logprobs["token_logprobs"][i].get<float>(), -0.5f * static_cast<float>(i + 1));
        EXPECT_EQ(logprobs["top_logprobs"][i].size(), 1u);
        EXPECT_TRUE(logprobs["top_logprobs"][i].contains(token));
    }
    EXPECT_EQ(text, "Hello, wörld");
}

class CompletionsRouteTest : public HttpServerTest {};

TEST_F(CompletionsRouteTest, WholeAndStreamedAgreeAndErrorsNameTheirField) {
    start();
    const Json request = {{"model", "gpt-oss-test"}, {"prompt", "Once upon a time"}, {"max_tokens", 8}, {"seed", 4},
                          {"logprobs", 2},           {"stream_options", nullptr}};
    auto whole = client_->Post("/v1/completions", request.dump(), "application/json");
    ASSERT_TRUE(whole);
    ASSERT_EQ(whole->status, 200) << whole->body;
    const Json response = Json::parse(whole->body);
    EXPECT_EQ(response["object"], "text_completion");
    EXPECT_EQ(response["model"], "gpt-oss-test");
    EXPECT_EQ(response["usage"]["prompt_tokens"], 4); // "Once upon a time", as it is
    const int64_t generated = response["usage"]["completion_tokens"];
    EXPECT_GE(generated, 1);
    const Json& logprobs = response["choices"][0]["logprobs"];
    EXPECT_EQ(static_cast<int64_t>(logprobs["tokens"].size()),
              generated - (response["choices"][0]["finish_reason"] == "stop" ? 1 : 0));
    for (const Json& top : logprobs["top_logprobs"]) {
        EXPECT_LE(top.size(), 2u);
    }

    Json stream_request = request;
    stream_request["stream"] = true;
    stream_request["stream_options"] = {{"include_usage", true}};
    auto streamed = client_->Post("/v1/completions", stream_request.dump(), "application/json");
    ASSERT_TRUE(streamed && streamed->status == 200);
    const std::vector<std::string> data = events(streamed->body);
    ASSERT_GE(data.size(), 3u);
    EXPECT_EQ(data.back(), "[DONE]");
    std::string text;
    std::string finish;
    for (size_t i = 0; i + 2 < data.size(); ++i) {
        const Json chunk = Json::parse(data[i]);
        text += chunk["choices"][0]["text"].get<std::string>();
        if (!chunk["choices"][0]["finish_reason"].is_null()) {
            finish = chunk["choices"][0]["finish_reason"];
        }
    }
    EXPECT_EQ(text, response["choices"][0]["text"]);
    EXPECT_EQ(finish, response["choices"][0]["finish_reason"]);
    EXPECT_EQ(Json::parse(data[data.size() - 2])["usage"], response["usage"]);

    auto error = [&](const Json& body, int status, const std::string& words) {
        auto r = client_->Post("/v1/completions", body.dump(), "application/json");
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, status) << r->body;
        EXPECT_NE(Json::parse(r->body)["error"]["message"].get<std::string>().find(words), std::string::npos)
            << r->body;
    };
    error({{"prompt", {"a", "b"}}}, 400, "one prompt per request");
    error({{"prompt", "a"}, {"echo", true}}, 400, "echo");
    error({{"prompt", {5, 999999}}}, 400, "token ids");
    error({{"max_tokens", 3}}, 400, "prompt");
}

} // namespace
} // namespace tllm::server
