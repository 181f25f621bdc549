// The host side of the prefill attention kernel over a paged cache (OpKernels::prefill_attention_plan): which
// blocks it launches and in what order. The kernel itself is checked on the GPU (paged_kv_gpu_test.cpp).
#include "kernels/cuda/ops.h"

#include <algorithm>
#include <gtest/gtest.h>

namespace tllm::cuda {
namespace {

TEST(PrefillAttentionPlan, PutsTheBlocksThatSeeTheMostKeysFirst) {
    // Runs of 37 tokens at 300 and 20 at 0 with 8 query heads per kv head: 128 rows (16 tokens) a block.
    const std::vector<OpKernels::PrefillRun> runs = {{1, 37, 300}, {38, 20, 0}};
    const std::vector<int32_t> plan = OpKernels::prefill_attention_plan(runs, 8, 64);
    // Blocks (first token, tokens, row block, 0), by their last token's position: 336, 331, 315, 19, 15.
    EXPECT_EQ(plan, (std::vector<int32_t>{1, 37, 2, 0, 1, 37, 1, 0, 1, 37, 0, 0, 38, 20, 1, 0, 38, 20, 0, 0}));
}

TEST(PrefillAttentionPlan, CoversEveryRowOnceForAnyGroupAndHeadDim) {
    for (const int group : {1, 3, 8, 16}) {
        for (const int head_dim : {64, 128}) {
            const int rows = head_dim == 64 ? 128 : 64;
            const std::vector<OpKernels::PrefillRun> runs = {{0, 8, 0}, {8, 129, 40}, {137, 300, 5000}};
            const std::vector<int32_t> plan = OpKernels::prefill_attention_plan(runs, group, head_dim);
            std::vector<int> covered(437 * group, 0);
            for (size_t b = 0; b < plan.size(); b += 4) {
                const int first = plan[b], tokens = plan[b + 1], row_block = plan[b + 2];
                for (int r = row_block * rows; r < std::min(tokens * group, (row_block + 1) * rows); ++r) {
                    ++covered[static_cast<size_t>(first * group + r)];
                }
            }
            EXPECT_EQ(std::count(covered.begin(), covered.end(), 1), static_cast<long>(covered.size()))
                << "group " << group << " head_dim " << head_dim;
        }
    }
}

} // namespace
} // namespace tllm::cuda
