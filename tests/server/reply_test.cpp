// The reply loop (server/reply.h) of a reply that outlives its first engine request, as a response whose model
// called a built-in tool does: the loop submits the continuing request, reads its tokens into the same reply, whole
// and streamed, and leaves no request open.
#include "../common/tiny_chat_model.h"
#include "server/reply.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <thread>

namespace tllm::server::reply_test {
namespace {

// Writes "t" per token, "[next]" where its first request ends and a second one continues the reply, then the end.
class ContinuingWriter : public ReplyWriter {
  public:
    explicit ContinuingWriter(BatchRequest second) : second_(std::move(second)) {}
    bool token(size_t, const TokenEvent&, std::string& out) override {
        ++tokens_.back();
        out += "t";
        return false;
    }
    std::optional<BatchRequest> next_request(size_t, bool& length, std::string& out) override {
        if (tokens_.size() > 1) {
            return std::nullopt;
        }
        EXPECT_TRUE(length) << "the first request ran to its token limit";
        length = false;
        tokens_.push_back(0);
        out += "[next]";
        return second_;
    }
    void finished(size_t, bool length, std::string& out) override { out += length ? "[length]" : "[stop]"; }
    void done(std::string& out) override { out += "[done]"; }
    void failed(const Error& error, std::string& out) override { out += "[failed: " + error.message() + "]"; }
    const std::vector<int>& tokens() const { return tokens_; }

  private:
    BatchRequest second_;
    std::vector<int> tokens_ = {0};
};

BatchRequest request(int32_t max_tokens, int32_t first_token) {
    BatchRequest out;
    out.prompt = {first_token, 200, 300, 400};
    out.max_new_tokens = max_tokens;
    return out; // no stop tokens: each request runs to its limit
}

class ReplyLoopTest : public ::testing::Test {
  protected:
    void SetUp() override {
        EngineOptions options;
        options.n_threads = 2;
        options.max_step_tokens = 256;
        model_ = std::make_unique<tllm::testing::TinyChatModel>(tllm::testing::kChatBinaryTestConfig, 11, options);
        ASSERT_NE(model_->engine(), nullptr);
        BatchEngineOptions batch;
        batch.kv_blocks = 64;
        batch.step_tokens = 256;
        auto loop = EngineLoop::create(*model_->engine(), batch);
        ASSERT_TRUE(loop.ok()) << loop.error().to_string();
        loop_ = std::move(loop).value();
    }
    void expect_idle() {
        for (int i = 0; i < 100 && loop_->stats().open != 0; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        EXPECT_EQ(loop_->stats().open, 0);
        EXPECT_EQ(loop_->stats().requests, 2);
    }
    SubmittedReply submit(BatchRequest first) {
        SubmittedReply reply;
        reply.stream = std::make_shared<RequestStream>();
        reply.first_id = loop_->submit(std::move(first), reply.stream).value();
        return reply;
    }
    std::unique_ptr<tllm::testing::TinyChatModel> model_;
    std::unique_ptr<EngineLoop> loop_;
};

TEST_F(ReplyLoopTest, AWholeReplyReadsTheContinuingRequest) {
    ContinuingWriter writer(request(2, 500));
    httplib::Response res;
    reply_whole(*loop_, submit(request(3, 100)), writer, res);
    EXPECT_EQ(res.body, "[done]"); // a whole reply's body is what done() writes, after the second one's end
    EXPECT_EQ(writer.tokens(), (std::vector<int>{3, 2}));
    expect_idle();
}

TEST_F(ReplyLoopTest, AStreamedReplyCarriesOnAfterItsFirstRequest) {
    auto writer = std::make_shared<ContinuingWriter>(request(2, 500));
    std::atomic<int> active{0};
    std::string streamed;
    {
        httplib::Response res;
        reply_stream(*loop_, submit(request(3, 100)), writer, std::make_shared<ActiveRequest>(active), res);
        bool done = false;
        httplib::DataSink sink;
        sink.write = [&](const char* data, size_t size) {
            streamed.append(data, size);
            return true;
        };
        sink.done = [&] { done = true; };
        for (int calls = 0; !done && calls < 10000; ++calls) {
            ASSERT_TRUE(res.content_provider_(0, 0, sink));
        }
        ASSERT_TRUE(done);
    } // the response releases its provider, as cpp-httplib does after the last write
    // Keep-alive comments may come while the engine works; the reply's own text is in order.
    std::string reply;
    for (size_t at = 0; at < streamed.size();) {
        if (streamed.compare(at, 14, ": keep-alive\n\n") == 0) {
            at += 14;
        } else {
            reply += streamed[at++];
        }
    }
    EXPECT_EQ(reply, "ttt[next]tt[length][done]");
    EXPECT_EQ(active.load(), 0);
    expect_idle();
}

} // namespace
} // namespace tllm::server::reply_test
