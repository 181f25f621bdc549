// `tritonllm bench --serve URL`, the load client, against a server on a tiny random model on loopback: its JSON
// lines parse, and their figures agree with each other and with what the server counted.
#include "../common/shell.h"
#include "server_fixture.h"

#include <sstream>

namespace tllm::server::serve_bench_test {
namespace {

using HttpServerTest = ::tllm::server::HttpServerTest;

std::vector<Json> json_lines(const std::string& text) {
    std::vector<Json> out;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        if (line.starts_with("{")) {
            out.push_back(Json::parse(line));
        }
    }
    return out;
}

class ServeBenchTest : public HttpServerTest {
  protected:
    testing::CommandResult bench(const std::string& key, const std::string& levels) const {
        return testing::run_shell(std::string(TLLM_BINARY) +
                                  " bench --serve http://127.0.0.1:" + std::to_string(server_->port()) + " --api-key " +
                                  key + " --concurrency " + levels + " --prompt-tokens 24 --gen-tokens 6 --json 2>&1");
    }
};

TEST_F(ServeBenchTest, ReportsEachLevelConsistently) {
    start("sekrit");
    const EngineLoopStats before = loop_->stats();
    const auto started = std::chrono::steady_clock::now();
    const testing::CommandResult result = bench("sekrit", "1,4");
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    ASSERT_EQ(result.exit_code, 0) << result.output;
    const std::vector<Json> rows = json_lines(result.output);
    ASSERT_EQ(rows.size(), 2u) << result.output;
    int64_t prompt_tokens = 0;
    int64_t output_tokens = 0;
    for (size_t i = 0; i < rows.size(); ++i) {
        const Json& row = rows[i];
        const int streams = i == 0 ? 1 : 4;
        EXPECT_EQ(row["streams"], streams);
        EXPECT_EQ(row["errors"], 0);
        EXPECT_EQ(row["model"], "gpt-oss");
        const int64_t out = row["output_tokens_total"];
        const int64_t in = row["prompt_tokens_total"];
        EXPECT_GT(out, 0);
        EXPECT_LE(out, 6 * streams);
        EXPECT_GT(in, 24 * streams); // the chat template's system message comes on top of the user's 24 tokens
        const double seconds = row["seconds"];
        EXPECT_GT(seconds, 0);
        EXPECT_LT(seconds, elapsed);
        EXPECT_NEAR(row["output_tok_s"].get<double>(), static_cast<double>(out) / seconds, 1e-6 * out / seconds);
        EXPECT_NEAR(row["total_tok_s"].get<double>(), static_cast<double>(in + out) / seconds,
                    1e-6 * (in + out) / seconds);
        EXPECT_GT(row["ttft_ms_p50"].get<double>(), 0);
        EXPECT_LE(row["ttft_ms_p50"].get<double>(), row["ttft_ms_p99"].get<double>());
        EXPECT_LE(row["ttft_ms_p99"].get<double>(), 1e3 * seconds);
        EXPECT_LE(row["itl_ms_p50"].get<double>(), row["itl_ms_p99"].get<double>());
        EXPECT_GE(row["itl_ms_p50"].get<double>(), 0);
        prompt_tokens += in;
        output_tokens += out;
    }
    // Every request the bench made is one the server served: its counts are the server's.
    const EngineLoopStats after = loop_->stats();
    EXPECT_EQ(after.requests - before.requests, 5);
    EXPECT_EQ(after.prompt_tokens - before.prompt_tokens, prompt_tokens);
    EXPECT_EQ(after.generated_tokens - before.generated_tokens, output_tokens);
}

TEST_F(ServeBenchTest, AWrongKeyFailsBeforeAnyLoad) {
    start("sekrit");
    const testing::CommandResult result = bench("wrong", "2");
    EXPECT_NE(result.exit_code, 0);
    EXPECT_NE(result.output.find("401"), std::string::npos) << result.output;
    EXPECT_TRUE(json_lines(result.output).empty());
    EXPECT_EQ(loop_->stats().requests, 0);
}

} // namespace
} // namespace tllm::server::serve_bench_test
