#include "hub/progress.h"

#include "core/log.h"

#include <algorithm>
#include <cstdio>
#include <deque>
#include <fmt/format.h>
#include <unistd.h>

namespace tllm::hub {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kBarInterval = std::chrono::milliseconds(200);
constexpr auto kLogInterval = std::chrono::seconds(10);
// The rate shown is over this recent window, so it follows changes in throughput instead of averaging them.
constexpr double kRateWindowSeconds = 5.0;

} // namespace

std::string format_bytes(double bytes) {
    static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int unit = 0;
    while (bytes >= 1024.0 && unit < 4) {
        bytes /= 1024.0;
        ++unit;
    }
    return unit == 0 ? fmt::format("{:.0f} B", bytes) : fmt::format("{:.1f} {}", bytes, kUnits[unit]);
}

std::string format_duration(double seconds) {
    auto total = static_cast<int64_t>(std::max(0.0, seconds) + 0.5);
    if (total >= 3600) {
        return fmt::format("{}h{:02d}m", total / 3600, (total % 3600) / 60);
    }
    if (total >= 60) {
        return fmt::format("{}m{:02d}s", total / 60, total % 60);
    }
    return fmt::format("{}s", total);
}

ProgressReporter::Style ProgressReporter::default_style(bool wanted) {
    if (!wanted) {
        return Style::kNone;
    }
    return ::isatty(STDERR_FILENO) ? Style::kBar : Style::kLogLines;
}

ProgressReporter::ProgressReporter(std::string label, int64_t total_bytes, int64_t already_done, Style style)
    : label_(std::move(label)), total_(total_bytes), already_done_(already_done), style_(style), start_(Clock::now()) {
    if (style_ != Style::kNone) {
        thread_ = std::thread([this] { run(); });
    }
}

ProgressReporter::~ProgressReporter() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) {
        thread_.join();
    }
}

std::string ProgressReporter::status_line(double rate) const {
    int64_t done = std::min(total_, already_done_ + transferred());
    double fraction = total_ > 0 ? static_cast<double>(done) / static_cast<double>(total_) : 1.0;
    std::string time_left = rate > 0 ? format_duration(static_cast<double>(total_ - done) / rate) : "--";
    return fmt::format("{:3.0f}% {} / {}  {}/s  {} left", fraction * 100.0, format_bytes(static_cast<double>(done)),
                       format_bytes(static_cast<double>(total_)), format_bytes(rate), time_left);
}

void ProgressReporter::run() {
    std::deque<std::pair<Clock::time_point, int64_t>> samples;
    auto interval = style_ == Style::kBar ? std::chrono::duration_cast<Clock::duration>(kBarInterval)
                                          : std::chrono::duration_cast<Clock::duration>(kLogInterval);
    bool drew_bar = false;
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
        wake_.wait_for(lock, interval, [this] { return stopping_; });
        auto now = Clock::now();
        samples.emplace_back(now, transferred());
        while (samples.size() > 2 &&
               std::chrono::duration<double>(now - samples.front().first).count() > kRateWindowSeconds) {
            samples.pop_front();
        }
        double window = std::chrono::duration<double>(now - samples.front().first).count();
        if (samples.size() < 2 || window <= 0) {
            // Too early for a window: the average since the start.
            window = std::chrono::duration<double>(now - start_).count();
            samples.emplace_front(start_, 0);
        }
        double rate = window > 0 ? static_cast<double>(samples.back().second - samples.front().second) / window : 0;
        if (stopping_) {
            break;
        }
        if (style_ == Style::kBar) {
            int64_t done = std::min(total_, already_done_ + transferred());
            constexpr int kWidth = 30;
            int filled = total_ > 0 ? static_cast<int>(kWidth * done / total_) : kWidth;
            std::string bar = std::string(static_cast<size_t>(filled), '#') + std::string(kWidth - filled, '.');
            // \r redraws the line in place; \033[K clears what a longer previous line left behind.
            std::string line = fmt::format("\r{} [{}] {}\033[K", label_, bar, status_line(rate));
            std::fwrite(line.data(), 1, line.size(), stderr);
            std::fflush(stderr);
            drew_bar = true;
        } else {
            TLLM_LOG_INFO("{}: {}", label_, status_line(rate));
        }
    }
    if (drew_bar) {
        std::fputs("\n", stderr);
    }
}

} // namespace tllm::hub
