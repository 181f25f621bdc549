#include "server/metrics.h"

#include "server/engine_loop.h"

#include <algorithm>
#include <fmt/format.h>

namespace tllm::server {
namespace {

// Prometheus writes +Inf and plain numbers; fmt's shortest round-trip form is a valid Go float.
std::string number(double value) { return fmt::format("{}", value); }

void header(std::string& out, const char* name, const char* type, const char* help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void sample(std::string& out, const char* name, double value) { out += fmt::format("{} {}\n", name, number(value)); }

void histogram(std::string& out, const char* name, const char* help, const Histogram& h) {
    header(out, name, "histogram", help);
    int64_t cumulative = 0;
    for (size_t i = 0; i < h.bounds().size(); ++i) {
        cumulative += h.counts()[i];
        out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, number(h.bounds()[i]), cumulative);
    }
    out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", name, cumulative + h.counts().back());
    out += fmt::format("{}_sum {}\n{}_count {}\n", name, number(h.sum()), name, h.count());
}

} // namespace

void Histogram::observe(double value) {
    const auto bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
    ++counts_[static_cast<size_t>(bucket)];
    ++count_;
    sum_ += value;
}

Histogram time_to_first_token_histogram() {
    return Histogram({0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,  0.25,  0.5,  0.75,
                      1.0,   2.5,   5.0,  7.5,  10.0, 20.0, 40.0, 80.0, 160.0, 640.0});
}

Histogram inter_token_latency_histogram() {
    return Histogram({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1,  0.15, 0.2,
                      0.3,   0.4,    0.5,   0.75, 1.0,   2.5,  5.0,   10.0, 20.0, 80.0});
}

std::string metrics_route(const std::string& path) {
    static constexpr const char* kRoutes[] = {"/v1/chat/completions", "/v1/completions", "/v1/responses",
                                              "/v1/models",           "/health",         "/metrics"};
    for (const char* route : kRoutes) {
        if (path == route) {
            return route;
        }
    }
    const std::string responses = "/v1/responses/";
    if (path.starts_with(responses) && path.size() > responses.size() &&
        path.find('/', responses.size()) == std::string::npos) {
        return "/v1/responses/{id}";
    }
    return "other";
}

void Metrics::count_request(const std::string& path, const std::string& method, int status) {
    // Only the methods some route serves become labels, for the same reason as metrics_route.
    const bool known = method == "GET" || method == "POST" || method == "DELETE";
    std::lock_guard lock(mutex_);
    ++requests_[{metrics_route(path), known ? method : "other", status}];
}

std::string Metrics::render(const EngineLoopStats& engine) const {
    std::string out;
    header(out, "tritonllm_requests_total", "counter", "HTTP requests answered, by route, method and status.");
    {
        std::lock_guard lock(mutex_);
        for (const auto& [key, count] : requests_) {
            const auto& [route, method, status] = key;
            out += fmt::format("tritonllm_requests_total{{route=\"{}\",method=\"{}\",status=\"{}\"}} {}\n", route,
                               method, status, count);
        }
    }
    header(out, "tritonllm_prompt_tokens_total", "counter", "Prompt tokens of the requests the engine accepted.");
    sample(out, "tritonllm_prompt_tokens_total", static_cast<double>(engine.prompt_tokens));
    header(out, "tritonllm_generation_tokens_total", "counter", "Tokens generated, for all requests.");
    sample(out, "tritonllm_generation_tokens_total", static_cast<double>(engine.generated_tokens));
    header(out, "tritonllm_prefix_cache_queries_total", "counter",
           "Prompt tokens looked up in the prefix cache when their sequence was admitted.");
    sample(out, "tritonllm_prefix_cache_queries_total", static_cast<double>(engine.prefix_query_tokens));
    header(out, "tritonllm_prefix_cache_hits_total", "counter",
           "Prompt tokens whose KV came from the prefix cache (hit rate: hits / queries).");
    sample(out, "tritonllm_prefix_cache_hits_total", static_cast<double>(engine.prefix_hit_tokens));
    histogram(out, "tritonllm_time_to_first_token_seconds",
              "Seconds from a request's submission to its first token, queueing included.", engine.time_to_first_token);
    histogram(out, "tritonllm_inter_token_latency_seconds", "Seconds between a request's consecutive tokens.",
              engine.inter_token_latency);
    header(out, "tritonllm_open_requests", "gauge", "Requests submitted and not yet ended.");
    sample(out, "tritonllm_open_requests", static_cast<double>(engine.open));
    header(out, "tritonllm_running_sequences", "gauge", "Sequences generating (holding KV blocks).");
    sample(out, "tritonllm_running_sequences", engine.running);
    header(out, "tritonllm_queue_depth", "gauge", "Requests waiting for a place in the engine.");
    sample(out, "tritonllm_queue_depth", engine.waiting);
    header(out, "tritonllm_kv_blocks_total", "gauge", "KV cache blocks in the pool.");
    sample(out, "tritonllm_kv_blocks_total", engine.kv_blocks);
    header(out, "tritonllm_kv_blocks_used", "gauge", "KV cache blocks held by a sequence.");
    sample(out, "tritonllm_kv_blocks_used", engine.kv_blocks_used);
    header(out, "tritonllm_kv_blocks_cached", "gauge",
           "KV cache blocks kept for prefix reuse (those no sequence holds are free to take).");
    sample(out, "tritonllm_kv_blocks_cached", engine.kv_blocks_cached);
    return out;
}

} // namespace tllm::server
