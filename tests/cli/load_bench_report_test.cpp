#include "cli/load_bench_report.h"

#include <gtest/gtest.h>
#include <vector>

namespace tllm {
namespace {

TEST(LoadBenchReport, DecodePhaseStartsAtTheLastFirstToken) {
    // The second stream's first token (1.5 s) starts the phase; 2, 3, 2.5 and 3.5 follow it, over 2 s.
    const std::vector<std::vector<double>> streams{{1.0, 2.0, 3.0}, {1.5, 2.5, 3.5}};
    EXPECT_DOUBLE_EQ(decode_phase_tok_s(streams), 2.0);
}

TEST(LoadBenchReport, NoDecodePhaseWithOneTokenPerStream) {
    EXPECT_EQ(decode_phase_tok_s(std::vector<std::vector<double>>{{1.0}, {1.0}}), 0.0);
    EXPECT_EQ(decode_phase_tok_s(std::vector<std::vector<double>>{}), 0.0);
    // A stream that never produced a token does not move the phase's start.
    EXPECT_DOUBLE_EQ(decode_phase_tok_s(std::vector<std::vector<double>>{{}, {0.5, 1.0, 1.5}}), 2.0);
}

} // namespace
} // namespace tllm
