// A tiny synthetic gpt-oss (random weights, the real vocabulary so every Harmony token is valid) with an
// engine on the CPU and the o200k_harmony tokenizer, shared by the tests of one suite.
#pragma once

#include "chat/chat_session.h"
#include "model/synth.h"
#include "temp_dir.h"

#include <gtest/gtest.h>
#include <memory>

namespace tllm::testing {

class TinyChatModel {
  public:
    // Fails the current test (and leaves engine() null) when the model cannot be made.
    TinyChatModel(const char* config_json, uint64_t seed, const EngineOptions& options) {
        load(config_json, seed, options);
    }
    Engine* engine() const { return engine_.get(); }
    const Tokenizer& tokenizer() const { return *tokenizer_; }

    std::unique_ptr<ChatSession> session(const ChatOptions& chat) const {
        auto session = ChatSession::create(*engine_, *tokenizer_, chat);
        EXPECT_TRUE(session.ok()) << session.error().to_string();
        return session.ok() ? std::move(session).value() : nullptr;
    }
    std::string decode(std::span<const TokenId> tokens) const {
        auto text = tokenizer_->decode(tokens);
        EXPECT_TRUE(text.ok());
        return text.ok() ? *text : "";
    }

  private:
    // ASSERT_* returns on failure, which a constructor cannot.
    void load(const char* config_json, uint64_t seed, const EngineOptions& options) {
        auto config = parse_config_json(config_json, "tiny chat config");
        ASSERT_TRUE(config.ok()) << config.error().to_string();
        SynthOptions synth;
        synth.seed = seed;
        Status written = write_synthetic_checkpoint(*config, synth, directory_ / "model");
        ASSERT_TRUE(written.ok()) << written.error().to_string();
        auto weights = ModelWeights::load(directory_ / "model");
        ASSERT_TRUE(weights.ok()) << weights.error().to_string();
        auto engine = Engine::create(std::shared_ptr<const ModelWeights>(std::move(weights).value()), options);
        ASSERT_TRUE(engine.ok()) << engine.error().to_string();
        engine_ = std::move(engine).value();
        auto tokenizer = Tokenizer::o200k_harmony();
        ASSERT_TRUE(tokenizer.ok());
        tokenizer_ = std::make_unique<Tokenizer>(std::move(tokenizer).value());
    }

    TempDir directory_;
    std::unique_ptr<Engine> engine_;
    std::unique_ptr<Tokenizer> tokenizer_;
};

} // namespace tllm::testing
