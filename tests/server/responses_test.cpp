// The Responses mapping: request bodies (input items, instructions, tools, tool_choice, previous conversations)
// against the Harmony text they must render to, the request checks, and hand-written Harmony outputs against the
// items and events they must become.
#include "../chat/fixtures.h"
#include "server/responses_output.h"
#include "server/responses_request.h"

#include <gtest/gtest.h>

namespace tllm::server {
namespace {

using Json = nlohmann::ordered_json;

const Tokenizer& harmony() { return testing::harmony_tokenizer(); }

ChatLimits test_limits() {
    ChatLimits limits;
    limits.max_output_tokens = 100;
    limits.context = 4096;
    limits.conversation_date = "2026-12-07";
    return limits;
}

Result<ResponsesJob> parse(const Json& body, const Json& previous = Json::array()) {
    return parse_responses_request(body, previous, harmony(), test_limits(), 5);
}

std::vector<TokenId> tokens_of(const std::string& text) { return testing::encode_special(text); }

std::string prompt_text(const ResponsesJob& job) { return harmony().decode(job.request.prompt).value(); }

const Json kWeatherTool = {
    {"type", "function"},
    {"name", "lookup_weather"},
    {"description", "Weather."},
    {"parameters",
     {{"type", "object"}, {"properties", {{"location", {{"type", "string"}}}}}, {"required", {"location"}}}}};

TEST(ResponsesRequest, AFunctionCallRoundTripRendersAsHarmony) {
    const Json body = {
        {"model", "gpt-oss-20b"},
        {"instructions", "Be brief."},
        {"reasoning", {{"effort", "low"}}},
        {"tools", {kWeatherTool, {{"type", "file_search"}}}}, // a tool not served: skipped
        {"input",
         {{{"role", "user"}, {"content", "Weather in SF?"}},
          {{"type", "reasoning"},
           {"id", "rs_1"},
           {"summary", Json::array()},
           {"content", {{{"type", "reasoning_text"}, {"text", "Need lookup."}}}}},
          {{"type", "function_call"},
           {"call_id", "call_1"},
           {"name", "lookup_weather"},
           {"arguments", "{\"location\":\"SF\"}"}},
          {{"type", "function_call_output"}, {"call_id", "call_1"}, {"output", "{\"temperature\": 20}"}}}}};
    auto job = parse(body);
    ASSERT_TRUE(job.ok()) << job.error().to_string();
    const std::string expected =
        "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\n"
        "Knowledge cutoff: 2024-06\nCurrent date: 2026-12-07\n\nReasoning: low\n\n"
        "# Valid channels: analysis, commentary, final. Channel must be included for every message.\n"
        "Calls to these tools must go to the commentary channel: 'functions'.<|end|>"
        "<|start|>developer<|message|># Instructions\n\nBe brief.\n\n# Tools\n\n## functions\n\n"
        "namespace functions {\n\n// Weather.\ntype lookup_weather = (_: {\nlocation: string,\n}) => any;\n\n"
        "} // namespace functions<|end|>"
        "<|start|>user<|message|>Weather in SF?<|end|>"
        // The reasoning before a call stays: the last assistant message is not a final answer.
        "<|start|>assistant<|channel|>analysis<|message|>Need lookup.<|end|>"
        "<|start|>assistant to=functions.lookup_weather<|channel|>commentary <|constrain|>json<|message|>"
        "{\"location\":\"SF\"}<|call|>"
        "<|start|>functions.lookup_weather to=assistant<|channel|>commentary<|message|>{\"temperature\": 20}<|end|>"
        "<|start|>assistant";
    EXPECT_EQ(prompt_text(*job), expected);
    EXPECT_EQ(job->model, "gpt-oss-20b");
    EXPECT_TRUE(job->store);
    EXPECT_EQ(job->input_items.size(), 4u);
    EXPECT_EQ(job->input_items[0]["type"], "message"); // made explicit
    EXPECT_EQ(job->echo["tools"].size(), 1u);
    EXPECT_EQ(job->echo["tools"][0]["name"], "lookup_weather");
    EXPECT_EQ(job->echo["instructions"], "Be brief.");
    EXPECT_EQ(job->echo["reasoning"]["effort"], "low");
    EXPECT_TRUE(job->forced_header.empty());
}

TEST(ResponsesRequest, ReasoningBeforeAFinalAnswerIsDroppedAsTheRendererDoes) {
    const Json body = {
        {"input",
         {{{"type", "message"}, {"role", "user"}, {"content", {{{"type", "input_text"}, {"text", "Hi"}}}}},
          {{"type", "reasoning"},
           {"summary", Json::array()},
           {"content", {{{"type", "reasoning_text"}, {"text", "Greet."}}}}},
          {{"type", "message"},
           {"role", "assistant"},
           {"content", {{{"type", "output_text"}, {"text", "Hello!"}, {"annotations", Json::array()}}}}},
          {{"role", "user"}, {"content", "Bye"}}}}};
    auto job = parse(body);
    ASSERT_TRUE(job.ok()) << job.error().to_string();
    const std::string text = prompt_text(*job);
    EXPECT_EQ(text.find("Greet."), std::string::npos) << text;
    EXPECT_TRUE(text.ends_with("<|start|>user<|message|>Hi<|end|><|start|>assistant<|channel|>final<|message|>Hello!"
                               "<|end|><|start|>user<|message|>Bye<|end|><|start|>assistant"))
        << text;
    // No instructions and no tools: no developer message.
    EXPECT_EQ(text.find("<|start|>developer"), std::string::npos);
}

TEST(ResponsesRequest, APreviousConversationComesFirst) {
    const Json previous = {{{"type", "message"}, {"role", "user"}, {"content", "Weather in SF?"}},
                           {{"type", "function_call"},
                            {"id", "fc_1"},
                            {"call_id", "call_9"},
                            {"name", "lookup_weather"},
                            {"arguments", "{}"},
                            {"status", "completed"}}};
    const Json body = {{"tools", {kWeatherTool}},
                       {"input", {{{"type", "function_call_output"}, {"call_id", "call_9"}, {"output", "sunny"}}}}};
    auto job = parse(body, previous);
    ASSERT_TRUE(job.ok()) << job.error().to_string();
    EXPECT_TRUE(prompt_text(*job).ends_with(
        "<|start|>user<|message|>Weather in SF?<|end|><|start|>assistant to=functions.lookup_weather<|channel|>"
        "commentary <|constrain|>json<|message|>{}<|call|><|start|>functions.lookup_weather to=assistant<|channel|>"
        "commentary<|message|>sunny<|end|><|start|>assistant"));
    EXPECT_EQ(job->input_items.size(), 1u);
    EXPECT_EQ(job->conversation.size(), 3u);
    // Without the conversation that made the call, its output answers nothing.
    auto orphan = parse(body);
    ASSERT_FALSE(orphan.ok());
    EXPECT_NE(orphan.error().message().find("input[0].call_id"), std::string::npos) << orphan.error().message();
}

TEST(ResponsesRequest, ToolChoiceDeclaresOrForcesTheCall) {
    const Json base = {{"tools", {kWeatherTool}}, {"input", "Weather in SF?"}};
    Json none = base;
    none["tool_choice"] = "none";
    auto no_tools = parse(none);
    ASSERT_TRUE(no_tools.ok()) << no_tools.error().to_string();
    EXPECT_EQ(prompt_text(*no_tools).find("lookup_weather"), std::string::npos);
    EXPECT_EQ(no_tools->echo["tool_choice"], "none");

    Json named = base;
    named["tool_choice"] = {{"type", "function"}, {"name", "lookup_weather"}};
    auto forced = parse(named);
    ASSERT_TRUE(forced.ok()) << forced.error().to_string();
    EXPECT_TRUE(prompt_text(*forced).ends_with(
        "<|start|>assistant<|channel|>commentary to=functions.lookup_weather <|constrain|>json<|message|>"));
    EXPECT_EQ(harmony().decode(forced->forced_header).value(),
              "<|channel|>commentary to=functions.lookup_weather <|constrain|>json<|message|>");

    Json required = base;
    required["tool_choice"] = "required";
    auto any = parse(required);
    ASSERT_TRUE(any.ok()) << any.error().to_string();
    EXPECT_TRUE(prompt_text(*any).ends_with("<|start|>assistant<|channel|>commentary to=functions."));

    named["tool_choice"]["name"] = "other";
    EXPECT_FALSE(parse(named).ok());
    Json nothing_to_call = {{"input", "Hi"}, {"tool_choice", "required"}};
    EXPECT_FALSE(parse(nothing_to_call).ok());
}

TEST(ResponsesRequest, RequestsAreCheckedFieldByField) {
    const Json ok = {{"model", "m"}, {"input", "Hi"}};
    auto job = parse(ok);
    ASSERT_TRUE(job.ok()) << job.error().to_string();
    EXPECT_EQ(job->request.max_new_tokens, 100);
    EXPECT_EQ(job->echo["max_output_tokens"], nullptr);
    EXPECT_EQ(job->echo["previous_response_id"], nullptr);
    auto refused = [&](const Json& body, const std::string& words, ErrorCode code = ErrorCode::kInvalidArgument) {
        auto result = parse(body);
        ASSERT_FALSE(result.ok()) << body.dump();
        EXPECT_EQ(result.error().code(), code) << result.error().to_string();
        EXPECT_NE(result.error().message().find(words), std::string::npos) << result.error().message();
    };
    auto with = [&](const char* key, Json value) {
        Json body = ok;
        body[key] = std::move(value);
        return body;
    };
    refused(Json::array(), "JSON object");
    refused({{"model", "m"}}, "input");
    refused(with("input", 5), "input");
    refused(with("input", Json::array({5})), "input[0]");
    refused(with("input", {{{"role", "robot"}, {"content", "x"}}}), "input[0].role");
    refused(with("input", {{{"role", "user"}}}), "input[0].content");
    refused(with("input", {{{"role", "user"}, {"content", {{{"type", "input_image"}, {"image_url", "x"}}}}}}),
            "input[0].content[0]", ErrorCode::kUnsupported);
    refused(with("input", {{{"type", "function_call"}, {"name", "f"}}}), "input[0].call_id");
    refused(with("input", {{{"type", "function_call_output"}, {"call_id", "c"}}}), "input[0].output");
    refused(with("input", {{{"type", "item_reference"}, {"id", "x"}}}), "item_reference", ErrorCode::kUnsupported);
    refused(with("instructions", 3), "instructions");
    refused(with("tools", "all"), "tools");
    refused(with("tools", {{{"type", "function"}}}), "tools[0].name");
    refused(with("tools", {{{"type", "function"}, {"name", "two words"}}}), "tools[0].name");
    refused(with("tools", {{{"type", "function"}, {"name", "f"}, {"parameters", "x"}}}), "tools[0].parameters");
    refused(with("tools", {{{"type", "function"}, {"name", "f"}, {"parameters", {{"type", 3}}}}}),
            "tools[0].parameters.type");
    refused(with("tool_choice", "sometimes"), "tool_choice");
    refused(with("reasoning", {{"effort", "max"}}), "reasoning.effort");
    refused(with("reasoning", "low"), "reasoning");
    refused(with("metadata", {{"k", 1}}), "metadata.k");
    refused(with("max_output_tokens", 0), "max_output_tokens");
    refused(with("max_output_tokens", 101), "max_output_tokens");
    refused(with("temperature", 3), "temperature");
    refused(with("top_p", "x"), "top_p");
    refused(with("stream", "yes"), "stream");
    refused(with("store", 1), "store");
    refused(with("parallel_tool_calls", "no"), "parallel_tool_calls");
    refused(with("background", true), "background", ErrorCode::kUnsupported);
    refused(with("previous_response_id", 5), "previous_response_id");
    refused(with("input", std::string(20000, 'a') + " " + std::string(20000, 'b')), "context",
            ErrorCode::kContextOverflow);
}

// The events a stream of `output` (the text after "<|start|>assistant") makes, and the whole response another
// assembler makes of the same tokens.
struct ResponseRun {
    std::vector<Json> events;
    Json response;
};

ResponseRun run_response(const std::string& output, bool length = false, const std::vector<TokenId>& forced = {}) {
    ResponseInfo info;
    info.id = "resp_abc";
    info.model = "gpt-oss";
    info.created_at = 1;
    info.input_tokens = 9;
    info.echo = {{"tools", Json::array()}};
    ResponseAssembler streamed(harmony(), info, forced);
    ResponseAssembler whole(harmony(), info, forced);
    ResponseRun out;
    streamed.start(out.events);
    std::vector<Json> ignored;
    for (TokenId token : tokens_of(output)) {
        streamed.on_token(token, out.events);
        whole.on_token(token, ignored);
    }
    streamed.finish(length, out.events);
    whole.finish(length, ignored);
    out.response = whole.response();
    return out;
}

std::vector<std::string> types(const std::vector<Json>& events) {
    std::vector<std::string> out;
    for (const Json& event : events) {
        if (out.empty() || event["type"] != out.back() || !event["type"].get<std::string>().ends_with(".delta")) {
            out.push_back(event["type"]); // consecutive deltas count once
        }
    }
    return out;
}

TEST(ResponsesOutput, ReasoningAndMessageItemsWithTheirEvents) {
    const ResponseRun a =
        run_response("<|channel|>analysis<|message|>Think first.<|end|><|start|>assistant<|channel|>final"
                     "<|message|>Hello, world.<|return|>");
    const std::vector<std::string> expected = {"response.created",
                                               "response.in_progress",
                                               "response.output_item.added",
                                               "response.content_part.added",
                                               "response.reasoning_text.delta",
                                               "response.reasoning_text.done",
                                               "response.content_part.done",
                                               "response.output_item.done",
                                               "response.output_item.added",
                                               "response.content_part.added",
                                               "response.output_text.delta",
                                               "response.output_text.done",
                                               "response.content_part.done",
                                               "response.output_item.done",
                                               "response.completed"};
    EXPECT_EQ(types(a.events), expected);
    std::string reasoning;
    std::string text;
    for (size_t i = 0; i < a.events.size(); ++i) {
        EXPECT_EQ(a.events[i]["sequence_number"], i);
        if (a.events[i]["type"] == "response.reasoning_text.delta") {
            reasoning += a.events[i]["delta"].get<std::string>();
        }
        if (a.events[i]["type"] == "response.output_text.delta") {
            text += a.events[i]["delta"].get<std::string>();
            EXPECT_EQ(a.events[i]["item_id"], a.response["output"][1]["id"]);
            EXPECT_EQ(a.events[i]["output_index"], 1);
        }
    }
    EXPECT_EQ(reasoning, "Think first.");
    EXPECT_EQ(text, "Hello, world.");
    EXPECT_EQ(a.events.front()["response"]["status"], "in_progress");
    EXPECT_EQ(a.events.back()["response"], a.response); // the stream ends with the whole response
    const Json& output = a.response["output"];
    ASSERT_EQ(output.size(), 2u);
    EXPECT_EQ(output[0]["type"], "reasoning");
    EXPECT_TRUE(output[0]["id"].get<std::string>().starts_with("rs_abc"));
    EXPECT_EQ(output[0]["content"], Json::array({{{"type", "reasoning_text"}, {"text", "Think first."}}}));
    EXPECT_EQ(output[1]["type"], "message");
    EXPECT_TRUE(output[1]["id"].get<std::string>().starts_with("msg_abc"));
    EXPECT_EQ(output[1]["status"], "completed");
    EXPECT_EQ(output[1]["content"][0],
              Json({{"type", "output_text"}, {"text", "Hello, world."}, {"annotations", Json::array()}}));
    EXPECT_EQ(a.response["status"], "completed");
    EXPECT_EQ(a.response["object"], "response");
    const Json& usage = a.response["usage"];
    EXPECT_EQ(usage["input_tokens"], 9);
    const int64_t tokens = static_cast<int64_t>(tokens_of("<|channel|>analysis<|message|>Think first.<|end|><|start|>"
                                                          "assistant<|channel|>final<|message|>Hello, world.<|return|>")
                                                    .size());
    EXPECT_EQ(usage["output_tokens"], tokens);
    EXPECT_EQ(usage["total_tokens"], 9 + tokens);
    const int64_t reasoning_tokens = usage["output_tokens_details"]["reasoning_tokens"];
    EXPECT_GT(reasoning_tokens, 3);
    EXPECT_LT(reasoning_tokens, tokens - 3);
}

TEST(ResponsesOutput, AFunctionCallEndsTheResponse) {
    const ResponseRun a = run_response("<|channel|>analysis<|message|>Need weather.<|end|><|start|>assistant<|channel|>"
                                       "commentary to=functions.get_weather <|constrain|>json<|message|>"
                                       "{\"city\": \"Paris\"}<|call|>");
    const Json& output = a.response["output"];
    ASSERT_EQ(output.size(), 2u);
    const Json& call = output[1];
    EXPECT_EQ(call["type"], "function_call");
    EXPECT_EQ(call["name"], "get_weather");
    EXPECT_EQ(call["arguments"], "{\"city\": \"Paris\"}");
    EXPECT_EQ(call["status"], "completed");
    EXPECT_TRUE(call["id"].get<std::string>().starts_with("fc_"));
    EXPECT_TRUE(call["call_id"].get<std::string>().starts_with("call_"));
    EXPECT_EQ(a.response["status"], "completed");
    std::string arguments;
    for (const Json& event : a.events) {
        if (event["type"] == "response.function_call_arguments.delta") {
            EXPECT_EQ(event["item_id"], call["id"]);
            arguments += event["delta"].get<std::string>();
        }
        if (event["type"] == "response.function_call_arguments.done") {
            EXPECT_EQ(event["arguments"], call["arguments"]);
        }
        if (event["type"] == "response.content_part.added") {
            EXPECT_NE(event["item_id"], call["id"]) << "a call has no content part";
        }
    }
    EXPECT_EQ(arguments, "{\"city\": \"Paris\"}");
}

TEST(ResponsesOutput, AForcedHeaderIsReadBeforeTheModelsTokens) {
    auto forced = parse({{"tools", {kWeatherTool}},
                         {"input", "Weather?"},
                         {"tool_choice", {{"type", "function"}, {"name", "lookup_weather"}}}});
    ASSERT_TRUE(forced.ok()) << forced.error().to_string();
    const ResponseRun a = run_response("{\"location\": \"SF\"}<|call|>", false, forced->forced_header);
    ASSERT_EQ(a.response["output"].size(), 1u);
    EXPECT_EQ(a.response["output"][0]["name"], "lookup_weather");
    EXPECT_EQ(a.response["output"][0]["arguments"], "{\"location\": \"SF\"}");
    // The forced tokens count as the prompt's.
    EXPECT_EQ(a.response["usage"]["output_tokens"], tokens_of("{\"location\": \"SF\"}<|call|>").size());
}

TEST(ResponsesOutput, TheTokenLimitLeavesItIncomplete) {
    const ResponseRun a = run_response("<|channel|>final<|message|>Hello, wor", true);
    EXPECT_EQ(a.response["status"], "incomplete");
    EXPECT_EQ(a.response["incomplete_details"]["reason"], "max_output_tokens");
    EXPECT_EQ(a.response["output"][0]["status"], "incomplete");
    EXPECT_EQ(a.response["output"][0]["content"][0]["text"], "Hello, wor");
    EXPECT_EQ(a.events.back()["type"], "response.incomplete");
}

TEST(ResponsesOutput, AFailureEndsTheStreamWithResponseFailed) {
    ResponseInfo info;
    info.id = "resp_x";
    ResponseAssembler assembler(harmony(), info);
    std::vector<Json> events;
    assembler.start(events);
    assembler.fail(Error(ErrorCode::kInternal, "the server is shutting down"), events);
    ASSERT_EQ(events.size(), 3u);
    EXPECT_EQ(events[2]["type"], "response.failed");
    EXPECT_EQ(events[2]["sequence_number"], 2);
    EXPECT_EQ(events[2]["response"]["status"], "failed");
    EXPECT_EQ(events[2]["response"]["error"]["message"], "the server is shutting down");
    EXPECT_EQ(ResponseAssembler::sse(events[2]).substr(0, 23), "event: response.failed\n");
}

} // namespace
} // namespace tllm::server
