// `tritonllm serve`'s GET /metrics in Prometheus's text exposition format (version 0.0.4): requests by route,
// method and status, token counters, latency histograms, and gauges of the engine's queue and KV cache. The
// server owns one Metrics object (the HTTP side's counters); the engine's figures come from EngineLoop::stats(),
// so that each is kept where it happens and read under that side's own lock.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

namespace tllm::server {

struct EngineLoopStats;

// Observations counted into buckets by upper bound (le), as Prometheus histograms are; the +Inf bucket is implied.
class Histogram {
  public:
    explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}
    void observe(double value);
    const std::vector<double>& bounds() const { return bounds_; }
    // Per bucket, not cumulative; the last is the count above every bound.
    const std::vector<int64_t>& counts() const { return counts_; }
    int64_t count() const { return count_; }
    double sum() const { return sum_; }

  private:
    std::vector<double> bounds_;
    std::vector<int64_t> counts_;
    int64_t count_ = 0;
    double sum_ = 0;
};

// Seconds from a request's submission (queueing included) to its first token, and between its later tokens:
// from a millisecond (a GPU decode step) to minutes (a long queue on the CPU).
Histogram time_to_first_token_histogram();
Histogram inter_token_latency_histogram();

// The label a request is counted under: its route pattern (ids taken out), or "other" for paths no route serves,
// so that a client cannot make the label set grow without bound.
std::string metrics_route(const std::string& path);

class Metrics {
  public:
    void count_request(const std::string& path, const std::string& method, int status);
    // The exposition text: this object's counters, then the engine's.
    std::string render(const EngineLoopStats& engine) const;

  private:
    mutable std::mutex mutex_;
    std::map<std::tuple<std::string, std::string, int>, int64_t> requests_; // (route, method, status)
};

} // namespace tllm::server
