// Download progress on stderr: a redrawn bar (bytes, rate, time left) when stderr is a terminal, else a
// plain log line every few seconds, so that logs of unattended runs stay readable.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace tllm::hub {

// "1.5 GiB", "512 B".
std::string format_bytes(double bytes);
// "1h02m", "3m05s", "12s".
std::string format_duration(double seconds);

class ProgressReporter {
  public:
    enum class Style { kNone, kBar, kLogLines };

    // `already_done`: bytes present locally before this run (count towards the total, not the rate).
    ProgressReporter(std::string label, int64_t total_bytes, int64_t already_done, Style style);
    ~ProgressReporter(); // stops the reporting thread and ends the bar's line
    ProgressReporter(const ProgressReporter&) = delete;
    ProgressReporter& operator=(const ProgressReporter&) = delete;

    // Thread-safe; called by the download workers for every piece they write.
    void add(int64_t bytes) { transferred_.fetch_add(bytes, std::memory_order_relaxed); }
    // Bytes counted by add() that will be fetched again (a file restarted after its server ignored Range).
    void discard(int64_t bytes) { transferred_.fetch_sub(bytes, std::memory_order_relaxed); }
    int64_t transferred() const { return transferred_.load(std::memory_order_relaxed); }

    static Style default_style(bool wanted);

  private:
    void run();
    std::string status_line(double rate) const;

    std::string label_;
    int64_t total_;
    int64_t already_done_;
    Style style_;
    std::atomic<int64_t> transferred_{0};
    std::chrono::steady_clock::time_point start_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

} // namespace tllm::hub
