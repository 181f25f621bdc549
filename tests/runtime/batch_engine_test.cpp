// Many requests in one step (runtime/batch_engine.h) against the engine that runs one sequence at a time
// (Engine::step and Engine::decode, with its contiguous cache): every request, greedy or sampled, among others,
// through chunked prefill, shared prefixes and preemptions, generates exactly the tokens it generates alone.
#include "../model/test_models.h"
#include "runtime/batch_engine.h"
#include "runtime/engine.h"
#include "runtime_test_util.h"

#include <cmath>
#include <gtest/gtest.h>

namespace tllm {
namespace {

using test_util::some_tokens;

class BatchEngineTest : public ::testing::TestWithParam<Precision> {
  protected:
    void SetUp() override {
        config_ = testing::golden_config("tiny");
        testing::write_synthetic(config_, CheckpointLayout::kOriginal, 21, dir_ / "model");
        auto weights = ModelWeights::load(dir_ / "model");
        ASSERT_TRUE(weights.ok()) << weights.error().to_string();
        weights_ = std::shared_ptr<const ModelWeights>(std::move(weights).value());
        EngineOptions options;
        options.n_threads = 2;
        options.precision = GetParam();
        engine_ = std::move(Engine::create(weights_, options)).value();
    }

    std::vector<int32_t> alone(const BatchRequest& r) {
        auto sequence = engine_->new_sequence().value();
        std::vector<std::vector<float>> logits;
        if (r.prompt.size() > 1) {
            const StepInput input{sequence.get(), std::span<const int32_t>(r.prompt).first(r.prompt.size() - 1), false};
            EXPECT_TRUE(engine_->step(std::span<const StepInput>(&input, 1), logits).ok());
        }
        std::vector<int32_t> out;
        EXPECT_TRUE(engine_->decode(*sequence, r.prompt.back(), r.max_new_tokens, r.sampling, 0, out).ok());
        for (size_t i = 0; i < out.size(); ++i) {
            if (std::find(r.stop_tokens.begin(), r.stop_tokens.end(), out[i]) != r.stop_tokens.end()) {
                out.resize(i + 1);
                break;
            }
        }
        return out;
    }

    std::vector<BatchRequest> requests() const {
        std::vector<BatchRequest> out;
        const std::vector<int32_t> system = some_tokens(config_.vocab_size, 13, 1);
        for (uint64_t id = 1; id <= 8; ++id) {
            BatchRequest r;
            r.id = id;
            r.prompt = id % 3 == 0 ? std::vector<int32_t>{} : system; // a shared prefix for most
            const std::vector<int32_t> own =
                some_tokens(config_.vocab_size, 1 + (id * 5) % 17, static_cast<uint32_t>(id + 7));
            r.prompt.insert(r.prompt.end(), own.begin(), own.end());
            r.max_new_tokens = static_cast<int32_t>(4 + (id * 3) % 13);
            if (id % 2 == 0) {
                r.sampling = SamplingParams{0.9f, id % 4 == 0 ? 0.8f : 1.0f, id == 6 ? 5 : 0, 1000 + id};
            }
            r.stop_tokens = {static_cast<int32_t>(id % 5)};
            out.push_back(r);
        }
        return out;
    }

    // Runs every request to its end; returns each one's generated tokens.
    std::map<uint64_t, std::vector<int32_t>> run(BatchEngine& batch) {
        for (BatchRequest r : requests()) {
            const Status status = batch.submit(std::move(r));
            EXPECT_TRUE(status.ok()) << status.error().to_string();
        }
        std::map<uint64_t, std::vector<int32_t>> streamed;
        std::map<uint64_t, std::vector<int32_t>> finished;
        for (int step = 0; step < 1000 && !batch.idle(); ++step) {
            std::vector<TokenEvent> tokens;
            std::vector<FinishedRequest> done;
            const Status status = batch.step(tokens, done);
            EXPECT_TRUE(status.ok()) << status.error().to_string();
            for (const TokenEvent& e : tokens) {
                streamed[e.id].push_back(e.token);
            }
            for (FinishedRequest& f : done) {
                finished[f.id] = f.generated;
            }
        }
        EXPECT_TRUE(batch.idle());
        EXPECT_EQ(streamed, finished);
        return finished;
    }

    testing::TempDir dir_;
    GptOssConfig config_;
    std::shared_ptr<const ModelWeights> weights_;
    std::unique_ptr<Engine> engine_;
};

TEST_P(BatchEngineTest, EveryRequestGetsTheTokensItGetsAlone) {
    for (const BatchEngineOptions options : {BatchEngineOptions{256, 4, 16, 8},
                                             // few blocks: preemptions and recomputes from the prefix cache
                                             BatchEngineOptions{24, 4, 16, 8}}) {
        auto created = BatchEngine::create(*engine_, options);
        ASSERT_TRUE(created.ok());
        BatchEngine& batch = **created;
        const std::map<uint64_t, std::vector<int32_t>> got = run(batch);
        ASSERT_EQ(got.size(), 8u);
        for (const BatchRequest& r : requests()) {
            EXPECT_EQ(got.at(r.id), alone(r)) << "request " << r.id << ", " << options.kv_blocks << " blocks";
        }
        EXPECT_EQ(batch.kv().pool().available(), options.kv_blocks);
        EXPECT_GT(batch.kv().prefix_stats().reused_tokens, 0);
        if (options.kv_blocks == 24) {
            EXPECT_GT(batch.scheduler().preemptions(), 0);
        }
    }
}

// OpenAI's cached_tokens: a request's first token carries the prompt positions the prefix cache served it, and
// only its first token; a request sharing 13 prompt tokens with a finished one reuses their 3 full blocks of 4.
TEST_P(BatchEngineTest, FirstTokenCarriesThePromptPositionsTheCacheServed) {
    auto created = BatchEngine::create(*engine_, BatchEngineOptions{64, 4, 16, 8});
    ASSERT_TRUE(created.ok());
    BatchEngine& batch = **created;
    const std::vector<int32_t> shared = some_tokens(config_.vocab_size, 13, 1);
    std::map<uint64_t, std::vector<int64_t>> cached; // per request, per token event
    for (uint64_t id : {1, 2}) {
        BatchRequest r;
        r.id = id;
        r.prompt = shared;
        const std::vector<int32_t> own = some_tokens(config_.vocab_size, 3, static_cast<uint32_t>(id + 20));
        r.prompt.insert(r.prompt.end(), own.begin(), own.end());
        r.max_new_tokens = 3;
        ASSERT_TRUE(batch.submit(r).ok());
        for (int step = 0; step < 100 && !batch.idle(); ++step) { // request 1 ends before request 2 comes
            std::vector<TokenEvent> tokens;
            std::vector<FinishedRequest> done;
            ASSERT_TRUE(batch.step(tokens, done).ok());
            for (const TokenEvent& e : tokens) {
                cached[e.id].push_back(e.cached_prompt_tokens);
            }
        }
    }
    EXPECT_EQ(cached[1], (std::vector<int64_t>{0, 0, 0}));
    EXPECT_EQ(cached[2], (std::vector<int64_t>{12, 0, 0}));
    EXPECT_EQ(batch.kv().prefix_stats().reused_tokens, 12);
}

TEST_P(BatchEngineTest, BadRequestsAreRefusedWithTheirReason) {
    auto created = BatchEngine::create(*engine_, BatchEngineOptions{64, 4, 16, 4});
    ASSERT_TRUE(created.ok());
    BatchEngine& batch = **created;
    auto refused = [&](BatchRequest r, const std::string& words) {
        const Status status = batch.submit(std::move(r));
        ASSERT_FALSE(status.ok());
        EXPECT_NE(status.error().to_string().find(words), std::string::npos) << status.error().to_string();
    };
    refused({1, {}, 4, {}, {}}, "0 prompt tokens");
    refused({1, {static_cast<int32_t>(config_.vocab_size)}, 4, {}, {}}, "outside vocabulary");
    refused({1, {1, 2}, 0, {}, {}}, "0 to generate");
    refused({1, {1, 2}, 4, {}, SamplingParams{1.0f, 0.0f, 0, 0}}, "top_p");
    ASSERT_TRUE(batch.submit({1, {1, 2}, 4, {}, {}}).ok());
    refused({1, {1, 2}, 4, {}, {}}, "in use");
    std::vector<FinishedRequest> finished;
    EXPECT_TRUE(batch.cancel(1, finished));
    EXPECT_FALSE(batch.cancel(1, finished));
    EXPECT_TRUE(batch.idle());
}

// A step is launched before the one in flight is read: a request cancelled with a step in flight, and a new
// request that takes its id at once, get nothing of each other's; the new one gets what it gets alone.
TEST_P(BatchEngineTest, ACancelledRequestsStepInFlightReachesNobody) {
    auto created = BatchEngine::create(*engine_, BatchEngineOptions{64, 4, 16, 4});
    ASSERT_TRUE(created.ok());
    BatchEngine& batch = **created;
    BatchRequest first{1, some_tokens(config_.vocab_size, 6, 3), 8, {}, {}};
    ASSERT_TRUE(batch.submit(first).ok());
    std::vector<TokenEvent> events;
    std::vector<FinishedRequest> finished;
    for (int step = 0; step < 3; ++step) { // the prompt, then tokens 1 and 2 read while 3 is in flight
        ASSERT_TRUE(batch.step(events, finished).ok());
    }
    ASSERT_EQ(events.size(), 2u);
    ASSERT_TRUE(batch.cancel(1, finished));
    ASSERT_EQ(finished.size(), 1u);
    EXPECT_EQ(finished[0].reason, FinishReason::kCancelled);
    EXPECT_EQ(finished[0].generated, (std::vector<int32_t>{events[0].token, events[1].token}));
    const BatchRequest second{1, some_tokens(config_.vocab_size, 5, 4), 6, {}, {}};
    ASSERT_TRUE(batch.submit(second).ok());
    events.clear();
    finished.clear();
    while (!batch.idle()) {
        ASSERT_TRUE(batch.step(events, finished).ok());
    }
    ASSERT_EQ(finished.size(), 1u);
    std::vector<int32_t> streamed;
    for (const TokenEvent& e : events) {
        streamed.push_back(e.token);
    }
    EXPECT_EQ(streamed, alone(second));
    EXPECT_EQ(finished[0].generated, alone(second));
    EXPECT_EQ(batch.kv().pool().available(), 64);
}

TEST_P(BatchEngineTest, LogprobsAreTheModelsLogSoftmaxAtEachToken) {
    auto created = BatchEngine::create(*engine_, BatchEngineOptions{64, 4, 16, 4});
    ASSERT_TRUE(created.ok());
    BatchEngine& batch = **created;
    BatchRequest r{1, some_tokens(config_.vocab_size, 9, 5), 5, {}, {}, 3};
    ASSERT_TRUE(batch.submit(r).ok());
    BatchRequest quiet{2, some_tokens(config_.vocab_size, 4, 6), 5, {}, {}, -1}; // asks for none
    ASSERT_TRUE(batch.submit(quiet).ok());
    std::vector<TokenEvent> events;
    while (!batch.idle()) {
        std::vector<FinishedRequest> finished;
        ASSERT_TRUE(batch.step(events, finished).ok());
    }
    // Alone: the logits before each generated token, fed one token at a time.
    auto sequence = engine_->new_sequence().value();
    std::vector<std::vector<float>> logits;
    std::vector<int32_t> feed = r.prompt;
    size_t checked = 0;
    for (const TokenEvent& e : events) {
        if (e.id == 2) {
            EXPECT_TRUE(e.top.empty());
            continue;
        }
        const StepInput input{sequence.get(), feed, false};
        ASSERT_TRUE(engine_->step(std::span<const StepInput>(&input, 1), logits).ok());
        const std::vector<float>& row = logits[0];
        double sum = 0;
        const float max = *std::max_element(row.begin(), row.end());
        for (float x : row) {
            sum += std::exp(static_cast<double>(x) - max);
        }
        const double norm = max + std::log(sum);
        EXPECT_NEAR(e.logprob, row[static_cast<size_t>(e.token)] - norm, 1e-3) << "token " << checked;
        ASSERT_EQ(e.top.size(), 3u);
        EXPECT_EQ(e.top[0].token, e.token); // greedy: the likeliest
        for (size_t i = 0; i < 3; ++i) {
            EXPECT_NEAR(e.top[i].logprob, row[static_cast<size_t>(e.top[i].token)] - norm, 1e-3);
            if (i > 0) {
                EXPECT_GE(e.top[i - 1].logprob, e.top[i].logprob);
            }
        }
        feed = {e.token};
        ++checked;
    }
    EXPECT_EQ(checked, 5u);
    EXPECT_FALSE(batch.submit({3, {1}, 1, {}, {}, 21}).ok());
}

// `tritonllm logits` through the batched engine: the logits after every prefix, in steps of at most step_tokens or
// one token a step after `prefill`, are the contiguous engine's from one pass over all the tokens; the blocks go
// back to the pool; a pool too small, bad tokens and running requests are refused.
TEST_P(BatchEngineTest, AllLogitsAreTheContiguousEnginesFromOnePass) {
    const std::vector<int32_t> tokens = some_tokens(config_.vocab_size, 37, 5);
    BatchEngineOptions options{0, 4, 16, 4};
    options.kv_blocks = static_cast<int32_t>(BatchEngine::kv_blocks_for(config_, options, 37));
    auto created = BatchEngine::create(*engine_, options);
    ASSERT_TRUE(created.ok()) << created.error().to_string();
    BatchEngine& batch = **created;
    auto sequence = engine_->new_sequence().value();
    std::vector<std::vector<float>> want;
    const StepInput input{sequence.get(), tokens, true};
    ASSERT_TRUE(engine_->step(std::span<const StepInput>(&input, 1), want).ok());
    ASSERT_EQ(want[0].size(), tokens.size() * static_cast<size_t>(config_.vocab_size));
    for (const int64_t prefill : {int64_t{0}, int64_t{20}, int64_t{1}}) {
        std::vector<float> rows;
        const Status status = batch.all_logits(tokens, prefill, rows);
        ASSERT_TRUE(status.ok()) << status.error().to_string();
        ASSERT_EQ(rows.size(), want[0].size()) << "prefill " << prefill;
        double worst = 0;
        for (size_t i = 0; i < rows.size(); ++i) {
            worst = std::max(worst, static_cast<double>(std::fabs(rows[i] - want[0][i])));
        }
        EXPECT_LE(worst, 1e-4) << "prefill " << prefill;
        EXPECT_EQ(batch.kv().pool().available(), options.kv_blocks);
    }
    std::vector<float> rows;
    const std::vector<int32_t> longer = some_tokens(config_.vocab_size, 200, 6);
    Status status = batch.all_logits(longer, 0, rows);
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error().code(), ErrorCode::kOutOfMemory) << status.error().to_string();
    EXPECT_EQ(batch.kv().pool().available(), options.kv_blocks) << "nothing kept after a refusal";
    EXPECT_FALSE(batch.all_logits(std::vector<int32_t>{static_cast<int32_t>(config_.vocab_size)}, 0, rows).ok());
    EXPECT_FALSE(batch.all_logits({}, 0, rows).ok());
    ASSERT_TRUE(batch.submit({1, {1, 2}, 4, {}, {}}).ok());
    status = batch.all_logits(tokens, 0, rows);
    ASSERT_FALSE(status.ok());
    EXPECT_NE(status.error().to_string().find("while requests run"), std::string::npos);
}

// The chat's default context: the longest sequence whose blocks fit the bytes given, exactly (one more position
// would not fit), the sliding-window layers costing their window's blocks whatever the length.
TEST_P(BatchEngineTest, LongestSequenceInIsTheLongestThatFits) {
    const DType dtype = kv_cache_dtype(GetParam());
    const BatchEngineOptions options{0, 16, 64, 1};
    const uint64_t block_bytes =
        2 * static_cast<uint64_t>(PagedKvLayout(config_, 1, 16).elements()) * dtype_size(dtype);
    for (const uint64_t blocks : {uint64_t{0}, uint64_t{1}, uint64_t{2}, uint64_t{37}, uint64_t{5000}}) {
        for (const uint64_t extra : {uint64_t{0}, block_bytes - 1}) {
            const uint64_t bytes = blocks * block_bytes + extra;
            const int64_t longest = BatchEngine::longest_sequence_in(config_, options, dtype, bytes);
            SCOPED_TRACE(::testing::Message() << blocks << " blocks and " << extra << " bytes");
            if (blocks == 0) {
                EXPECT_EQ(longest, 0);
                continue;
            }
            EXPECT_LE(static_cast<uint64_t>(BatchEngine::kv_blocks_for(config_, options, longest) + 1), blocks);
            if (longest < config_.max_context()) {
                EXPECT_GT(static_cast<uint64_t>(BatchEngine::kv_blocks_for(config_, options, longest + 1) + 1), blocks);
            }
        }
    }
    // Within the model's context, the full-attention layers' blocks take what the sliding ones' window leaves: every
    // position costs one block's share, not a share of every layer.
    const int64_t blocks = 300;
    const int64_t sliding = (options.step_tokens + config_.sliding_window - 3) / 16 + 2;
    const int64_t longest = BatchEngine::longest_sequence_in(config_, options, dtype, blocks * block_bytes);
    ASSERT_LT(longest, config_.max_context());
    EXPECT_GE(longest, (blocks - 1 - sliding) * 16);
}

INSTANTIATE_TEST_SUITE_P(Precisions, BatchEngineTest, ::testing::Values(Precision::kBf16, Precision::kF32));

} // namespace
} // namespace tllm
