// The Responses API's built-in tools, run by the server inside one response. The model's output is hand-written
// Harmony fed token by token to the assembler, as the engine would feed it; the tools really run (the browser on a
// local folder of documents, python in its sandbox), and each continued prompt is checked against the exact Harmony
// text the chat's tool loop would render.
#include "../chat/fixtures.h"
#include "../common/files.h"
#include "../common/temp_dir.h"
#include "server/responses_request.h"
#include "server/responses_tools.h"
#include "tools/python/python_sandbox.h"

#include <filesystem>
#include <gtest/gtest.h>

// Its own namespace: the server tests are built as one unity file, and their helpers share names.
namespace tllm::server::builtin_tools_test {
namespace {

using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

const Tokenizer& harmony() { return testing::harmony_tokenizer(); }
std::string text_of(std::span<const TokenId> tokens) { return harmony().decode(tokens).value(); }

// max_output_tokens, context, conversation date.
ChatLimits test_limits() { return ChatLimits{400, 8192, "2026-12-07"}; }

// A folder of two documents, and the server's tools over it.
class BuiltinToolsTest : public ::testing::Test {
  protected:
    void SetUp() override {
        testing::write_file(
            fs::path(documents_.path()) / "fruit/kiwi.html",
            "<html><head><title>Kiwifruit facts</title></head><body><h1>Kiwifruit</h1>"
            "<p>The kiwifruit is the edible berry of several species of woody vines.</p></body></html>");
        testing::write_file(fs::path(documents_.path()) / "cars.md", "# Cars\n\nA car is a wheeled motor vehicle.\n");
        browser_.backend = "local:" + documents_.path();
        auto served = BuiltinTools::create(browser_, tools::PythonSettings{});
        ASSERT_TRUE(served.ok()) << served.error().to_string();
        served_ = std::move(served).value();
    }

    Result<ResponsesJob> parse(const Json& body) {
        return parse_responses_request(body, Json::array(), harmony(), test_limits(), 5, served_.namespaces);
    }

    // A job, its assembler (started) and its tool runs.
    struct Run {
        ResponsesJob job;
        std::unique_ptr<ResponseAssembler> assembler;
        std::unique_ptr<ResponseTools> tools;
        std::vector<Json> events;
        std::vector<std::vector<TokenId>> prompts;
    };
    std::unique_ptr<Run> start(const Json& body) {
        auto job = parse(body);
        EXPECT_TRUE(job.ok()) << job.error().to_string();
        if (!job.ok()) {
            return nullptr;
        }
        auto run = std::make_unique<Run>();
        run->job = std::move(job).value();
        ResponseInfo info;
        info.id = "resp_abc";
        info.input_tokens = static_cast<int64_t>(run->job.request.prompt.size());
        info.browser_tool = run->job.browser;
        info.python_tool = run->job.python;
        run->assembler = std::make_unique<ResponseAssembler>(harmony(), info);
        run->tools = std::make_unique<ResponseTools>(served_, harmony(), run->job.harmony, run->job.request,
                                                     test_limits().context, run->job.browser, run->job.python);
        run->prompts.push_back(run->job.request.prompt);
        run->assembler->start(run->events);
        return run;
    }
    // The model writes `output` (after "<|start|>assistant"); then its call runs, and the continuing request's
    // prompt is kept.
    static ResponseTools::Step write_and_run(Run& run, const std::string& output) {
        for (TokenId token : testing::encode_special(output)) {
            run.assembler->on_token(token, run.events);
        }
        ResponseTools::Step step = run.tools->run(*run.assembler, run.events);
        if (step.next) {
            run.prompts.push_back(step.next->prompt);
        }
        return step;
    }

    testing::TempDir documents_;
    tools::BrowserSettings browser_;
    BuiltinTools served_;
};

std::vector<Json> of_item(const std::vector<Json>& events, const Json& id) {
    std::vector<Json> out;
    for (const Json& event : events) {
        if (event.value("item_id", Json()) == id || (event.contains("item") && event["item"]["id"] == id)) {
            out.push_back(event);
        }
    }
    return out;
}

std::vector<std::string> types(const std::vector<Json>& events) {
    std::vector<std::string> out;
    for (const Json& event : events) {
        out.push_back(event["type"]);
    }
    return out;
}

TEST_F(BuiltinToolsTest, RequestsDeclareTheToolsInTheSystemMessageOrAreRefused) {
    auto job = parse({{"input", "Hi"}, {"tools", {{{"type", "web_search_preview"}}, {{"type", "code_interpreter"}}}}});
    ASSERT_TRUE(job.ok()) << job.error().to_string();
    EXPECT_TRUE(job->browser);
    EXPECT_TRUE(job->python);
    const std::string prompt = text_of(job->request.prompt);
    // The chat's -b declaration (its source the folder's name) and -p's, in the system message.
    const std::string source = fs::path(documents_.path()).filename().string();
    EXPECT_NE(prompt.find("## browser\n"), std::string::npos) << prompt;
    EXPECT_NE(prompt.find("sources=" + source), std::string::npos) << prompt;
    EXPECT_NE(prompt.find("## python\n"), std::string::npos) << prompt;
    EXPECT_LT(prompt.find("## python\n"), prompt.find("<|end|>")) << "in the system message";
    EXPECT_EQ(job->echo["tools"], Json::array({{{"type", "web_search_preview"}}, {{"type", "code_interpreter"}}}));

    auto none = parse({{"input", "Hi"}, {"tools", {{{"type", "web_search"}}}}, {"tool_choice", "none"}});
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none->browser);
    EXPECT_EQ(text_of(none->request.prompt).find("## browser"), std::string::npos);

    // A server without them answers 400 naming the tool.
    for (const char* type : {"web_search_preview", "code_interpreter"}) {
        auto refused = parse_responses_request({{"input", "Hi"}, {"tools", {{{"type", type}}}}}, Json::array(),
                                               harmony(), test_limits(), 5, {});
        ASSERT_FALSE(refused.ok());
        EXPECT_EQ(refused.error().code(), ErrorCode::kInvalidArgument);
        EXPECT_NE(refused.error().message().find(std::string("tools[0]: ") + type), std::string::npos)
            << refused.error().message();
    }
    // Built-in calls an earlier response made, sent back as input, are accepted.
    auto replayed = parse({{"input",
                            {{{"role", "user"}, {"content", "Hi"}},
                             {{"type", "web_search_call"}, {"id", "ws_1"}, {"status", "completed"}},
                             {{"role", "assistant"}, {"content", "Hello."}}}}});
    EXPECT_TRUE(replayed.ok()) << replayed.error().to_string();
}

TEST_F(BuiltinToolsTest, SearchOpenAndAnAnswerThatCitesThePage) {
    auto run = start({{"input", "What is a kiwifruit?"}, {"tools", {{{"type", "web_search_preview"}}}}});
    ASSERT_NE(run, nullptr);
    // The same calls through a toolbox of the chat's, for the pages the model must read.
    tools::ToolboxOptions options;
    options.browser = browser_;
    auto reference = tools::Toolbox::create(options, &harmony());
    ASSERT_TRUE(reference.ok());
    auto call = [](const char* function, const char* arguments) {
        return Message::text(Role::kAssistant, arguments).with_channel("analysis").with_recipient(function);
    };
    const Message search = (*reference)->answer(call("browser.search", "{\"query\": \"kiwifruit berry\"}"));
    const Message open = (*reference)->answer(call("browser.open", "{\"id\": 0, \"cursor\": 0}"));

    ResponseTools::Step step =
        write_and_run(*run, "<|channel|>analysis to=browser.search<|message|>{\"query\": \"kiwifruit berry\"}<|call|>");
    ASSERT_TRUE(step.next);
    // The call and the tool's answer as chat.py appends them, then the assistant's turn again.
    EXPECT_EQ(text_of(run->prompts[1]),
              text_of(run->prompts[0]) +
                  " to=browser.search<|channel|>analysis<|message|>{\"query\": \"kiwifruit berry\"}<|call|>"
                  "<|start|>browser.search to=assistant<|channel|>analysis<|message|>" +
                  std::get<std::string>(search.content[0]) + "<|end|><|start|>assistant");
    EXPECT_EQ(step.next->max_new_tokens, run->job.request.max_new_tokens - run->assembler->output_tokens());
    EXPECT_EQ(step.next->stop_tokens, run->job.request.stop_tokens);

    step = write_and_run(*run, "<|channel|>analysis to=browser.open<|message|>{\"id\": 0, \"cursor\": 0}<|call|>");
    ASSERT_TRUE(step.next);
    const std::string page = std::get<std::string>(open.content[0]);
    EXPECT_NE(page.find("edible berry"), std::string::npos) << page;
    EXPECT_TRUE(text_of(run->prompts[2])
                    .ends_with("<|start|>browser.open to=assistant<|channel|>analysis<|message|>" + page +
                               "<|end|><|start|>assistant"));

    const std::string answer = "A berry 【1†L1】.";
    for (TokenId token : testing::encode_special("<|channel|>final<|message|>" + answer + "<|return|>")) {
        run->assembler->on_token(token, run->events);
    }
    run->assembler->finish(false, run->events);
    const Json response = run->assembler->response();
    EXPECT_EQ(response["status"], "completed");
    const Json& output = response["output"];
    ASSERT_EQ(output.size(), 3u) << output.dump(1);
    EXPECT_EQ(output[0]["type"], "web_search_call");
    EXPECT_TRUE(output[0]["id"].get<std::string>().starts_with("ws_abc"));
    EXPECT_EQ(output[0]["status"], "completed");
    EXPECT_EQ(output[0]["action"], Json({{"type", "search"}, {"query", "kiwifruit berry"}}));
    EXPECT_EQ(output[1]["action"]["type"], "open_page");
    const std::string url = output[1]["action"]["url"];
    EXPECT_TRUE(url.ends_with("fruit/kiwi.html")) << url;

    // The citation became a link, with its annotation over exactly the link's characters.
    const tools::NormalizedCitations cited = (*reference)->citations(answer, false);
    ASSERT_EQ(cited.citations.size(), 1u);
    const Json& part = output[2]["content"][0];
    EXPECT_EQ(part["text"], cited.text);
    ASSERT_EQ(part["annotations"].size(), 1u);
    const Json& annotation = part["annotations"][0];
    EXPECT_EQ(annotation["type"], "url_citation");
    EXPECT_EQ(annotation["url"], cited.citations[0].url);
    EXPECT_TRUE(cited.citations[0].url.ends_with("fruit/kiwi.html")) << cited.citations[0].url;
    EXPECT_EQ(annotation["start_index"], 8); // "A berry " is ASCII: characters are bytes
    EXPECT_EQ(cited.text.substr(8, annotation["end_index"].get<size_t>() - 8),
              " ([" + cited.citations[0].title + "](" + cited.citations[0].url + ")) ");

    // The events: each call's item in order, the message's deltas adding up to its text, one stream of numbers.
    const std::vector<std::string> call_events = {"response.output_item.added", "response.web_search_call.in_progress",
                                                  "response.web_search_call.searching",
                                                  "response.web_search_call.completed", "response.output_item.done"};
    EXPECT_EQ(types(of_item(run->events, output[0]["id"])), call_events);
    EXPECT_EQ(types(of_item(run->events, output[1]["id"])), call_events);
    EXPECT_EQ(of_item(run->events, output[0]["id"]).back()["item"], output[0]);
    std::string streamed;
    int annotations_added = 0;
    for (size_t i = 0; i < run->events.size(); ++i) {
        EXPECT_EQ(run->events[i]["sequence_number"], i);
        if (run->events[i]["type"] == "response.output_text.delta") {
            streamed += run->events[i]["delta"].get<std::string>();
            EXPECT_EQ(streamed.find("【"), std::string::npos) << "a citation being written is held back";
        }
        if (run->events[i]["type"] == "response.output_text.annotation.added") {
            ++annotations_added;
            EXPECT_EQ(run->events[i]["annotation"], annotation);
        }
    }
    EXPECT_EQ(streamed, cited.text);
    EXPECT_EQ(annotations_added, 1);
    // The message keeps what the model wrote, and a conversation that goes on renders that, as the model read its
    // own answer (the calls before the first final answer are dropped, as the renderer drops analysis).
    EXPECT_EQ(output[2]["harmony"], Json({{"text", answer}}));
    Json items = Json::array({{{"role", "user"}, {"content", "What is a kiwifruit?"}}});
    for (const Json& item : output) {
        items.push_back(item);
    }
    items.push_back({{"role", "user"}, {"content", "More?"}});
    auto next = parse({{"input", items}, {"tools", {{{"type", "web_search_preview"}}}}});
    ASSERT_TRUE(next.ok()) << next.error().to_string();
    EXPECT_TRUE(text_of(next->request.prompt)
                    .ends_with("<|start|>user<|message|>What is a kiwifruit?<|end|><|start|>assistant<|channel|>final"
                               "<|message|>" +
                               answer + "<|end|><|start|>user<|message|>More?<|end|><|start|>assistant"))
        << text_of(next->request.prompt);
    // Usage counts every request of the response: three prompts, and all the model wrote.
    EXPECT_EQ(response["usage"]["input_tokens"],
              run->prompts[0].size() + run->prompts[1].size() + run->prompts[2].size());
    EXPECT_EQ(run->tools->calls(), 2);
}

TEST_F(BuiltinToolsTest, CodeInterpreterRunsInTheSandbox) {
    tools::PythonSandboxOptions sandbox;
    if (Status usable = tools::check_python_sandbox(sandbox); !usable.ok()) {
        GTEST_SKIP() << usable.error().to_string();
    }
    auto run = start({{"input", "6*7?"}, {"tools", {{{"type", "code_interpreter"}}}}});
    ASSERT_NE(run, nullptr);
    ResponseTools::Step step = write_and_run(*run, "<|channel|>analysis to=python<|message|>print(6*7)<|call|>");
    ASSERT_TRUE(step.next);
    EXPECT_TRUE(
        text_of(run->prompts[1])
            .ends_with(" to=python<|channel|>analysis<|message|>print(6*7)<|call|>"
                       "<|start|>python to=assistant<|channel|>analysis<|message|>42\n<|end|><|start|>assistant"))
        << text_of(run->prompts[1]);
    const Json item = run->assembler->output()[0];
    EXPECT_EQ(item["type"], "code_interpreter_call");
    EXPECT_TRUE(item["id"].get<std::string>().starts_with("ci_abc"));
    EXPECT_EQ(item["code"], "print(6*7)");
    EXPECT_EQ(item["status"], "completed");
    EXPECT_EQ(item["outputs"], Json::array({{{"type", "logs"}, {"logs", "42\n"}}}));
    const std::vector<Json> events = of_item(run->events, item["id"]);
    std::string code;
    std::vector<std::string> kinds;
    for (const Json& event : events) {
        if (event["type"] == "response.code_interpreter_call_code.delta") {
            code += event["delta"].get<std::string>();
        } else {
            kinds.push_back(event["type"]);
        }
    }
    EXPECT_EQ(code, "print(6*7)");
    EXPECT_EQ(kinds, (std::vector<std::string>{
                         "response.output_item.added", "response.code_interpreter_call.in_progress",
                         "response.code_interpreter_call_code.done", "response.code_interpreter_call.interpreting",
                         "response.code_interpreter_call.completed", "response.output_item.done"}));
}

TEST_F(BuiltinToolsTest, WithoutASandboxTheModelReadsAnErrorAndNothingRuns) {
    tools::PythonSettings missing;
    missing.bwrap_path = (fs::path(documents_.path()) / "no-bwrap").string();
    auto served = BuiltinTools::create(std::nullopt, missing);
    ASSERT_TRUE(served.ok()) << served.error().to_string();
    ASSERT_FALSE(served->python_unavailable.empty());
    served_ = std::move(served).value();
    EXPECT_TRUE(served_.namespaces.contains("python")) << "still declared: its calls are answered";
    auto run = start({{"input", "Hi"}, {"tools", {{{"type", "code_interpreter"}}}}});
    ASSERT_NE(run, nullptr);
    const std::string marker = (fs::path(documents_.path()) / "ran").string();
    ResponseTools::Step step =
        write_and_run(*run, "<|channel|>analysis to=python<|message|>open('" + marker + "', 'w').write('x')<|call|>");
    ASSERT_TRUE(step.next);
    EXPECT_FALSE(fs::exists(marker));
    const std::string logs = run->assembler->output()[0]["outputs"][0]["logs"];
    EXPECT_TRUE(logs.starts_with("Error: the python sandbox cannot run on this server")) << logs;
    EXPECT_NE(text_of(run->prompts[1]).find("<|start|>python to=assistant<|channel|>analysis<|message|>" + logs),
              std::string::npos);
}

TEST_F(BuiltinToolsTest, NoTokensLeftEndsTheResponseIncompleteAfterTheCall) {
    const std::string call = "<|channel|>analysis to=browser.search<|message|>{\"query\": \"cars\"}<|call|>";
    const int64_t call_tokens = static_cast<int64_t>(testing::encode_special(call).size());
    auto run = start({{"input", "Cars?"}, {"tools", {{{"type", "web_search"}}}}, {"max_output_tokens", call_tokens}});
    ASSERT_NE(run, nullptr);
    ResponseTools::Step step = write_and_run(*run, call);
    EXPECT_FALSE(step.next);
    EXPECT_TRUE(step.length);
    run->assembler->finish(step.length, run->events);
    const Json response = run->assembler->response();
    EXPECT_EQ(response["status"], "incomplete");
    EXPECT_EQ(response["output"][0]["status"], "completed"); // the search ran; the model had no room to read it
    EXPECT_EQ(response["output"][0]["action"]["query"], "cars");
}

TEST_F(BuiltinToolsTest, CallsToToolsTheRequestDidNotAskForStayReasoning) {
    auto run = start({{"input", "Hi"}, {"tools", {{{"type", "code_interpreter"}}}}});
    ASSERT_NE(run, nullptr);
    ResponseTools::Step step =
        write_and_run(*run, "<|channel|>analysis to=browser.search<|message|>{\"query\": \"x\"}<|call|>");
    EXPECT_FALSE(step.next);
    run->assembler->finish(false, run->events);
    EXPECT_EQ(run->assembler->response()["output"][0]["type"], "reasoning");
    EXPECT_EQ(run->tools->calls(), 0);
}

// Built-in calls sent back as the response gave them (a whole conversation, no previous_response_id) render to the
// prompt the stored response is continued with, and that prompt starts with exactly the tokens the model read after
// its calls: the calls as it wrote them (header, content type) and the tools' answers.
TEST_F(BuiltinToolsTest, ReplayedCallsRenderAsTheModelReadThemAndAsTheStoredChainDoes) {
    tools::PythonSettings missing; // the code interpreter answers with an error, the same wherever this runs
    missing.bwrap_path = (fs::path(documents_.path()) / "no-bwrap").string();
    auto served = BuiltinTools::create(browser_, missing);
    ASSERT_TRUE(served.ok()) << served.error().to_string();
    served_ = std::move(served).value();
    const Json tools = {{{"type", "web_search_preview"}},
                        {{"type", "code_interpreter"}},
                        {{"type", "function"}, {"name", "get_weather"}, {"parameters", {{"type", "object"}}}}};
    const Json question = {{"role", "user"}, {"content", "Kiwifruit, then the weather?"}};
    auto run = start({{"input", Json::array({question})}, {"tools", tools}});
    ASSERT_NE(run, nullptr);
    ASSERT_TRUE(write_and_run(*run,
                              "<|channel|>analysis<|message|>Search first.<|end|><|start|>assistant<|channel|>"
                              "analysis to=browser.search code<|message|>{\"query\": \"kiwifruit berry\"}<|call|>")
                    .next);
    ASSERT_TRUE(write_and_run(*run, "<|channel|>analysis to=python code<|message|>print(6*7)<|call|>").next);
    // A preamble and a function call: the response ends for the client to answer.
    EXPECT_FALSE(write_and_run(*run, "<|channel|>commentary<|message|>Now the weather.<|end|><|start|>assistant"
                                     "<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>"
                                     "{\"city\": \"Paris\"}<|call|>")
                     .next);
    run->assembler->finish(false, run->events);
    const Json output = run->assembler->response()["output"];
    ASSERT_EQ(output.size(), 5u) << output.dump(1);
    EXPECT_EQ(output[1]["type"], "web_search_call");
    const std::string page = output[1]["harmony"]["output"];
    EXPECT_NE(page.find("Kiwifruit"), std::string::npos) << page;
    EXPECT_EQ(output[1]["harmony"], Json({{"recipient", "browser.search"},
                                          {"channel", "analysis"},
                                          {"content_type", "code"},
                                          {"arguments", "{\"query\": \"kiwifruit berry\"}"},
                                          {"output", page}}));
    EXPECT_EQ(output[2]["type"], "code_interpreter_call");
    EXPECT_EQ(output[2]["harmony"], Json({{"recipient", "python"}, {"channel", "analysis"}, {"content_type", "code"}}));
    const Json answer = {{"type", "function_call_output"}, {"call_id", output[4]["call_id"]}, {"output", "Sunny."}};

    // Through the store: the stored conversation (the input, then the output), then the answer.
    Json stored = run->job.conversation;
    for (const Json& item : output) {
        stored.push_back(item);
    }
    auto chained = parse_responses_request({{"input", Json::array({answer})}, {"tools", tools}}, stored, harmony(),
                                           test_limits(), 5, served_.namespaces);
    ASSERT_TRUE(chained.ok()) << chained.error().to_string();
    // Replayed: all of it as input items, as a client sends the output back (through JSON text).
    Json items = Json::array({question});
    for (const Json& item : Json::parse(output.dump())) {
        items.push_back(item);
    }
    items.push_back(answer);
    auto replayed = parse({{"input", items}, {"tools", tools}});
    ASSERT_TRUE(replayed.ok()) << replayed.error().to_string();
    EXPECT_EQ(replayed->request.prompt, chained->request.prompt);

    // The last prompt the model read (after the python call's answer) starts the replayed one, token for token.
    const std::vector<TokenId>& read = run->prompts.back();
    const std::vector<TokenId>& prompt = replayed->request.prompt;
    ASSERT_GT(prompt.size(), read.size());
    EXPECT_EQ(std::vector<TokenId>(prompt.begin(), prompt.begin() + static_cast<std::ptrdiff_t>(read.size())), read)
        << text_of(prompt) << "\n----\n"
        << text_of(read);
    EXPECT_TRUE(text_of(prompt).ends_with(
        "<|channel|>commentary<|message|>Now the weather.<|end|><|start|>assistant to=functions.get_weather"
        "<|channel|>commentary <|constrain|>json<|message|>{\"city\": \"Paris\"}<|call|><|start|>functions.get_weather "
        "to=assistant<|channel|>commentary<|message|>Sunny.<|end|><|start|>assistant"))
        << text_of(prompt);
}

// OpenAI's own code_interpreter_call (code and logs, no `harmony`) is a python call and its answer; a web_search_call
// without the page the model read, and a call that never ran, are left out; a `harmony` field that cannot be what the
// server wrote is a 400 naming it.
TEST_F(BuiltinToolsTest, BuiltinItemsInOpenAIsShapeAndBadOnes) {
    const Json items = {
        {{"role", "user"}, {"content", "Hi"}},
        {{"type", "code_interpreter_call"},
         {"id", "ci_1"},
         {"status", "completed"},
         {"code", "print(1)"},
         {"outputs", {{{"type", "logs"}, {"logs", "1\n"}}, {{"type", "image"}, {"url", "x"}}}},
         {"container_id", "c"}},
        {{"type", "web_search_call"}, {"id", "ws_1"}, {"status", "completed"}, {"action", {{"type", "search"}}}},
        {{"type", "code_interpreter_call"}, {"id", "ci_2"}, {"status", "incomplete"}, {"code", "print(2)"}},
        {{"role", "user"}, {"content", "And?"}}};
    auto job = parse({{"input", items}});
    ASSERT_TRUE(job.ok()) << job.error().to_string();
    EXPECT_TRUE(
        text_of(job->request.prompt)
            .ends_with("<|start|>user<|message|>Hi<|end|><|start|>assistant to=python<|channel|>analysis"
                       "<|message|>print(1)<|call|><|start|>python to=assistant<|channel|>analysis<|message|>1\n"
                       "<|end|><|start|>user<|message|>And?<|end|><|start|>assistant"))
        << text_of(job->request.prompt);

    auto refused = [&](Json item, const std::string& words) {
        auto result = parse({{"input", Json::array({{{"role", "user"}, {"content", "Hi"}}, std::move(item)})}});
        ASSERT_FALSE(result.ok()) << words;
        EXPECT_EQ(result.error().code(), ErrorCode::kInvalidArgument);
        EXPECT_NE(result.error().message().find(words), std::string::npos) << result.error().message();
    };
    const Json web = {
        {"type", "web_search_call"},
        {"harmony", {{"recipient", "browser.search"}, {"channel", "analysis"}, {"arguments", "{}"}, {"output", "p"}}}};
    EXPECT_TRUE(parse({{"input", Json::array({{{"role", "user"}, {"content", "Hi"}}, web})}}).ok());
    auto with = [&](const char* key, Json value) {
        Json item = web;
        item["harmony"][key] = std::move(value);
        return item;
    };
    refused(with("recipient", "functions.f"), "input[1].harmony.recipient \"functions.f\" is not a call to browser.*");
    refused(with("channel", "final"), "input[1].harmony.channel");
    refused(with("output", nullptr), "input[1].harmony.output must be a string");
    refused(with("content_type", 3), "input[1].harmony.content_type");
    refused({{"type", "web_search_call"}, {"harmony", "x"}}, "input[1].harmony must be an object");
    refused({{"role", "assistant"}, {"content", "A"}, {"harmony", {{"text", 1}}}}, "input[1].harmony.text");
    refused({{"type", "code_interpreter_call"}, {"outputs", "x"}}, "input[1].outputs must be an array");
    refused({{"type", "code_interpreter_call"}, {"outputs", {{{"type", "logs"}}}}}, "input[1].outputs[0].logs");
    refused({{"type", "code_interpreter_call"}, {"harmony", {{"recipient", "browser.open"}, {"channel", "analysis"}}}},
            "not a call to python*");
}

} // namespace
} // namespace tllm::server::builtin_tools_test
