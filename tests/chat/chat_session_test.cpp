// Chat sessions on a tiny synthetic model (random weights, the real vocabulary size so every Harmony token
// is valid) on the CPU: history trimming, loop detection, KV-cache reuse across turns, the stop flag and
// the rendered system message.
#include "../common/temp_dir.h"
#include "../common/tiny_chat_model.h"
#include "chat/chat_session.h"

#include <gtest/gtest.h>

namespace tllm {
namespace {

constexpr const char* kTinyChatConfig = R"({
  "num_hidden_layers": 2, "num_experts": 4, "experts_per_token": 2, "vocab_size": 201088,
  "hidden_size": 64, "intermediate_size": 64, "swiglu_limit": 7.0, "head_dim": 16,
  "num_attention_heads": 4, "num_key_value_heads": 2, "sliding_window": 8,
  "initial_context_length": 256, "rope_theta": 150000.0, "rope_scaling_factor": 32.0,
  "rope_ntk_alpha": 1.0, "rope_ntk_beta": 32.0
})";

class ChatSessionTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        EngineOptions options;
        options.n_threads = 2;
        options.max_step_tokens = 32; // several prefill chunks per prompt
        model_ = new testing::TinyChatModel(kTinyChatConfig, 7, options);
    }
    static void TearDownTestSuite() { delete model_; }
    void SetUp() override { ASSERT_NE(model_->engine(), nullptr); }

    static ChatOptions options(int64_t context, int64_t max_tokens, float temperature = 1.0f) {
        ChatOptions chat;
        chat.conversation_date = "2025-08-05";
        chat.context = context;
        chat.max_tokens = max_tokens;
        chat.sampling.temperature = temperature;
        chat.sampling.seed = 3;
        return chat;
    }
    static std::unique_ptr<ChatSession> make_session(const ChatOptions& chat) { return model_->session(chat); }
    static std::string decode(std::span<const TokenId> tokens) { return model_->decode(tokens); }

    static testing::TinyChatModel* model_;
};

testing::TinyChatModel* ChatSessionTest::model_ = nullptr;

// Records what the session reports and can raise the stop flag after a number of tokens.
class RecordingObserver : public ChatObserver {
  public:
    explicit RecordingObserver(std::atomic<bool>* stop = nullptr, size_t stop_after = 0)
        : stop_(stop), stop_after_(stop_after) {}
    void on_prompt(const PromptInfo& info, std::span<const TokenId> prompt) override {
        info_ = info;
        prompt_.assign(prompt.begin(), prompt.end());
    }
    void on_token(TokenId token) override {
        tokens_.push_back(token);
        if (stop_ != nullptr && tokens_.size() == stop_after_) {
            stop_->store(true);
        }
    }
    PromptInfo info_;
    std::vector<TokenId> prompt_;
    std::vector<TokenId> tokens_;

  private:
    std::atomic<bool>* stop_;
    size_t stop_after_;
};

TEST_F(ChatSessionTest, ReasoningEffortAndDateAppearInTheSystemMessage) {
    for (ReasoningEffort effort : {ReasoningEffort::kLow, ReasoningEffort::kMedium, ReasoningEffort::kHigh}) {
        ChatOptions chat = options(512, 4);
        chat.reasoning_effort = effort;
        chat.developer_message = "Answer in French.";
        auto session = make_session(chat);
        ASSERT_NE(session, nullptr);
        auto preamble = session->render_preamble();
        ASSERT_TRUE(preamble.ok());
        const std::string text = decode(*preamble);
        EXPECT_NE(text.find("Reasoning: " + std::string(reasoning_effort_name(effort)) + "\n"), std::string::npos)
            << text;
        EXPECT_NE(text.find("Current date: 2025-08-05"), std::string::npos) << text;
        EXPECT_NE(text.find("<|start|>developer<|message|># Instructions\n\nAnswer in French.<|end|>"),
                  std::string::npos)
            << text;
    }
}

std::string text_of(const Message& message) {
    const auto* text = message.content.empty() ? nullptr : std::get_if<std::string>(&message.content[0]);
    return text != nullptr ? *text : "";
}

// system, developer, then `turns` exchanges (user, analysis, final), then the question being asked.
std::vector<Message> conversation(int turns) {
    std::vector<Message> messages;
    Message system;
    system.role = Role::kSystem;
    system.content.emplace_back(SystemContent{});
    messages.push_back(system);
    Message developer;
    developer.role = Role::kDeveloper;
    developer.content.emplace_back(DeveloperContent{"Be brief.", {}});
    messages.push_back(developer);
    for (int i = 0; i < turns; ++i) {
        messages.push_back(Message::text(Role::kUser, fmt::format("Question number {} about the weather?", i)));
        messages.push_back(
            Message::text(Role::kAssistant, fmt::format("Thinking about question {}.", i)).with_channel("analysis"));
        messages.push_back(
            Message::text(Role::kAssistant, fmt::format("Answer {}: it is sunny today.", i)).with_channel("final"));
    }
    messages.push_back(Message::text(Role::kUser, "And tomorrow?"));
    return messages;
}

TEST_F(ChatSessionTest, FittingKeepsSystemAndDeveloperAndDropsTheOldestTurns) {
    HarmonyRenderer renderer(model_->tokenizer());
    const std::vector<Message> original = conversation(6);
    auto full = renderer.render_for_completion(original, Role::kAssistant);
    ASSERT_TRUE(full.ok());
    const int64_t budget = static_cast<int64_t>(full->size()) - 40;

    std::vector<Message> messages = original;
    auto fitted = fit_prompt(messages, renderer, budget);
    ASSERT_TRUE(fitted.ok()) << fitted.error().to_string();
    EXPECT_LE(static_cast<int64_t>(fitted->tokens.size()), budget);
    EXPECT_EQ(fitted->report.truncated_tokens, 0);
    ASSERT_GT(fitted->report.dropped_messages, 0);
    // Whole exchanges go, oldest first: the history resumes at a user message.
    EXPECT_EQ(fitted->report.dropped_messages % 3, 0);
    ASSERT_EQ(messages.size(), original.size() - static_cast<size_t>(fitted->report.dropped_messages));
    EXPECT_EQ(messages[0].role, Role::kSystem);
    EXPECT_EQ(messages[1].role, Role::kDeveloper);
    EXPECT_EQ(messages[2].role, Role::kUser);
    EXPECT_TRUE(std::equal(messages.begin() + 2, messages.end(), original.end() - (messages.size() - 2),
                           [](const Message& a, const Message& b) { return text_of(a) == text_of(b); }));
    auto rendered = renderer.render_for_completion(messages, Role::kAssistant);
    ASSERT_TRUE(rendered.ok());
    EXPECT_EQ(*rendered, fitted->tokens);

    // No more than needed: keeping the last dropped exchange would not fit.
    std::vector<Message> one_more(original.begin(), original.begin() + 2);
    one_more.insert(one_more.end(), original.end() - static_cast<std::ptrdiff_t>(messages.size() - 2 + 3),
                    original.end());
    auto longer = renderer.render_for_completion(one_more, Role::kAssistant);
    ASSERT_TRUE(longer.ok());
    EXPECT_GT(static_cast<int64_t>(longer->size()), budget);

    // A prompt that already fits is left alone.
    std::vector<Message> untouched = original;
    auto roomy = fit_prompt(untouched, renderer, static_cast<int64_t>(full->size()));
    ASSERT_TRUE(roomy.ok());
    EXPECT_FALSE(roomy->report.trimmed());
    EXPECT_EQ(untouched.size(), original.size());
}

TEST_F(ChatSessionTest, FittingCutsTheFirstTokensWhenDroppingIsNotEnough) {
    HarmonyRenderer renderer(model_->tokenizer());
    std::vector<Message> messages = conversation(2);
    messages.back() = Message::text(Role::kUser, std::string(2000, 'x') + " end");
    auto full = renderer.render_for_completion(messages, Role::kAssistant);
    ASSERT_TRUE(full.ok());
    auto fitted = fit_prompt(messages, renderer, 100);
    ASSERT_TRUE(fitted.ok());
    EXPECT_EQ(fitted->report.dropped_messages, 6); // every earlier exchange
    ASSERT_EQ(messages.size(), 3u);
    ASSERT_EQ(fitted->tokens.size(), 100u);
    auto alone = renderer.render_for_completion(messages, Role::kAssistant);
    ASSERT_TRUE(alone.ok());
    EXPECT_EQ(fitted->report.truncated_tokens, static_cast<int64_t>(alone->size()) - 100);
    EXPECT_TRUE(std::equal(fitted->tokens.begin(), fitted->tokens.end(), alone->end() - 100));
}

TEST(LoopDetection, FiresOnEightRepeatsOfAShortPattern) {
    std::vector<TokenId> tokens = {1, 2, 3, 4, 5};
    for (int i = 0; i < 7; ++i) {
        tokens.insert(tokens.end(), {10, 11, 12});
    }
    EXPECT_FALSE(ends_in_repetition(tokens)); // seven copies
    tokens.insert(tokens.end(), {10, 11, 12});
    EXPECT_TRUE(ends_in_repetition(tokens));
    tokens.push_back(13);
    EXPECT_FALSE(ends_in_repetition(tokens)); // only at the end

    std::vector<TokenId> same(16, 42); // one token repeated: a two-token pattern eight times
    EXPECT_TRUE(ends_in_repetition(same));
    same.pop_back();
    EXPECT_FALSE(ends_in_repetition(same));

    std::vector<TokenId> eight_long; // 8 x 8 = 64: the longest pattern that fits the window
    for (int i = 0; i < 8; ++i) {
        eight_long.insert(eight_long.end(), {1, 2, 3, 4, 5, 6, 7, 8});
    }
    EXPECT_TRUE(ends_in_repetition(eight_long));
    std::vector<TokenId> nine_long;
    for (int i = 0; i < 8; ++i) {
        nine_long.insert(nine_long.end(), {1, 2, 3, 4, 5, 6, 7, 8, 9});
    }
    EXPECT_FALSE(ends_in_repetition(nine_long));
}

TEST_F(ChatSessionTest, LoopDetectionIgnoresOrdinaryText) {
    auto tokens = model_->tokenizer().encode_ordinary(
        "The capital of France is Paris. It lies on the Seine, and it has been the country's capital for "
        "most of the last thousand years. The city is known for its museums, its cafes and its bridges; "
        "the the the city also has a long history of science, with many universities and libraries. "
        "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20.");
    ASSERT_TRUE(tokens.ok());
    for (size_t end = 1; end <= tokens->size(); ++end) {
        EXPECT_FALSE(ends_in_repetition(std::span<const TokenId>(*tokens).first(end))) << end;
    }
}

TEST_F(ChatSessionTest, LaterTurnsFeedOnlyTheTokensAfterTheSharedPrefix) {
    auto session = make_session(options(1024, 6, 0.0f));
    ASSERT_NE(session, nullptr);
    std::atomic<bool> stop{false};
    const int32_t blocks = session->kv().pool().n_blocks();

    RecordingObserver first;
    auto reply = session->send("Hello there, how are you?", first, stop);
    ASSERT_TRUE(reply.ok()) << reply.error().to_string();
    EXPECT_EQ(reply->prompt.reused_tokens, 0);
    ASSERT_EQ(reply->generated_tokens, static_cast<int64_t>(first.tokens_.size()));
    ASSERT_GT(reply->generated_tokens, 0);
    EXPECT_GT(session->messages().size(), 3u); // the reply joined the history
    EXPECT_EQ(session->kv().pool().available(), blocks) << "a finished reply keeps no block (cached ones are free)";

    // The KV computed: the prompt and every generated token but the last, which was never fed back.
    std::vector<int32_t> computed = first.prompt_;
    computed.insert(computed.end(), first.tokens_.begin(), first.tokens_.end() - 1);
    RecordingObserver second;
    reply = session->send("Tell me more.", second, stop);
    ASSERT_TRUE(reply.ok()) << reply.error().to_string();
    const size_t shared = static_cast<size_t>(
        std::mismatch(second.prompt_.begin(), second.prompt_.end(), computed.begin(), computed.end()).first -
        second.prompt_.begin());
    // Everything up to the first turn's question is unchanged; whole blocks of it are reused, leaving at least the
    // prompt's last token to compute (its logits give the first token).
    EXPECT_GT(shared, first.prompt_.size() - 2);
    const auto block = static_cast<size_t>(session->kv().block_tokens());
    const auto reusable = static_cast<int64_t>(std::min(shared, second.prompt_.size() - 1) / block * block);
    EXPECT_GT(reusable, 0);
    EXPECT_EQ(reply->prompt.reused_tokens, reusable);
    EXPECT_EQ(session->kv().prefix_stats().reused_tokens, reusable);

    // The reused cache is the one a fresh prefill of the whole prompt builds: same greedy first token.
    auto sequence = model_->engine()->new_sequence(1024);
    ASSERT_TRUE(sequence.ok());
    std::vector<std::vector<float>> logits;
    const StepInput input{sequence->get(), second.prompt_, false};
    ASSERT_TRUE(model_->engine()->step(std::span<const StepInput>(&input, 1), logits).ok());
    EXPECT_EQ(Sampler(SamplingParams{}).sample(logits[0], 0), second.tokens_.at(0));
}

TEST_F(ChatSessionTest, StopFlagEndsGeneration) {
    auto session = make_session(options(1024, 200));
    ASSERT_NE(session, nullptr);
    std::atomic<bool> stop{false};
    RecordingObserver observer(&stop, 3);
    auto reply = session->send("Count to one hundred.", observer, stop);
    ASSERT_TRUE(reply.ok()) << reply.error().to_string();
    if (reply->stop == StopReason::kReturn || reply->stop == StopReason::kCall) {
        GTEST_SKIP() << "the random model stopped by itself within three tokens";
    }
    EXPECT_EQ(reply->stop, StopReason::kInterrupted);
    EXPECT_EQ(reply->generated_tokens, 3);
    const size_t after_first = session->messages().size();

    // Raised before the reply starts: nothing is generated and the question leaves the history.
    RecordingObserver idle;
    reply = session->send("Never mind.", idle, stop);
    ASSERT_TRUE(reply.ok());
    EXPECT_EQ(reply->stop, StopReason::kInterrupted);
    EXPECT_EQ(reply->generated_tokens, 0);
    EXPECT_TRUE(idle.tokens_.empty());
    EXPECT_EQ(session->messages().size(), after_first);
}

TEST_F(ChatSessionTest, LongConversationsAreTrimmedToTheContext) {
    auto session = make_session(options(200, 12));
    ASSERT_NE(session, nullptr);
    EXPECT_EQ(session->prompt_budget(), 188);
    std::atomic<bool> stop{false};
    bool trimmed = false;
    for (int turn = 0; turn < 12 && !trimmed; ++turn) {
        RecordingObserver observer;
        auto reply = session->send(fmt::format("This is message number {} of a long chat.", turn), observer, stop);
        ASSERT_TRUE(reply.ok()) << reply.error().to_string();
        EXPECT_LE(reply->prompt.prompt_tokens, session->prompt_budget());
        EXPECT_LE(reply->generated_tokens, 12);
        if (reply->prompt.trim.dropped_messages > 0) {
            trimmed = true;
            EXPECT_EQ(reply->prompt.trim.truncated_tokens, 0);
            // The history still starts with the system and developer messages, then a question.
            ASSERT_GE(session->messages().size(), 3u);
            EXPECT_EQ(session->messages()[0].role, Role::kSystem);
            EXPECT_EQ(session->messages()[1].role, Role::kDeveloper);
            EXPECT_EQ(session->messages()[2].role, Role::kUser);
            const std::string prompt = decode(observer.prompt_);
            EXPECT_NE(prompt.find(fmt::format("This is message number {} of", turn)), std::string::npos);
            EXPECT_EQ(prompt.find("This is message number 0 of"), std::string::npos);
        }
    }
    EXPECT_TRUE(trimmed);
}

TEST_F(ChatSessionTest, RejectsAContextTooSmallForAChat) {
    EXPECT_FALSE(ChatSession::create(*model_->engine(), model_->tokenizer(), options(8, 4)).ok());
    ChatOptions bad = options(256, 4);
    bad.sampling.temperature = -1.0f;
    EXPECT_FALSE(ChatSession::create(*model_->engine(), model_->tokenizer(), bad).ok());
}

TEST_F(ChatSessionTest, ToolAnswersMustBeToolMessagesAndStayWhenStoppedBeforeTheReply) {
    auto session = make_session(options(512, 4));
    std::atomic<bool> stop{false};
    RecordingObserver observer;
    EXPECT_FALSE(session->send_tool_results({}, observer, stop).ok());
    EXPECT_FALSE(session->send_tool_results({Message::text(Role::kUser, "not a tool")}, observer, stop).ok());
    Message nameless = Message::text(Role::kTool, "42");
    EXPECT_FALSE(session->send_tool_results({nameless}, observer, stop).ok());
    EXPECT_EQ(session->messages().size(), 2u) << "rejected answers never enter the history";

    Message answer = Message::text(Role::kTool, "42");
    answer.name = "python";
    answer.recipient = "assistant";
    answer.channel = "analysis";
    stop.store(true);
    auto reply = session->send_tool_results({answer}, observer, stop);
    ASSERT_TRUE(reply.ok()) << reply.error().to_string();
    EXPECT_EQ(reply->stop, StopReason::kInterrupted);
    ASSERT_EQ(session->messages().size(), 3u) << "the tool ran: its answer stays";
    EXPECT_EQ(session->messages().back().name, "python");
}

TEST_F(ChatSessionTest, ScriptedRepliesAreForcedThenSamplingResumes) {
    ChatOptions chat = options(512, 6, 0.0f);
    auto forced = model_->tokenizer().encode_with_special("<|channel|>final<|message|>Hi.<|return|>");
    ASSERT_TRUE(forced.ok());
    chat.scripted_replies.push_back(*forced);
    auto session = make_session(chat);
    std::atomic<bool> stop{false};
    RecordingObserver first;
    ASSERT_TRUE(session->send("Say hi.", first, stop).ok());
    EXPECT_EQ(first.tokens_, *forced);
    EXPECT_EQ(std::get<std::string>(session->messages().back().content.at(0)), "Hi.");
    RecordingObserver second;
    ASSERT_TRUE(session->send("Again.", second, stop).ok());
    EXPECT_NE(second.tokens_, *forced) << "the random model samples its own tokens once the script is used up";

    ChatOptions bad = options(512, 4);
    bad.scripted_replies.push_back({-1});
    EXPECT_FALSE(ChatSession::create(*model_->engine(), model_->tokenizer(), bad).ok());
}

} // namespace
} // namespace tllm
