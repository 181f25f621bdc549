// The step scheduler (runtime/scheduler.h) driving a stand-in model: the token sampled after a sequence is a
// hash of all its tokens, so a request's output depends on its own history alone, and running it among many
// (chunked, batched, preempted and resumed) must give exactly what running it alone gives. The stand-in also
// keeps a model of the KV memory and checks, for every chunk, that every position the chunk attends to holds
// its sequence's own token.
#include "core/random.h"
#include "kv_slot.h"
#include "runtime/scheduler.h"

#include <gtest/gtest.h>
#include <map>
#include <optional>

namespace tllm {
namespace {

constexpr int32_t kVocab = 50;

int32_t next_token(std::span<const int32_t> history) {
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (int32_t t : history) {
        h = (h ^ static_cast<uint64_t>(t)) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    return static_cast<int32_t>(h % kVocab);
}

// What a request generates alone.
std::vector<int32_t> alone(const GenerationRequest& r) {
    std::vector<int32_t> tokens = r.prompt;
    std::vector<int32_t> out;
    while (static_cast<int32_t>(out.size()) < r.max_new_tokens) {
        const int32_t t = next_token(tokens);
        tokens.push_back(t);
        out.push_back(t);
        if (std::find(r.stop_tokens.begin(), r.stop_tokens.end(), t) != r.stop_tokens.end()) {
            break;
        }
    }
    return out;
}

using test_util::KvSlot;

class StandInModel {
  public:
    StandInModel(int32_t n_blocks, int32_t block_tokens, int32_t window)
        : block_tokens_(block_tokens), window_(window),
          memory_(2, std::vector<KvSlot>(static_cast<size_t>(n_blocks * block_tokens))) {}

    // Checks what each chunk reads, writes its KV, and samples where the chunk samples. A placeholder token
    // (Scheduler::fed_back_token) is what the previous run sampled for that row, as on the GPU.
    std::vector<int32_t> run(const StepPlan& plan) {
        std::vector<int32_t> sampled;
        std::vector<int32_t> rows;
        auto resolve = [&](int32_t token) {
            for (int32_t row = 0; row < static_cast<int32_t>(fed_back_.size()); ++row) {
                if (token == Scheduler::fed_back_token(row)) {
                    return fed_back_[static_cast<size_t>(row)];
                }
            }
            EXPECT_GE(token, 0) << "a placeholder of no row";
            return token;
        };
        for (const ScheduledChunk& chunk : plan.chunks) {
            std::vector<int32_t> history(chunk.history.begin(), chunk.history.end());
            for (int32_t& token : history) {
                token = resolve(token);
            }
            for (int g = 0; g < 2; ++g) {
                const std::vector<int32_t>& table = chunk.kv->tables.at(static_cast<size_t>(g));
                const int64_t first = g == 0 ? 0 : std::max<int64_t>(0, chunk.start - window_ + 1);
                for (int64_t p = first; p < chunk.start; ++p) { // cached positions the chunk attends to
                    const int32_t block = table.at(static_cast<size_t>(p / block_tokens_));
                    EXPECT_NE(block, kNoBlock);
                    EXPECT_EQ(slot(g, block, p), (KvSlot{history[static_cast<size_t>(p)], p})) << "position " << p;
                }
                for (size_t i = 0; i < chunk.tokens.size(); ++i) {
                    const int64_t p = chunk.start + static_cast<int64_t>(i);
                    slot(g, table.at(static_cast<size_t>(p / block_tokens_)), p) =
                        KvSlot{history[static_cast<size_t>(p)], p};
                }
            }
            sampled.push_back(chunk.samples ? next_token(history) : -1);
            if (chunk.samples) {
                rows.push_back(sampled.back());
            }
        }
        fed_back_ = rows;
        return sampled;
    }

  private:
    KvSlot& slot(int g, int32_t block, int64_t p) {
        return memory_[static_cast<size_t>(g)][static_cast<size_t>(block * block_tokens_ + p % block_tokens_)];
    }
    int32_t block_tokens_;
    int32_t window_;
    std::vector<std::vector<KvSlot>> memory_;
    std::vector<int32_t> fed_back_; // the last run's sampled rows
};

// Thousands of random arrivals, steps, cancellations and preemptions, each step either completed at once or, as
// the batched engine runs them, launched while the step before is in flight and resolved after the next plan.
class SchedulerSteps : public ::testing::TestWithParam<bool> {};

TEST_P(SchedulerSteps, RequestsAmongManyGetWhatTheyGetAlone) {
    const bool overlapped = GetParam();
    constexpr int32_t kBlocks = 40;
    constexpr int32_t kBlockTokens = 4;
    constexpr int32_t kWindow = 6;
    KvCacheManager kv(kBlocks, kBlockTokens, {0, kWindow});
    Scheduler scheduler(kv, 24, 8);
    StandInModel model(kBlocks, kBlockTokens, kWindow);
    Rng rng(7);
    auto uniform = [&](int64_t n) { return static_cast<int64_t>(rng.next() % static_cast<uint64_t>(n)); };
    std::map<uint64_t, GenerationRequest> requests;
    std::map<uint64_t, FinishedRequest> done;
    const std::vector<int32_t> system_prompt = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    double now = 0;
    uint64_t next_id = 1;
    std::vector<uint64_t> cancelled;
    std::optional<std::pair<StepPlan, std::vector<int32_t>>> in_flight; // planned, run, not yet resolved
    int64_t wasted_rows = 0;
    for (int step = 0; step < 3000 && (next_id <= 300 || !scheduler.idle() || in_flight); ++step) {
        now += 1;
        while (next_id <= 300 && uniform(3) == 0) { // arrivals
            GenerationRequest r;
            r.id = next_id++;
            r.prompt = uniform(2) == 0 ? system_prompt : std::vector<int32_t>{};
            for (int64_t i = 1 + uniform(30); i > 0; --i) {
                r.prompt.push_back(static_cast<int32_t>(uniform(kVocab)));
            }
            r.max_new_tokens = static_cast<int32_t>(1 + uniform(24));
            r.stop_tokens = {0};
            requests.emplace(r.id, r);
            scheduler.submit(std::move(r), now);
        }
        if (uniform(40) == 0 && next_id > 2) { // a client hangs up
            std::vector<FinishedRequest> gone;
            const uint64_t id = 1 + static_cast<uint64_t>(uniform(static_cast<int64_t>(next_id - 1)));
            if (scheduler.cancel(id, gone)) {
                ASSERT_EQ(gone.size(), 1u);
                EXPECT_EQ(gone[0].reason, FinishReason::kCancelled);
                done.emplace(id, std::move(gone[0]));
                cancelled.push_back(id);
            }
        }
        const StepPlan plan = scheduler.plan(now);
        ASSERT_LE(plan.n_tokens, 24);
        const std::vector<int32_t> sampled = model.run(plan);
        if (::testing::Test::HasFailure()) {
            return;
        }
        if (!overlapped) {
            for (FinishedRequest& f : scheduler.complete(plan, sampled, now)) {
                done.emplace(f.id, std::move(f));
            }
            continue;
        }
        if (in_flight) {
            for (const ScheduledChunk& chunk : in_flight->first.chunks) {
                wasted_rows += chunk.samples && !scheduler.holds(chunk) ? 1 : 0;
            }
            for (FinishedRequest& f : scheduler.resolved(in_flight->first, in_flight->second, now)) {
                done.emplace(f.id, std::move(f));
            }
            in_flight.reset();
        }
        if (!plan.chunks.empty()) {
            scheduler.launched(plan);
            in_flight.emplace(plan, sampled);
        }
    }
    if (overlapped) {
        EXPECT_GT(wasted_rows, 0); // requests that stopped with their next step planned
    }
    ASSERT_TRUE(scheduler.idle());
    ASSERT_EQ(done.size(), requests.size());
    for (const auto& [id, f] : done) {
        const std::vector<int32_t> want = alone(requests.at(id));
        if (f.reason == FinishReason::kCancelled) {
            ASSERT_LE(f.generated.size(), want.size());
            EXPECT_TRUE(std::equal(f.generated.begin(), f.generated.end(), want.begin())) << id;
            continue;
        }
        EXPECT_EQ(f.generated, want) << "request " << id;
        EXPECT_EQ(f.reason, want.back() == 0 ? FinishReason::kStop : FinishReason::kLength);
        // Queued, then admitted, then the first token, in that order.
        EXPECT_GE(f.timing.admitted, f.timing.submitted);
        EXPECT_GE(f.timing.first_token, f.timing.admitted);
        EXPECT_EQ(f.timing.token_at.size(), f.generated.size());
    }
    EXPECT_EQ(kv.pool().available(), kBlocks);
    EXPECT_GT(scheduler.preemptions(), 0);
    EXPECT_GT(kv.prefix_stats().reused_tokens, 0);
    EXPECT_FALSE(cancelled.empty());
}

INSTANTIATE_TEST_SUITE_P(CompletedOrOverlapped, SchedulerSteps, ::testing::Bool());

TEST(Scheduler, RunningSequencesDecodeAtEveryStepWhileAPromptPrefillsInChunks) {
    KvCacheManager kv(256, 16, {0});
    Scheduler scheduler(kv, 8, 4);
    GenerationRequest first{1, {5, 6, 7}, 40, {}};
    scheduler.submit(first, 0);
    StepPlan plan = scheduler.plan(0);
    ASSERT_EQ(plan.chunks.size(), 1u);
    EXPECT_TRUE(plan.chunks[0].samples);
    scheduler.complete(plan, std::vector<int32_t>{9}, 1);
    GenerationRequest second{2, std::vector<int32_t>(30, 3), 5, {}};
    scheduler.submit(second, 1);
    // 30 prompt tokens in chunks of at most 7 beside request 1's decode token, which never waits.
    int64_t prefilled = 0;
    for (int step = 0; prefilled < 30; ++step) {
        plan = scheduler.plan(1.0 + step);
        ASSERT_EQ(plan.chunks.size(), 2u);
        EXPECT_EQ(plan.chunks[0].id, 1u);
        EXPECT_EQ(plan.chunks[0].tokens.size(), 1u);
        EXPECT_EQ(plan.chunks[1].id, 2u);
        EXPECT_LE(plan.chunks[1].tokens.size(), 7u);
        prefilled += static_cast<int64_t>(plan.chunks[1].tokens.size());
        EXPECT_EQ(plan.chunks[1].samples, prefilled == 30);
        scheduler.complete(plan, std::vector<int32_t>{9, 9}, 2.0 + step);
    }
}

TEST(Scheduler, ARequestWaitingForBlocksCountsInThePrefixStatisticsOnceAdmitted) {
    // Three blocks of 4 positions, a full-attention group and a window of 4: request 1 holds one block in each
    // group, and request 2 needs two at once, so every step tries to admit it and gives up.
    KvCacheManager kv(3, 4, {0, 4});
    Scheduler scheduler(kv, 16, 4);
    scheduler.submit({1, {5, 6}, 2, {}}, 0);
    StepPlan plan = scheduler.plan(0);
    scheduler.complete(plan, std::vector<int32_t>(plan.chunks.size(), 9), 0);
    scheduler.submit({2, {7, 8, 9}, 1, {}}, 0);
    for (int step = 1; step <= 3 && !scheduler.idle(); ++step) {
        plan = scheduler.plan(step);
        for (const ScheduledChunk& chunk : plan.chunks) {
            if (chunk.id == 2) {
                EXPECT_EQ(kv.prefix_stats().prompt_tokens, 5); // both prompts, once each
            }
        }
        if (plan.chunks.size() == 1 && plan.chunks[0].id == 1) {
            EXPECT_EQ(kv.prefix_stats().prompt_tokens, 2) << "step " << step; // request 2 still waits
        }
        scheduler.complete(plan, std::vector<int32_t>(plan.chunks.size(), 9), step);
    }
    EXPECT_EQ(kv.prefix_stats().prompt_tokens, 5);
}

} // namespace
} // namespace tllm
