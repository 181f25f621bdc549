// The CPU forward pass over the paged KV cache (model/paged_kv_store.h, with runtime/kv_cache_manager.h's
// books): sequences of different lengths, some in the middle of their prompt and some decoding, get in one batch
// the logits each gets alone on a contiguous cache, in both precisions; and a prompt served from the prefix
// cache gets the logits of a cold prefill.
#include "../model/test_models.h"
#include "model/forward_cpu.h"
#include "runtime/kv_cache_manager.h"
#include "runtime_test_util.h"

#include <cmath>
#include <gtest/gtest.h>

namespace tllm {
namespace {

using test_util::max_relative_difference;
using test_util::some_tokens;

constexpr int32_t kBlockTokens = 4;
constexpr int32_t kBlocks = 64;

class PagedForwardTest : public ::testing::TestWithParam<Precision> {
  protected:
    void SetUp() override {
        config_ = testing::golden_config("tiny");
        testing::write_synthetic(config_, CheckpointLayout::kOriginal, 9, dir_ / "model");
        auto weights = ModelWeights::load(dir_ / "model");
        ASSERT_TRUE(weights.ok()) << weights.error().to_string();
        weights_ = std::move(weights).value();
    }
    // All-token logits of `tokens` computed alone on a contiguous cache.
    std::vector<float> alone(const std::vector<int32_t>& tokens) {
        CpuForward forward(*weights_, pool_, cpu::SimdPath::kAuto, GetParam());
        KvCache cache(config_, 256, kv_cache_dtype(GetParam()));
        std::vector<float> logits;
        ForwardRequest request{&cache, {}, tokens, true, &logits};
        EXPECT_TRUE(forward.run(std::span<ForwardRequest>(&request, 1)).ok());
        return logits;
    }
    std::vector<int32_t> windows() const { return {0, static_cast<int32_t>(config_.sliding_window)}; }
    static PagedKv paged(PagedKvStore& store, const SequenceKv& kv) {
        return {&store, {kv.tables[0], kv.tables[1]}, kv.length};
    }

    testing::TempDir dir_;
    GptOssConfig config_;
    std::unique_ptr<ModelWeights> weights_;
    ThreadPool pool_{2};
};

TEST_P(PagedForwardTest, AMixedBatchGetsTheLogitsEachSequenceGetsAlone) {
    const double tolerance = GetParam() == Precision::kF32 ? 1e-4 : 1e-5;
    CpuForward forward(*weights_, pool_, cpu::SimdPath::kAuto, GetParam());
    PagedKvStore store(config_, kBlocks, kBlockTokens, kv_cache_dtype(GetParam()));
    KvCacheManager kv(kBlocks, kBlockTokens, windows());
    const int64_t vocab = config_.vocab_size;
    // Full token lists; the first step computes `first` tokens of each, the second step the next `second`: a long
    // prompt in two chunks (past the sliding window of 8), a short one then a decode token, one decoding only.
    struct Case {
        std::vector<int32_t> tokens;
        size_t first, second;
    };
    std::vector<Case> cases = {
        {some_tokens(vocab, 23, 1), 13, 10}, {some_tokens(vocab, 6, 2), 5, 1}, {some_tokens(vocab, 2, 3), 1, 1}};
    std::vector<SequenceKv> sequences(cases.size());
    size_t done[3] = {0, 0, 0};
    for (int step = 0; step < 2; ++step) {
        std::vector<ForwardRequest> requests(cases.size());
        std::vector<std::vector<float>> logits(cases.size());
        for (size_t i = 0; i < cases.size(); ++i) {
            const size_t n = step == 0 ? cases[i].first : cases[i].second;
            ASSERT_TRUE(kv.reserve(sequences[i], static_cast<int64_t>(n)));
            requests[i].paged = paged(store, sequences[i]);
            requests[i].tokens = std::span<const int32_t>(cases[i].tokens).subspan(done[i], n);
            requests[i].all_logits = true;
            requests[i].logits = &logits[i];
        }
        ASSERT_TRUE(forward.run(requests).ok());
        for (size_t i = 0; i < cases.size(); ++i) {
            const size_t n = requests[i].tokens.size();
            kv.commit(sequences[i], cases[i].tokens, static_cast<int64_t>(done[i] + n));
            const std::vector<float> want = alone(std::vector<int32_t>(
                cases[i].tokens.begin(), cases[i].tokens.begin() + static_cast<std::ptrdiff_t>(done[i] + n)));
            const std::span<const float> last(want.data() + done[i] * static_cast<size_t>(vocab),
                                              n * static_cast<size_t>(vocab));
            EXPECT_LT(max_relative_difference(logits[i], last), tolerance) << "sequence " << i << " step " << step;
            done[i] += n;
        }
    }
    // The long sequence's sliding table let its first blocks go; the batch still matched.
    EXPECT_EQ(sequences[0].tables[1][0], kNoBlock);
    for (SequenceKv& s : sequences) {
        kv.free(s);
    }
    EXPECT_EQ(kv.pool().available(), kBlocks);
}

TEST_P(PagedForwardTest, APrefixCacheHitGivesTheLogitsOfAColdPrefill) {
    CpuForward forward(*weights_, pool_, cpu::SimdPath::kAuto, GetParam());
    PagedKvStore store(config_, kBlocks, kBlockTokens, kv_cache_dtype(GetParam()));
    KvCacheManager kv(kBlocks, kBlockTokens, windows());
    const std::vector<int32_t> shared = some_tokens(config_.vocab_size, 18, 4);
    auto run_prompt = [&](const std::vector<int32_t>& prompt, SequenceKv& sequence) {
        kv.admit(sequence, prompt);
        const int64_t start = sequence.length;
        EXPECT_TRUE(kv.reserve(sequence, static_cast<int64_t>(prompt.size()) - start));
        std::vector<float> logits;
        ForwardRequest request;
        request.paged = paged(store, sequence);
        request.tokens = std::span<const int32_t>(prompt).subspan(static_cast<size_t>(start));
        request.logits = &logits;
        EXPECT_TRUE(forward.run(std::span<ForwardRequest>(&request, 1)).ok());
        kv.commit(sequence, prompt, static_cast<int64_t>(prompt.size()));
        return logits;
    };
    SequenceKv cold;
    run_prompt(shared, cold);
    kv.free(cold);
    std::vector<int32_t> follow_up = shared;
    follow_up.push_back(7);
    follow_up.push_back(8);
    SequenceKv warm;
    const std::vector<float> got = run_prompt(follow_up, warm);
    EXPECT_EQ(kv.prefix_stats().reused_tokens, 16); // four whole blocks of the 18 shared tokens
    const std::vector<float> want = alone(follow_up);
    const size_t vocab = static_cast<size_t>(config_.vocab_size);
    EXPECT_LT(max_relative_difference(got, std::span<const float>(want).last(vocab)), 1e-5);
    kv.free(warm);
}

INSTANTIATE_TEST_SUITE_P(Precisions, PagedForwardTest, ::testing::Values(Precision::kBf16, Precision::kF32));

} // namespace
} // namespace tllm
