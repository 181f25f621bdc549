// `tritonllm serve`'s HTTP side on a tiny random model on the CPU, over loopback: whole and streamed completions
// agree, concurrent requests get what they get alone, bad requests and keys are refused with OpenAI's error
// object, and a client that hangs up mid-stream has its request cancelled.
#include "../common/chat_test_config.h"
#include "../common/shell.h"
#include "server_fixture.h"

namespace tllm::server {
namespace {

TEST_F(HttpServerTest, WholeAndStreamedCompletionsAgree) {
    start();
    auto models = client_->Get("/v1/models");
    ASSERT_TRUE(models);
    EXPECT_EQ(Json::parse(models->body)["data"][0]["object"], "model");
    auto whole = post(body(24, false));
    ASSERT_TRUE(whole);
    ASSERT_EQ(whole->status, 200) << whole->body;
    const Json response = Json::parse(whole->body);
    EXPECT_EQ(response["object"], "chat.completion");
    EXPECT_EQ(response["model"], "gpt-oss-test");
    const Json& usage = response["usage"];
    EXPECT_GT(usage["prompt_tokens"].get<int>(), 10);
    EXPECT_GE(usage["completion_tokens"].get<int>(), 1);
    EXPECT_LE(usage["completion_tokens"].get<int>(), 24);
    EXPECT_EQ(usage["total_tokens"], usage["prompt_tokens"].get<int>() + usage["completion_tokens"].get<int>());

    auto streamed = post(body(24, true));
    ASSERT_TRUE(streamed);
    ASSERT_EQ(streamed->status, 200);
    EXPECT_EQ(streamed->get_header_value("Content-Type"), "text/event-stream");
    const std::vector<std::string> data = events(streamed->body);
    ASSERT_GE(data.size(), 3u);
    EXPECT_EQ(data.back(), "[DONE]");
    std::string content;
    std::string reasoning;
    std::string finish;
    Json stream_usage;
    for (size_t i = 0; i + 1 < data.size(); ++i) {
        const Json chunk = Json::parse(data[i]);
        EXPECT_EQ(chunk["object"], "chat.completion.chunk");
        if (chunk.contains("usage")) {
            stream_usage = chunk["usage"];
            continue;
        }
        const Json& delta = chunk["choices"][0]["delta"];
        if (i == 0) {
            EXPECT_EQ(delta["role"], "assistant");
        }
        content += delta.value("content", "");
        reasoning += delta.value("reasoning_content", "");
        if (!chunk["choices"][0]["finish_reason"].is_null()) {
            finish = chunk["choices"][0]["finish_reason"];
        }
    }
    const Json& message = response["choices"][0]["message"];
    EXPECT_EQ(content, message["content"].is_null() ? "" : message["content"].get<std::string>());
    EXPECT_EQ(reasoning, message.value("reasoning_content", ""));
    EXPECT_EQ(finish, response["choices"][0]["finish_reason"]);
    // The same prompt again: the prefix cache serves its full blocks of 16 (cached_tokens), the first had none.
    EXPECT_EQ(usage["prompt_tokens_details"]["cached_tokens"], 0);
    const int prompt = usage["prompt_tokens"].get<int>();
    EXPECT_EQ(stream_usage["prompt_tokens_details"]["cached_tokens"].get<int>(), (prompt - 1) / 16 * 16);
    stream_usage.erase("prompt_tokens_details");
    Json whole_usage = usage;
    whole_usage.erase("prompt_tokens_details");
    EXPECT_EQ(stream_usage, whole_usage);
}

TEST_F(HttpServerTest, ConcurrentRequestsGetWhatTheyGetAlone) {
    start();
    std::vector<std::string> alone;
    for (uint64_t seed = 1; seed <= 4; ++seed) {
        auto r = post(body(16, false, seed));
        ASSERT_TRUE(r && r->status == 200);
        Json choice = Json::parse(r->body)["choices"][0];
        alone.push_back(choice["message"].dump());
    }
    std::vector<std::string> together(4);
    std::vector<std::thread> clients;
    for (uint64_t seed = 1; seed <= 4; ++seed) {
        clients.emplace_back([&, seed] {
            httplib::Client client("127.0.0.1", server_->port());
            client.set_read_timeout(60, 0);
            auto r = client.Post("/v1/chat/completions", body(16, false, seed).dump(), "application/json");
            if (r && r->status == 200) {
                together[seed - 1] = Json::parse(r->body)["choices"][0]["message"].dump();
            }
        });
    }
    for (std::thread& t : clients) {
        t.join();
    }
    EXPECT_EQ(together, alone);
}

TEST_F(HttpServerTest, BadRequestsGetOpenAIsErrorObject) {
    start();
    auto expect_error = [](const httplib::Result& r, int status, const std::string& words) {
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, status) << r->body;
        const Json error = Json::parse(r->body, nullptr, false);
        ASSERT_FALSE(error.is_discarded()) << r->body;
        EXPECT_NE(error["error"]["message"].get<std::string>().find(words), std::string::npos) << r->body;
    };
    expect_error(client_->Post("/v1/chat/completions", "{not json", "application/json"), 400, "not valid JSON");
    expect_error(post(Json{{"model", "gpt-oss"}}), 400, "messages");
    Json hot = body(8, false);
    hot["temperature"] = 9;
    expect_error(post(hot), 400, "temperature");
    Json big = body(8, false);
    big["messages"][0]["content"] = std::string(100 * 1024, 'a');
    expect_error(post(big), 413, "too large");
    expect_error(client_->Get("/v1/nothing"), 404, "no route");
    // The server still serves.
    auto r = post(body(4, false));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
}

// Every generating route names the model as /v1/models does: that name and its aliases are served, a request that
// names none too, and any other name gets OpenAI's 404 model_not_found.
TEST_F(HttpServerTest, UnknownModelsGet404ModelNotFoundOnEveryRoute) {
    start();
    auto models = client_->Get("/v1/models");
    ASSERT_TRUE(models);
    const std::string served = Json::parse(models->body)["data"][0]["id"];
    EXPECT_EQ(served, "gpt-oss");
    const Json chat = {{"messages", {{{"role", "user"}, {"content", "Hi"}}}}, {"max_tokens", 2}};
    const Json completion = {{"prompt", "Hi"}, {"max_tokens", 2}};
    const Json response = {{"input", "Hi"}, {"max_output_tokens", 2}};
    for (const auto& [path, request] :
         {std::pair{"/v1/chat/completions", chat}, std::pair{"/v1/completions", completion},
          std::pair{"/v1/responses", response}}) {
        for (const Json& name : {Json(served), Json("gpt-oss-test"), Json()}) {
            Json named = request;
            if (!name.is_null()) {
                named["model"] = name;
            }
            auto r = client_->Post(path, named.dump(), "application/json");
            ASSERT_TRUE(r);
            ASSERT_EQ(r->status, 200) << path << " " << name << " -> " << r->body;
            // The reply names the model as the request did, else as /v1/models does.
            EXPECT_EQ(Json::parse(r->body)["model"], name.is_null() ? served : name.get<std::string>()) << path;
        }
        Json unknown = request;
        unknown["model"] = "gpt-5";
        auto r = client_->Post(path, unknown.dump(), "application/json");
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 404) << path << " -> " << r->body;
        const Json error = Json::parse(r->body)["error"];
        EXPECT_EQ(error["type"], "invalid_request_error") << path;
        EXPECT_EQ(error["param"], "model") << path;
        EXPECT_EQ(error["code"], "model_not_found") << path;
        EXPECT_EQ(error["message"], "the model 'gpt-5' is not served here; 'gpt-oss' is") << path;
        // A model that is not a string is the parser's 400, naming the field.
        unknown["model"] = 7;
        r = client_->Post(path, unknown.dump(), "application/json");
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 400) << path << " -> " << r->body;
        EXPECT_NE(r->body.find("model"), std::string::npos) << r->body;
    }
    EXPECT_TRUE(engine_idle());
}

TEST_F(HttpServerTest, AKeyIsNeededWhenOneIsSet) {
    start("sekrit");
    auto none = post(body(4, false));
    ASSERT_TRUE(none);
    EXPECT_EQ(none->status, 401);
    auto wrong = post(body(4, false), {{"Authorization", "Bearer nope"}});
    ASSERT_TRUE(wrong);
    EXPECT_EQ(wrong->status, 401);
    auto right = post(body(4, false), {{"Authorization", "Bearer sekrit"}});
    ASSERT_TRUE(right);
    EXPECT_EQ(right->status, 200);
    auto health = client_->Get("/health");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
}

TEST_F(HttpServerTest, AClientThatHangsUpHasItsRequestCancelled) {
    start();
    // Long enough that the engine is still generating when the server notices the client is gone.
    Json request = body(1500, true);
    const int fd = open_stream(request);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(generating());
    ::close(fd); // hang up mid-stream
    // The engine drops the request: nothing runs or waits soon after.
    EXPECT_TRUE(engine_idle());
    EXPECT_LT(loop_->stats().generated_tokens, 1500);
}

TEST_F(HttpServerTest, AFullServerAnswers429WithRetryAfter) {
    start("", 1);
    const int fd = open_stream(body(1500, true)); // holds the one place
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(generating());
    auto refused = post(body(4, false));
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 429);
    EXPECT_EQ(refused->get_header_value("Retry-After"), "1");
    EXPECT_EQ(Json::parse(refused->body)["error"]["type"], "rate_limit_error");
    auto refused_response = client_->Post("/v1/responses", R"({"input": "Hi"})", "application/json");
    ASSERT_TRUE(refused_response);
    EXPECT_EQ(refused_response->status, 429);
    ::close(fd);
    ASSERT_TRUE(engine_idle());
    std::this_thread::sleep_for(std::chrono::milliseconds(100)); // the handler notices at its next write
    auto served = post(body(4, false));
    ASSERT_TRUE(served);
    EXPECT_EQ(served->status, 200) << served->body;
}

TEST_F(HttpServerTest, ADrainingServerRefusesNewRequestsAndCanEndOpenOnes) {
    start();
    const int fd = open_stream(body(1500, true));
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(generating());
    EXPECT_EQ(server_->active(), 1);
    server_->drain();
    auto refused = post(body(4, false));
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 503);
    auto refused_response = client_->Post("/v1/responses", R"({"input": "Hi"})", "application/json");
    ASSERT_TRUE(refused_response);
    EXPECT_EQ(refused_response->status, 503);
    // Past the deadline: the open stream ends with an error event, and its handler finishes.
    loop_->fail_all(Error(ErrorCode::kInternal, "the server is shutting down"));
    EXPECT_TRUE(engine_idle());
    for (int i = 0; i < 300 && server_->active() > 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(server_->active(), 0);
    std::string tail;
    char buffer[4096];
    for (ssize_t n; tail.find("[DONE]") == std::string::npos && (n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0;) {
        tail.append(buffer, static_cast<size_t>(n));
    }
    ::close(fd);
    EXPECT_NE(tail.find("shutting down"), std::string::npos) << tail;
}

TEST_F(HttpServerTest, ResponsesWholeAndStreamedAgree) {
    start();
    const Json request = {{"input", "Say something."}, {"max_output_tokens", 24}, {"temperature", 0}};
    auto whole = client_->Post("/v1/responses", request.dump(), "application/json");
    ASSERT_TRUE(whole);
    ASSERT_EQ(whole->status, 200) << whole->body;
    const Json response = Json::parse(whole->body);
    EXPECT_EQ(response["object"], "response");
    EXPECT_TRUE(response["id"].get<std::string>().starts_with("resp_"));
    EXPECT_EQ(response["model"], "gpt-oss");
    EXPECT_TRUE(response["status"] == "completed" || response["status"] == "incomplete") << response.dump();
    const Json& usage = response["usage"];
    EXPECT_GT(usage["input_tokens"].get<int>(), 10);
    EXPECT_GE(usage["output_tokens"].get<int>(), 1);
    EXPECT_LE(usage["output_tokens"].get<int>(), 24);

    Json streamed_request = request;
    streamed_request["stream"] = true;
    auto streamed = client_->Post("/v1/responses", streamed_request.dump(), "application/json");
    ASSERT_TRUE(streamed);
    ASSERT_EQ(streamed->status, 200);
    EXPECT_EQ(streamed->get_header_value("Content-Type"), "text/event-stream");
    const std::vector<Json> events = response_events(streamed->body);
    ASSERT_GE(events.size(), 3u);
    EXPECT_EQ(events[0]["type"], "response.created");
    EXPECT_EQ(events[1]["type"], "response.in_progress");
    for (size_t i = 0; i < events.size(); ++i) {
        EXPECT_EQ(events[i]["sequence_number"], i);
    }
    const Json& last = events.back()["response"];
    EXPECT_EQ(events.back()["type"], "response." + last["status"].get<std::string>());
    EXPECT_EQ(last["status"], response["status"]);
    // The same input again: its full blocks of 16 come from the prefix cache (cached_tokens), the first had none.
    EXPECT_EQ(usage["input_tokens_details"]["cached_tokens"], 0);
    const int input = usage["input_tokens"].get<int>();
    EXPECT_EQ(last["usage"]["input_tokens_details"]["cached_tokens"].get<int>(), (input - 1) / 16 * 16);
    Json last_usage = last["usage"];
    Json whole_usage = usage;
    last_usage.erase("input_tokens_details");
    whole_usage.erase("input_tokens_details");
    EXPECT_EQ(last_usage, whole_usage);
    ASSERT_EQ(last["output"].size(), response["output"].size());
    for (size_t i = 0; i < last["output"].size(); ++i) { // the same items, ids aside
        Json a = last["output"][i];
        Json b = response["output"][i];
        for (Json* item : {&a, &b}) {
            item->erase("id");
            item->erase("call_id");
        }
        EXPECT_EQ(a, b);
    }
}

TEST_F(HttpServerTest, StoredResponsesAreReadContinuedAndDeleted) {
    start();
    auto post_response = [&](const Json& request) {
        return client_->Post("/v1/responses", request.dump(), "application/json");
    };
    auto first = post_response({{"input", "Hi"}, {"max_output_tokens", 8}, {"metadata", {{"topic", "test"}}}});
    ASSERT_TRUE(first && first->status == 200);
    const Json response = Json::parse(first->body);
    const std::string id = response["id"];
    EXPECT_EQ(response["metadata"]["topic"], "test");
    auto got = client_->Get("/v1/responses/" + id);
    ASSERT_TRUE(got);
    ASSERT_EQ(got->status, 200) << got->body;
    EXPECT_EQ(Json::parse(got->body), response);
    // Continuing renders the stored conversation first: the prompt holds the first one's prompt and output.
    auto next = post_response({{"input", "And then?"}, {"max_output_tokens", 8}, {"previous_response_id", id}});
    ASSERT_TRUE(next);
    ASSERT_EQ(next->status, 200) << next->body;
    const Json continued = Json::parse(next->body);
    EXPECT_EQ(continued["previous_response_id"], id);
    EXPECT_GT(continued["usage"]["input_tokens"].get<int>(), response["usage"]["input_tokens"].get<int>() + 4);

    auto deleted = client_->Delete("/v1/responses/" + id);
    ASSERT_TRUE(deleted);
    EXPECT_EQ(deleted->status, 200);
    EXPECT_EQ(Json::parse(deleted->body)["deleted"], true);
    auto expect_gone = [](const httplib::Result& gone) {
        ASSERT_TRUE(gone);
        EXPECT_EQ(gone->status, 404);
        EXPECT_EQ(Json::parse(gone->body)["error"]["code"], "not_found");
    };
    expect_gone(client_->Get("/v1/responses/" + id));
    expect_gone(client_->Delete("/v1/responses/" + id));
    auto orphan = post_response({{"input", "Hi"}, {"previous_response_id", id}});
    ASSERT_TRUE(orphan);
    EXPECT_EQ(orphan->status, 404);
    EXPECT_EQ(Json::parse(orphan->body)["error"]["code"], "previous_response_not_found");
    // store: false keeps nothing.
    auto unstored = post_response({{"input", "Hi"}, {"max_output_tokens", 4}, {"store", false}});
    ASSERT_TRUE(unstored && unstored->status == 200);
    auto missing = client_->Get("/v1/responses/" + Json::parse(unstored->body)["id"].get<std::string>());
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 404);
}

TEST_F(HttpServerTest, BadResponsesRequestsGetOpenAIsErrorObject) {
    start();
    auto expect_error = [&](const std::string& body, int status, const std::string& words) {
        auto r = client_->Post("/v1/responses", body, "application/json");
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, status) << body << " -> " << r->body;
        const Json error = Json::parse(r->body, nullptr, false);
        ASSERT_FALSE(error.is_discarded()) << r->body;
        EXPECT_NE(error["error"]["message"].get<std::string>().find(words), std::string::npos) << r->body;
        EXPECT_TRUE(error["error"].contains("param") && error["error"].contains("type")) << r->body;
    };
    expect_error("{not json", 400, "not valid JSON");
    expect_error(Json{{"model", "gpt-oss"}}.dump(), 400, "input");
    expect_error(Json{{"input", 3}}.dump(), 400, "input");
    expect_error(Json{{"input", "Hi"}, {"model", "gpt-5"}}.dump(), 404, "gpt-5");
    expect_error(Json{{"input", "Hi"}, {"tools", {{{"type", "function"}, {"name", "f"}, {"parameters", 1}}}}}.dump(),
                 400, "tools[0].parameters");
    expect_error(Json{{"input", "Hi"}, {"previous_response_id", "resp_nothing"}}.dump(), 404, "resp_nothing");
    expect_error(Json{{"input", std::string(100 * 1024, 'a')}}.dump(), 413, "too large");
    // A built-in tool this server was not started with is refused, as OpenAI refuses what it does not offer.
    expect_error(Json{{"input", "Hi"}, {"tools", {{{"type", "web_search"}}}}}.dump(), 400, "web_search");
    // A tool of a type never served is skipped, not refused; the server still serves.
    auto r = client_->Post(
        "/v1/responses", Json{{"input", "Hi"}, {"max_output_tokens", 4}, {"tools", {{{"type", "file_search"}}}}}.dump(),
        "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(Json::parse(r->body)["tools"], Json::array());
}

// OpenAI's official client (npm openai, installed by scripts/install-deps.sh) against `tritonllm serve --demo`:
// tests/server/openai_client/client.mjs says what it checks.
TEST(OpenAIClient, DrivesTheServer) {
    const std::string dir = std::string(TLLM_SOURCE_DIR) + "/tests/server/openai_client";
    const tllm::testing::CommandResult result =
        tllm::testing::run_shell("node '" + dir + "/client.mjs' '" + TLLM_BINARY + "' 2>&1");
    EXPECT_EQ(result.exit_code, 0) << result.output;
    for (const char* check : {"models.list: ok", "stream: ok", "errors: ok", "abort: ok", "api key: ok"}) {
        EXPECT_NE(result.output.find(check), std::string::npos) << check << "\n" << result.output;
    }
}

// The Responses API through the same client: tests/server/openai_client/responses.mjs says what it checks.
TEST(OpenAIClient, DrivesTheResponsesApi) {
    const std::string dir = std::string(TLLM_SOURCE_DIR) + "/tests/server/openai_client";
    const tllm::testing::CommandResult result =
        tllm::testing::run_shell("node '" + dir + "/responses.mjs' '" + TLLM_BINARY + "' 2>&1");
    EXPECT_EQ(result.exit_code, 0) << result.output;
    for (const char* check : {"responses.create: ok", "responses stream: ok", "function call round trip: ok",
                              "previous_response_id and retrieve: ok", "previous_response_id across a restart: ok",
                              "delete and store: false: ok", "responses errors: ok"}) {
        EXPECT_NE(result.output.find(check), std::string::npos) << check << "\n" << result.output;
    }
}

// Legacy completions, Chat Completions log-probabilities and a named tool_choice through the same client:
// tests/server/openai_client/completions.mjs says what it checks.
TEST(OpenAIClient, DrivesCompletionsLogprobsAndToolChoice) {
    const std::string dir = std::string(TLLM_SOURCE_DIR) + "/tests/server/openai_client";
    const tllm::testing::CommandResult result =
        tllm::testing::run_shell("node '" + dir + "/completions.mjs' '" + TLLM_BINARY + "' 2>&1");
    EXPECT_EQ(result.exit_code, 0) << result.output;
    for (const char* check : {"completions.create: ok", "completions stream: ok", "completions errors: ok",
                              "chat logprobs: ok", "tool_choice: ok", "n choices: ok"}) {
        EXPECT_NE(result.output.find(check), std::string::npos) << check << "\n" << result.output;
    }
}

} // namespace
} // namespace tllm::server
