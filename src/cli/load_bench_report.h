// What the load benchmarks (the engine's `bench --concurrency`, and `bench --serve` over HTTP) report alike: latency
// percentiles (times to first token, gaps between tokens) and one JSON line per setting.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <vector>

namespace tllm {

// The nearest-rank percentile (p in (0, 1]); 0 for no values.
inline double percentile(std::vector<double> values, double p) {
    if (values.empty()) {
        return 0;
    }
    std::sort(values.begin(), values.end());
    const size_t index = static_cast<size_t>(std::ceil(p * static_cast<double>(values.size()))) - 1;
    return values[std::min(index, values.size() - 1)];
}

// ttft_ms_p50/p99 and itl_ms_p50/p99 of times to first token and inter-token gaps given in seconds.
inline void add_latency_percentiles(nlohmann::json& row,
                                    const std::vector<double>& first_token_seconds,
                                    const std::vector<double>& gap_seconds) {
    row["ttft_ms_p50"] = 1e3 * percentile(first_token_seconds, 0.5);
    row["ttft_ms_p99"] = 1e3 * percentile(first_token_seconds, 0.99);
    row["itl_ms_p50"] = 1e3 * percentile(gap_seconds, 0.5);
    row["itl_ms_p99"] = 1e3 * percentile(gap_seconds, 0.99);
}

// The decode phase's aggregate rate, as llama.cpp's batched-bench reports it (S_TG = streams × generated / decode
// time): streams started together decode together once the last of them has its first token, so the phase runs
// from that moment to the last token, and its tokens are those after it. Per stream, its tokens' times in seconds.
// 0 where no token follows the phase's start (one generated token per stream).
inline double decode_phase_tok_s(const std::vector<std::vector<double>>& token_times_per_stream) {
    double start = 0;
    double end = 0;
    for (const auto& times : token_times_per_stream) {
        if (!times.empty()) {
            start = std::max(start, times.front());
            end = std::max(end, times.back());
        }
    }
    int64_t tokens = 0;
    for (const auto& times : token_times_per_stream) {
        tokens += std::count_if(times.begin(), times.end(), [&](double t) { return t > start; });
    }
    return end > start && tokens > 0 ? static_cast<double>(tokens) / (end - start) : 0.0;
}

// Completes a setting's row with the lengths asked for and the build, prints it as one JSON line on stdout (at
// once, so that a long run shows its progress), and keeps it for the table.
inline void emit_row(nlohmann::json row,
                     int prompt_tokens,
                     int gen_tokens,
                     const nlohmann::json& version,
                     std::vector<nlohmann::json>& rows) {
    row["prompt_tokens"] = prompt_tokens;
    row["gen_tokens"] = gen_tokens;
    row["version"] = version;
    std::printf("%s\n", row.dump().c_str());
    std::fflush(stdout);
    rows.push_back(std::move(row));
}

} // namespace tllm
