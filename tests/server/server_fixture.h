// The fixture of the server tests that run a real server: a tiny random model on the CPU (the real vocabulary, so
// every Harmony token is valid), an EngineLoop and an HttpServer on a loopback port, and helpers that read its
// answers.
#pragma once

#include "../common/chat_test_config.h"
#include "../common/tiny_chat_model.h"
#include "server/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace tllm::server {

using Json = nlohmann::ordered_json;

class HttpServerTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        EngineOptions options;
        options.n_threads = 2;
        options.max_step_tokens = 512;
        model_ = new tllm::testing::TinyChatModel(tllm::testing::kChatBinaryTestConfig, 11, options);
    }
    static void TearDownTestSuite() { delete model_; }

    static BatchEngineOptions batch_options() {
        BatchEngineOptions batch;
        batch.kv_blocks = 512;
        batch.block_tokens = 16;
        batch.step_tokens = 512;
        batch.max_running = 8;
        return batch;
    }
    static ServerOptions server_options(const std::string& api_key = "", int64_t max_open = 1024) {
        ServerOptions options;
        options.port = 0;
        options.api_key = api_key;
        options.max_open = max_open;
        options.model_aliases = {"gpt-oss-test"}; // what the requests of body() name
        options.limits.max_output_tokens = 1600;
        options.limits.context = 4096;
        options.limits.conversation_date = "2026-12-07";
        options.max_body_bytes = 64 * 1024;
        return options;
    }
    void start(const std::string& api_key = "", int64_t max_open = 1024) {
        start_with(server_options(api_key, max_open), batch_options());
    }
    void start_with(const ServerOptions& options, const BatchEngineOptions& batch) {
        ASSERT_NE(model_->engine(), nullptr);
        auto loop = EngineLoop::create(*model_->engine(), batch);
        ASSERT_TRUE(loop.ok()) << loop.error().to_string();
        loop_ = std::move(loop).value();
        auto server = HttpServer::create(*loop_, model_->tokenizer(), options);
        ASSERT_TRUE(server.ok()) << server.error().to_string();
        server_ = std::move(server).value();
        thread_ = std::thread([this] { EXPECT_TRUE(server_->serve().ok()); });
        client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
        client_->set_read_timeout(60, 0);
        for (int i = 0; i < 100 && !client_->Get("/health"); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }
    void TearDown() override {
        client_.reset(); // a kept-alive connection would hold a handler thread until its timeout
        if (server_) {
            server_->stop();
        }
        if (thread_.joinable()) {
            thread_.join();
        }
        server_.reset();
        loop_.reset();
    }

    static Json body(int max_tokens, bool stream, uint64_t seed = 3) {
        return Json{{"model", "gpt-oss-test"},  {"messages", {{{"role", "user"}, {"content", "Say something."}}}},
                    {"max_tokens", max_tokens}, {"seed", seed},
                    {"stream", stream},         {"stream_options", {{"include_usage", true}}}};
    }
    httplib::Result post(const Json& request, const httplib::Headers& headers = {}) {
        return client_->Post("/v1/chat/completions", headers, request.dump(), "application/json");
    }
    // The data lines of a server-sent event stream.
    static std::vector<std::string> events(const std::string& text) {
        std::vector<std::string> out;
        for (size_t at = 0; (at = text.find("data: ", at)) != std::string::npos;) {
            const size_t end = text.find("\n\n", at);
            out.push_back(text.substr(at + 6, end - at - 6));
            at = end;
        }
        return out;
    }

    // Sends `request` on a raw connection and reads the first bytes of the answer; returns the socket (-1 on
    // failure). Nothing keeps it open for reuse: closing it hangs up.
    int open_stream(const Json& request) const {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(static_cast<uint16_t>(server_->port()));
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
            return -1;
        }
        const std::string payload = request.dump();
        const std::string head = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                                 "application/json\r\nContent-Length: " +
                                 std::to_string(payload.size()) + "\r\n\r\n" + payload;
        char buffer[256];
        if (::send(fd, head.data(), head.size(), 0) != static_cast<ssize_t>(head.size()) ||
            ::recv(fd, buffer, sizeof(buffer), 0) <= 0) {
            ::close(fd);
            return -1;
        }
        return fd;
    }
    // Whether the engine runs a request that has generated tokens, within a few seconds.
    bool generating() const {
        for (int i = 0; i < 200; ++i) {
            const EngineLoopStats stats = loop_->stats();
            if (stats.running > 0 && stats.generated_tokens > 0) {
                return true;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return false;
    }
    bool engine_idle(int tries = 300) const {
        for (int i = 0; i < tries; ++i) {
            const EngineLoopStats stats = loop_->stats();
            if (stats.running == 0 && stats.waiting == 0) {
                return true;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        return false;
    }

    static inline tllm::testing::TinyChatModel* model_ = nullptr;
    std::unique_ptr<EngineLoop> loop_;
    std::unique_ptr<HttpServer> server_;
    std::thread thread_;
    std::unique_ptr<httplib::Client> client_;
};

// The server-sent events of a Responses stream: each `event:` line names the type its `data:` line carries.
inline std::vector<Json> response_events(const std::string& text) {
    std::vector<Json> out;
    for (size_t at = 0; (at = text.find("event: ", at)) != std::string::npos;) {
        const size_t data = text.find("\ndata: ", at);
        const size_t end = text.find("\n\n", data);
        Json event = Json::parse(text.substr(data + 7, end - data - 7));
        EXPECT_EQ(event["type"], text.substr(at + 7, data - at - 7));
        out.push_back(std::move(event));
        at = end;
    }
    return out;
}

} // namespace tllm::server
