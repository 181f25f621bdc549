// `n` choices on /v1/chat/completions and /v1/completions, on the tiny model over loopback: each choice is its own
// sequence (choice i samples with seed + i, so it is what a one-choice request of that seed gets), the later
// choices find the prompt in the prefix cache, usage counts the prompt once, streams interleave the choices by
// index, and a client that hangs up has every choice cancelled.
#include "server/request_fields.h"
#include "server_fixture.h"

#include <map>
#include <set>

namespace tllm::server::choices_test {
namespace {

const Json kMessages = {{{"role", "user"}, {"content", "Say something."}}};

// What a stream's chunks say of each choice: its text and finish reason, by index.
struct StreamedChoices {
    std::map<int, std::string> text;
    std::map<int, std::string> finish;
    std::map<int, int> finish_chunks;
    std::vector<int> order; // the index of each chunk, as they came
    Json usage;
    int done = 0;
};

StreamedChoices read_stream(const std::vector<std::string>& data, const char* text_field) {
    StreamedChoices out;
    for (const std::string& line : data) {
        if (line == "[DONE]") {
            ++out.done;
            continue;
        }
        const Json chunk = Json::parse(line);
        if (chunk.contains("usage") && !chunk["usage"].is_null()) {
            EXPECT_EQ(chunk["choices"], Json::array());
            out.usage = chunk["usage"];
            continue;
        }
        EXPECT_EQ(chunk["choices"].size(), 1u) << line;
        const Json& choice = chunk["choices"][0];
        const int index = choice["index"];
        out.order.push_back(index);
        const Json& part = std::string(text_field) == "text" ? choice : choice["delta"];
        if (part.contains(text_field) && part[text_field].is_string()) {
            out.text[index] += part[text_field].get<std::string>();
        }
        if (!choice["finish_reason"].is_null()) {
            out.finish[index] = choice["finish_reason"];
            ++out.finish_chunks[index];
        }
    }
    return out;
}

// Whether some choice's chunk came between two of another's.
bool interleaved(const std::vector<int>& order) {
    std::map<int, size_t> last;
    for (size_t i = 0; i < order.size(); ++i) {
        if (auto it = last.find(order[i]); it != last.end() && it->second + 1 != i) {
            return true;
        }
        last[order[i]] = i;
    }
    return false;
}

TEST(Choices, ChoiceIUsesSeedPlusI) {
    BatchRequest first;
    first.prompt = {1, 2, 3};
    first.sampling.seed = 40;
    const std::vector<BatchRequest> choices = choice_requests(first, 3);
    ASSERT_EQ(choices.size(), 3u);
    for (size_t i = 0; i < choices.size(); ++i) {
        EXPECT_EQ(choices[i].sampling.seed, 40u + i);
        EXPECT_EQ(choices[i].prompt, first.prompt);
    }
    ChatLimits limits;
    limits.max_choices = 4;
    EXPECT_EQ(choices_field(Json::object(), limits).value(), 1);
    EXPECT_EQ(choices_field({{"n", nullptr}}, limits).value(), 1);
    EXPECT_EQ(choices_field({{"n", 4}}, limits).value(), 4);
    EXPECT_EQ(choices_field({{"n", 5}}, limits).error().message(),
              "n must be an integer from 1 to 4 (the choices one request may ask for here), got 5");
}

class ChoicesTest : public HttpServerTest {
  protected:
    // Whether every request has ended within a second: the engine thread counts an end just after it sends it.
    bool none_open() const {
        for (int i = 0; i < 100 && loop_->stats().open > 0; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return loop_->stats().open == 0;
    }
};

TEST_F(ChoicesTest, ChatChoicesAreSequencesOfTheirOwnWholeAndStreamed) {
    start();
    const Json request = {{"messages", kMessages}, {"max_tokens", 24}, {"seed", 5}, {"n", 3}};
    auto whole = post(request);
    ASSERT_TRUE(whole);
    ASSERT_EQ(whole->status, 200) << whole->body;
    const Json response = Json::parse(whole->body);
    const Json& choices = response["choices"];
    ASSERT_EQ(choices.size(), 3u) << response.dump();
    // The later choices started once the first had its first token: the prompt's full blocks came from the cache.
    const int64_t prompt = response["usage"]["prompt_tokens"];
    const EngineLoopStats stats = loop_->stats();
    EXPECT_EQ(stats.requests, 3);
    EXPECT_EQ(stats.prefix_hit_tokens, 2 * ((prompt - 1) / 16 * 16));
    EXPECT_EQ(response["usage"]["prompt_tokens_details"]["cached_tokens"], 0) << "the prompt's first computation";

    // Choice i is what one choice of seed 5 + i is; the prompt is counted once, the completions all.
    int64_t completion_tokens = 0;
    std::set<std::string> messages;
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(choices[i]["index"], i);
        Json alone_request = request;
        alone_request["n"] = 1;
        alone_request["seed"] = 5 + i;
        auto alone = post(alone_request);
        ASSERT_TRUE(alone && alone->status == 200);
        const Json one = Json::parse(alone->body);
        EXPECT_EQ(one["usage"]["prompt_tokens"], prompt);
        Json choice = one["choices"][0];
        choice["index"] = i;
        EXPECT_EQ(choices[i], choice) << i;
        completion_tokens += one["usage"]["completion_tokens"].get<int64_t>();
        messages.insert(choices[i]["message"].dump());
    }
    EXPECT_GT(messages.size(), 1u) << "the choices sample with different seeds";
    EXPECT_EQ(response["usage"]["completion_tokens"], completion_tokens);
    EXPECT_EQ(response["usage"]["total_tokens"], prompt + completion_tokens);

    Json stream_request = request;
    stream_request["stream"] = true;
    stream_request["stream_options"] = {{"include_usage", true}};
    auto streamed = post(stream_request);
    ASSERT_TRUE(streamed && streamed->status == 200);
    const StreamedChoices read = read_stream(events(streamed->body), "content");
    EXPECT_EQ(read.done, 1);
    for (int i = 0; i < 3; ++i) {
        const Json& message = choices[i]["message"];
        EXPECT_EQ(read.text.at(i), message["content"].is_null() ? "" : message["content"].get<std::string>()) << i;
        EXPECT_EQ(read.finish.at(i), choices[i]["finish_reason"]) << i;
        EXPECT_EQ(read.finish_chunks.at(i), 1) << i;
    }
    EXPECT_TRUE(interleaved(read.order)) << "the choices run in the same steps";
    Json usage = read.usage;
    usage.erase("prompt_tokens_details");
    Json whole_usage = response["usage"];
    whole_usage.erase("prompt_tokens_details");
    EXPECT_EQ(usage, whole_usage);
    EXPECT_TRUE(engine_idle());
    EXPECT_TRUE(none_open());
}

TEST_F(ChoicesTest, CompletionChoicesAreSequencesOfTheirOwn) {
    start();
    const Json request = {{"prompt", "Once upon a time"}, {"max_tokens", 12}, {"seed", 9}, {"n", 2}, {"logprobs", 1}};
    auto whole = client_->Post("/v1/completions", request.dump(), "application/json");
    ASSERT_TRUE(whole);
    ASSERT_EQ(whole->status, 200) << whole->body;
    const Json response = Json::parse(whole->body);
    ASSERT_EQ(response["choices"].size(), 2u);
    int64_t completion_tokens = 0;
    for (int i = 0; i < 2; ++i) {
        Json alone_request = request;
        alone_request.erase("n");
        alone_request["seed"] = 9 + i;
        auto alone = client_->Post("/v1/completions", alone_request.dump(), "application/json");
        ASSERT_TRUE(alone && alone->status == 200);
        const Json one = Json::parse(alone->body);
        Json choice = one["choices"][0];
        choice["index"] = i;
        EXPECT_EQ(response["choices"][i], choice) << i;
        completion_tokens += one["usage"]["completion_tokens"].get<int64_t>();
    }
    EXPECT_EQ(response["usage"]["prompt_tokens"], 4);
    EXPECT_EQ(response["usage"]["completion_tokens"], completion_tokens);

    Json stream_request = request;
    stream_request["stream"] = true;
    auto streamed = client_->Post("/v1/completions", stream_request.dump(), "application/json");
    ASSERT_TRUE(streamed && streamed->status == 200);
    const StreamedChoices read = read_stream(events(streamed->body), "text");
    EXPECT_EQ(read.done, 1);
    EXPECT_TRUE(read.usage.is_null()) << "no usage chunk unless asked for";
    for (int i = 0; i < 2; ++i) {
        EXPECT_EQ(read.text.at(i), response["choices"][i]["text"]) << i;
        EXPECT_EQ(read.finish.at(i), response["choices"][i]["finish_reason"]) << i;
    }
    EXPECT_TRUE(interleaved(read.order)) << "the choices run in the same steps";
}

TEST_F(ChoicesTest, TooManyChoicesAreRefusedAndAFullServerHasNoPlaceForThem) {
    start("", 2);
    auto r = post({{"messages", kMessages}, {"n", 17}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_EQ(Json::parse(r->body)["error"]["message"],
              "n must be an integer from 1 to 16 (the choices one request may ask for here), got 17");
    r = client_->Post("/v1/completions", Json{{"prompt", "Hi"}, {"n", 2}, {"best_of", 4}}.dump(), "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << r->body;
    // Two places: three choices get none of them, two fit.
    r = post({{"messages", kMessages}, {"n", 3}, {"max_tokens", 2}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 429) << r->body;
    r = post({{"messages", kMessages}, {"n", 2}, {"max_tokens", 2}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(Json::parse(r->body)["choices"].size(), 2u);
}

TEST_F(ChoicesTest, AClientThatHangsUpHasEveryChoiceCancelled) {
    start();
    Json request = body(1500, true);
    request["n"] = 4;
    const int fd = open_stream(request);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(generating());
    for (int i = 0; i < 200 && loop_->stats().requests < 4; ++i) { // the later choices start after the first token
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(loop_->stats().requests, 4);
    ::close(fd);
    EXPECT_TRUE(engine_idle());
    EXPECT_TRUE(none_open());
    const EngineLoopStats stats = loop_->stats();
    EXPECT_EQ(stats.kv_blocks_used, 0);
    EXPECT_LT(stats.generated_tokens, 4 * 1500);
}

} // namespace
} // namespace tllm::server::choices_test
