// GET /metrics on a real server over loopback: the counters move by exactly what the requests in between did, the
// histograms are well-formed, the gauges come back to an idle engine's, and the API key guards the route.
#include "server/metrics.h"
#include "server_fixture.h"

#include <map>
#include <sstream>

namespace tllm::server {
namespace {

// The samples of an exposition, by name with labels ("a{b=\"c\"}"); fails the test on a line that is no sample.
std::map<std::string, double> samples(const std::string& text) {
    std::map<std::string, double> out;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        if (line.empty() || line[0] == '#') {
            continue;
        }
        const size_t space = line.rfind(' ');
        EXPECT_NE(space, std::string::npos) << line;
        if (space != std::string::npos) {
            out[line.substr(0, space)] = std::stod(line.substr(space + 1));
        }
    }
    return out;
}

// Checks one histogram of an exposition: bounds rising, buckets cumulative, +Inf equal to the count.
void expect_well_formed(const std::string& text, const std::string& name) {
    std::istringstream lines(text);
    double last_bound = -1;
    double last_count = 0;
    double inf = -1;
    int buckets = 0;
    for (std::string line; std::getline(lines, line);) {
        const std::string prefix = name + "_bucket{le=\"";
        if (!line.starts_with(prefix)) {
            continue;
        }
        const size_t quote = line.find('"', prefix.size());
        const std::string bound = line.substr(prefix.size(), quote - prefix.size());
        const double count = std::stod(line.substr(line.rfind(' ') + 1));
        EXPECT_GE(count, last_count) << line;
        last_count = count;
        ++buckets;
        if (bound == "+Inf") {
            inf = count;
            continue;
        }
        EXPECT_EQ(inf, -1) << "+Inf must be the last bucket: " << line;
        EXPECT_GT(std::stod(bound), last_bound) << line;
        last_bound = std::stod(bound);
    }
    EXPECT_GT(buckets, 5) << name;
    EXPECT_EQ(inf, samples(text)[name + "_count"]) << name;
    EXPECT_NE(text.find("# TYPE " + name + " histogram"), std::string::npos);
}

TEST(Histogram, CountsEachValueInTheFirstBucketThatHoldsIt) {
    Histogram h({0.1, 1.0});
    for (double v : {0.05, 0.1, 0.5, 1.0, 3.0}) {
        h.observe(v);
    }
    EXPECT_EQ(h.counts(), (std::vector<int64_t>{2, 2, 1}));
    EXPECT_EQ(h.count(), 5);
    EXPECT_DOUBLE_EQ(h.sum(), 4.65);
}

TEST(MetricsRoute, RoutesAreLabelledByPatternNotByPath) {
    EXPECT_EQ(metrics_route("/v1/chat/completions"), "/v1/chat/completions");
    EXPECT_EQ(metrics_route("/v1/responses/resp_123"), "/v1/responses/{id}");
    EXPECT_EQ(metrics_route("/v1/responses/"), "other");
    EXPECT_EQ(metrics_route("/v1/responses/a/b"), "other");
    EXPECT_EQ(metrics_route("/anything/else"), "other");
}

class MetricsTest : public HttpServerTest {};

TEST_F(MetricsTest, CountersMoveByWhatTheRequestsDid) {
    start();
    client_->set_keep_alive(true); // one connection: each answer is counted before the next request is read
    auto scrape = [&] {
        auto r = client_->Get("/metrics");
        EXPECT_TRUE(r && r->status == 200);
        EXPECT_TRUE(r->get_header_value("Content-Type").starts_with("text/plain; version=0.0.4"));
        return r ? r->body : std::string();
    };
    const std::string before_text = scrape();
    std::map<std::string, double> before = samples(before_text);
    EXPECT_EQ(before["tritonllm_kv_blocks_total"], 512);
    EXPECT_EQ(before["tritonllm_kv_blocks_used"], 0);

    int64_t prompt_tokens = 0;
    int64_t completion_tokens = 0;
    for (bool stream : {false, false, true}) { // the same prompt twice: the second finds it cached
        auto r = post(body(6, stream));
        ASSERT_TRUE(r && r->status == 200);
        const std::vector<std::string> data = stream ? events(r->body) : std::vector<std::string>{r->body};
        const Json usage = Json::parse(data[stream ? data.size() - 2 : 0])["usage"];
        prompt_tokens += usage["prompt_tokens"].get<int64_t>();
        completion_tokens += usage["completion_tokens"].get<int64_t>();
    }
    Json hot = body(4, false);
    hot["temperature"] = 9;
    auto bad = post(hot);
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 400);
    for (int i = 0; i < 100 && loop_->stats().open > 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }

    const std::string after_text = scrape();
    std::map<std::string, double> after = samples(after_text);
    auto delta = [&](const std::string& name) { return after[name] - before[name]; };
    const std::string requests = "tritonllm_requests_total{route=\"/v1/chat/completions\",method=\"POST\",";
    EXPECT_EQ(delta(requests + "status=\"200\"}"), 3);
    EXPECT_EQ(delta(requests + "status=\"400\"}"), 1);
    EXPECT_EQ(delta("tritonllm_requests_total{route=\"/metrics\",method=\"GET\",status=\"200\"}"), 1);
    EXPECT_EQ(delta("tritonllm_prompt_tokens_total"), prompt_tokens);
    EXPECT_EQ(delta("tritonllm_generation_tokens_total"), completion_tokens);
    EXPECT_EQ(delta("tritonllm_prefix_cache_queries_total"), prompt_tokens);
    EXPECT_GE(delta("tritonllm_prefix_cache_hits_total"), 16); // at least a block of the repeated prompt
    EXPECT_EQ(delta("tritonllm_time_to_first_token_seconds_count"), 3);
    EXPECT_EQ(delta("tritonllm_inter_token_latency_seconds_count"), completion_tokens - 3);
    EXPECT_GT(delta("tritonllm_time_to_first_token_seconds_sum"), 0);
    expect_well_formed(after_text, "tritonllm_time_to_first_token_seconds");
    expect_well_formed(after_text, "tritonllm_inter_token_latency_seconds");
    EXPECT_EQ(after["tritonllm_open_requests"], 0);
    EXPECT_EQ(after["tritonllm_running_sequences"], 0);
    EXPECT_EQ(after["tritonllm_queue_depth"], 0);
    EXPECT_EQ(after["tritonllm_kv_blocks_used"], 0);
    EXPECT_GT(after["tritonllm_kv_blocks_cached"], 0);
}

TEST_F(MetricsTest, TheApiKeyGuardsMetricsButNotHealth) {
    start("sekrit");
    client_->set_keep_alive(true);
    auto none = client_->Get("/metrics");
    ASSERT_TRUE(none);
    EXPECT_EQ(none->status, 401);
    auto right = client_->Get("/metrics", {{"Authorization", "Bearer sekrit"}});
    ASSERT_TRUE(right);
    EXPECT_EQ(right->status, 200);
    EXPECT_EQ(samples(right->body)["tritonllm_requests_total{route=\"/metrics\",method=\"GET\",status=\"401\"}"], 1);
    auto health = client_->Get("/health");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
}

} // namespace
} // namespace tllm::server
