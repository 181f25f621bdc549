// The CPU engine's own consistency: incremental decoding equals full recomputation, batching and
// chunking change nothing, both layouts give identical logits, and bad requests fail cleanly.
#include "../model/test_models.h"
#include "runtime/engine.h"
#include "runtime_test_util.h"

#include <cmath>
#include <gtest/gtest.h>

namespace tllm {
namespace {

using test_util::max_relative_difference;
using test_util::some_tokens;

using testing::TempDir;

std::shared_ptr<const ModelWeights> load(const std::string& directory) {
    auto weights = ModelWeights::load(directory);
    EXPECT_TRUE(weights.ok()) << weights.error().to_string();
    return std::shared_ptr<const ModelWeights>(std::move(weights).value());
}

std::unique_ptr<Engine>
make_engine(std::shared_ptr<const ModelWeights> weights, int threads = 2, int64_t max_step_tokens = 256) {
    EngineOptions options;
    options.n_threads = threads;
    options.max_step_tokens = max_step_tokens;
    auto engine = Engine::create(std::move(weights), options);
    EXPECT_TRUE(engine.ok());
    return std::move(engine).value();
}

std::vector<float> full_logits(Engine& engine, const std::vector<int32_t>& tokens) {
    auto sequence = engine.new_sequence().value();
    std::vector<StepInput> inputs = {{sequence.get(), tokens, true}};
    std::vector<std::vector<float>> logits;
    Status status = engine.step(inputs, logits);
    EXPECT_TRUE(status.ok()) << status.error().to_string();
    return logits[0];
}

class EngineTest : public ::testing::Test {
  protected:
    void SetUp() override {
        config_ = testing::golden_config("tiny");
        testing::write_synthetic(config_, CheckpointLayout::kOriginal, 5, dir_ / "model");
        weights_ = load(dir_ / "model");
    }
    TempDir dir_;
    GptOssConfig config_;
    std::shared_ptr<const ModelWeights> weights_;
};

TEST_F(EngineTest, IncrementalDecodeMatchesFullRecompute) {
    // 20 tokens: past the sliding window of 8, so the window's edge moves during decoding.
    auto engine = make_engine(weights_);
    std::vector<int32_t> tokens = some_tokens(config_.vocab_size, 20, 1);
    std::vector<float> reference = full_logits(*engine, tokens);
    const size_t vocab = static_cast<size_t>(config_.vocab_size);

    auto sequence = engine->new_sequence().value();
    std::vector<std::vector<float>> logits;
    std::span<const int32_t> prompt(tokens.data(), 5);
    std::vector<StepInput> inputs = {{sequence.get(), prompt, false}};
    ASSERT_TRUE(engine->step(inputs, logits).ok());
    for (size_t position = 4; position < tokens.size(); ++position) {
        std::span<const float> expected(reference.data() + position * vocab, vocab);
        // Tolerance: the same operations in a different grouping of rows; f32 rounding only.
        EXPECT_LT(max_relative_difference(logits[0], expected), 1e-5) << "position " << position;
        if (position + 1 < tokens.size()) {
            inputs = {{sequence.get(), std::span<const int32_t>(tokens.data() + position + 1, 1), false}};
            ASSERT_TRUE(engine->step(inputs, logits).ok());
        }
    }
    EXPECT_EQ(sequence->tokens(), tokens);
}

TEST_F(EngineTest, BatchedSequencesMatchSequencesAlone) {
    auto engine = make_engine(weights_);
    std::vector<std::vector<int32_t>> prompts = {some_tokens(config_.vocab_size, 11, 2),
                                                 some_tokens(config_.vocab_size, 3, 3),
                                                 some_tokens(config_.vocab_size, 17, 4)};
    std::vector<std::vector<float>> alone;
    for (const auto& prompt : prompts) {
        alone.push_back(full_logits(*engine, prompt));
    }
    std::vector<std::unique_ptr<Sequence>> sequences;
    std::vector<StepInput> inputs;
    for (const auto& prompt : prompts) {
        sequences.push_back(engine->new_sequence().value());
        inputs.push_back({sequences.back().get(), prompt, true});
    }
    std::vector<std::vector<float>> logits;
    ASSERT_TRUE(engine->step(inputs, logits).ok());
    for (size_t i = 0; i < prompts.size(); ++i) {
        ASSERT_EQ(logits[i].size(), alone[i].size());
        EXPECT_LT(max_relative_difference(logits[i], alone[i]), 1e-5) << "sequence " << i;
    }
    // Then one decode step for all three at once, against each alone.
    std::vector<int32_t> next = {1, 2, 3};
    std::vector<std::vector<float>> step_logits;
    for (size_t i = 0; i < 3; ++i) {
        inputs[i] = {sequences[i].get(), std::span<const int32_t>(&next[i], 1), false};
    }
    ASSERT_TRUE(engine->step(inputs, step_logits).ok());
    for (size_t i = 0; i < 3; ++i) {
        std::vector<int32_t> extended = prompts[i];
        extended.push_back(next[i]);
        std::vector<float> expected = full_logits(*engine, extended);
        std::span<const float> last(expected.data() + expected.size() - step_logits[i].size(), step_logits[i].size());
        EXPECT_LT(max_relative_difference(step_logits[i], last), 1e-5) << "sequence " << i;
    }
}

TEST_F(EngineTest, ChunkedPrefillAndThreadCountChangeNothing) {
    std::vector<int32_t> tokens = some_tokens(config_.vocab_size, 23, 5);
    std::vector<float> reference = full_logits(*make_engine(weights_, 1), tokens);
    for (auto [threads, chunk] : {std::pair{3, 256}, std::pair{2, 5}, std::pair{1, 1}}) {
        std::vector<float> logits = full_logits(*make_engine(weights_, threads, chunk), tokens);
        ASSERT_EQ(logits.size(), reference.size());
        EXPECT_LT(max_relative_difference(logits, reference), 1e-5) << threads << " threads, chunks of " << chunk;
    }
}

TEST_F(EngineTest, BothLayoutsGiveIdenticalLogits) {
    testing::write_synthetic(config_, CheckpointLayout::kHuggingFace, 5, dir_ / "hf", 100'000);
    std::vector<int32_t> tokens = some_tokens(config_.vocab_size, 12, 6);
    std::vector<float> original = full_logits(*make_engine(weights_), tokens);
    std::vector<float> hf = full_logits(*make_engine(load(dir_ / "hf")), tokens);
    EXPECT_EQ(original, hf);
}

TEST_F(EngineTest, BadRequestsFailWithoutChangingTheSequence) {
    auto engine = make_engine(weights_);
    auto sequence = engine->new_sequence(10).value();
    std::vector<std::vector<float>> logits;
    std::vector<int32_t> bad_token = {1, static_cast<int32_t>(config_.vocab_size)};
    std::vector<StepInput> inputs = {{sequence.get(), bad_token, false}};
    Status status = engine->step(inputs, logits);
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(sequence->length(), 0);

    std::vector<int32_t> too_long = some_tokens(config_.vocab_size, 11, 7);
    inputs = {{sequence.get(), too_long, false}};
    status = engine->step(inputs, logits);
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error().code(), ErrorCode::kContextOverflow);
    EXPECT_EQ(sequence->length(), 0);

    std::vector<int32_t> fits = some_tokens(config_.vocab_size, 10, 8);
    inputs = {{sequence.get(), fits, false}, {sequence.get(), fits, false}};
    EXPECT_FALSE(engine->step(inputs, logits).ok());
    inputs = {{sequence.get(), fits, false}};
    ASSERT_TRUE(engine->step(inputs, logits).ok());
    EXPECT_EQ(sequence->length(), 10);
}

TEST_F(EngineTest, TruncateReusesThePrefix) {
    auto engine = make_engine(weights_);
    std::vector<int32_t> a = some_tokens(config_.vocab_size, 14, 9);
    std::vector<int32_t> b = a;
    b[10] = (b[10] + 1) % static_cast<int32_t>(config_.vocab_size);
    auto sequence = engine->new_sequence().value();
    std::vector<std::vector<float>> logits;
    std::vector<StepInput> inputs = {{sequence.get(), a, false}};
    ASSERT_TRUE(engine->step(inputs, logits).ok());
    sequence->truncate(10);
    inputs = {{sequence.get(), std::span<const int32_t>(b.data() + 10, 4), false}};
    ASSERT_TRUE(engine->step(inputs, logits).ok());
    std::vector<float> expected = full_logits(*engine, b);
    std::span<const float> last(expected.data() + expected.size() - logits[0].size(), logits[0].size());
    EXPECT_LT(max_relative_difference(logits[0], last), 1e-5);
}

} // namespace
} // namespace tllm
