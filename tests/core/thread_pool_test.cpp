#include "core/thread_pool.h"

#include <atomic>
#include <gtest/gtest.h>
#include <vector>

namespace tllm {
namespace {

TEST(ThreadPool, CoversEveryIndexExactlyOnce) {
    for (int threads : {1, 2, 5}) {
        ThreadPool pool(threads);
        for (int64_t n : {0, 1, 7, 100, 1001}) {
            for (int64_t grain : {1, 3, 64}) {
                std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
                pool.parallel_for(n, grain, [&](int64_t begin, int64_t end) {
                    ASSERT_LE(0, begin);
                    ASSERT_LE(begin, end);
                    ASSERT_LE(end, n);
                    for (int64_t i = begin; i < end; ++i) {
                        hits[static_cast<size_t>(i)]++;
                    }
                });
                for (int64_t i = 0; i < n; ++i) {
                    ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "threads " << threads << " n " << n;
                }
            }
        }
    }
}

TEST(ThreadPool, RunsManyLoopsBackToBack) {
    ThreadPool pool(3);
    std::atomic<int64_t> total{0};
    for (int round = 0; round < 2000; ++round) {
        pool.parallel_for(16, 1, [&](int64_t begin, int64_t end) { total += end - begin; });
    }
    EXPECT_EQ(total.load(), 2000 * 16);
}

} // namespace
} // namespace tllm
