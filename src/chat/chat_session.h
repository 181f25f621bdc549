// A chat conversation with a gpt-oss model: the history as Harmony messages, rendered to tokens for each
// reply; the history trimmed to fit the context (TritonLLM 0.1.1's rule); each reply one request of the batched
// engine (runtime/batch_engine.h, as the server runs them), whose prefix cache gives a turn the KV of the whole
// blocks of the rendered prompt that did not change; generation streamed token by token, ending at
// <|return|>/<|call|>, the reply limit, a full context, a repetition loop, or when the caller asks.
// Nothing here touches a terminal, so the whole session runs in unit tests.
#pragma once

#include "chat/message.h"
#include "chat/parser.h"
#include "chat/render.h"
#include "core/result.h"
#include "runtime/batch_engine.h"
#include "runtime/engine.h"
#include "runtime/sampler.h"
#include "tokenizer/tokenizer.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace tllm {

struct ChatOptions {
    ReasoningEffort reasoning_effort = ReasoningEffort::kHigh; // TritonLLM's default (the reference's is low)
    // TritonLLM always sends a developer message, even with empty instructions.
    std::string developer_message;
    // Built-in tools (browser, python) go into the system message, function tools into the developer message.
    ToolNamespaces builtin_tools;
    std::vector<ToolDescription> function_tools;
    // "YYYY-MM-DD" for the system message. Fixed for the session: a date that changed at midnight would
    // change the first tokens of every prompt and throw the whole KV cache away.
    std::string conversation_date;
    int64_t context = 0;    // KV cache positions; 0: the model's maximum
    int64_t max_tokens = 0; // per reply; 0: until the context is full
    SamplingParams sampling;
    // Teacher forcing, for tests of what surrounds the model (the tool loop, the terminal): the next replies'
    // tokens, in order, taken instead of sampled ones. The model still runs over each of them, so the KV
    // cache and everything after is as if it had sampled them. Sampling resumes when they run out.
    std::vector<std::vector<TokenId>> scripted_replies;
};

enum class StopReason {
    kReturn,      // <|return|>: the final answer is complete
    kCall,        // <|call|>: the model called a tool
    kMaxTokens,   // the reply reached ChatOptions::max_tokens
    kContextFull, // no room for another token
    kLoop,        // the reply repeats a short pattern (see ends_in_repetition)
    kInterrupted, // the stop flag was set
};
const char* stop_reason_name(StopReason reason);

// What fitting the history into the prompt budget did.
struct TrimReport {
    int dropped_messages = 0;
    int64_t truncated_tokens = 0; // cut from the prompt's start when dropping messages was not enough
    bool trimmed() const { return dropped_messages > 0 || truncated_tokens > 0; }
};

struct PromptInfo {
    TrimReport trim;
    int64_t prompt_tokens = 0;
    int64_t reused_tokens = 0; // positions whose KV the prefix cache kept from earlier turns (known once the
                               // reply's first token is: 0 in ChatObserver::on_prompt)
    int64_t budget = 0;        // the most tokens a prompt may have
};

struct ReplyStats {
    PromptInfo prompt;
    int64_t generated_tokens = 0;
    double prefill_seconds = 0.0;
    double decode_seconds = 0.0; // from the first sampled token to the last
    double total_seconds = 0.0;  // from the call to the last token: rendering, prefill and decoding
    StopReason stop = StopReason::kReturn;

    // TritonLLM 0.1.1's two rates: tokens after the first over the decode loop's time, and every
    // generated token over the whole reply's time.
    double decode_tokens_per_second() const;
    double end_to_end_tokens_per_second() const;
};

// Receives a reply as it is generated. Calls come from the thread that called ChatSession::send.
class ChatObserver {
  public:
    virtual ~ChatObserver() = default;
    // Before the prompt is processed; `prompt` is the full prompt (after trimming).
    virtual void on_prompt(const PromptInfo& info, std::span<const TokenId> prompt) {
        (void)info;
        (void)prompt;
    }
    // Each sampled token, stop tokens included, before its parser events.
    virtual void on_token(TokenId token) { (void)token; }
    // What the streaming Harmony parser made of the tokens so far.
    virtual void on_events(std::span<const ParserEvent> events) { (void)events; }
};

class ChatSession {
  public:
    // `engine` and `tokenizer` must outlive the session.
    static Result<std::unique_ptr<ChatSession>>
    create(Engine& engine, const Tokenizer& tokenizer, const ChatOptions& options);

    // Adds the user's message, trims the history to fit, generates the reply (streamed to `observer`) and
    // adds the reply's messages to the history, also when it was cut short. `stop` is polled between
    // prefill chunks and between tokens; when it is set before any token is sampled, the user's message
    // is taken back out of the history.
    Result<ReplyStats> send(const std::string& user_text, ChatObserver& observer, const std::atomic<bool>& stop);
    // Adds the answers to the model's tool call (Role::kTool messages) and generates the model's next reply.
    // Unlike a user message, a tool's answer stays in the history when `stop` cuts the reply off before it
    // starts: the call did run.
    Result<ReplyStats>
    send_tool_results(std::vector<Message> results, ChatObserver& observer, const std::atomic<bool>& stop);

    const std::vector<Message>& messages() const { return messages_; }
    const ChatOptions& options() const { return options_; }
    int64_t context() const { return context_; }
    // The KV cache's books: its blocks and what the prefix cache gave.
    const KvCacheManager& kv() const { return batch_->kv(); }
    // Prompts longer than this are trimmed: the context less the room kept for a reply.
    int64_t prompt_budget() const;

    // The system and developer messages as tokens (what --raw shows at start-up).
    Result<std::vector<TokenId>> render_preamble() const;

  private:
    ChatSession(Engine& engine, const Tokenizer& tokenizer, const ChatOptions& options);
    // Appends `added`, then renders, prefills and generates; on an interrupt before the first token, takes
    // `added` back out when `keep_on_interrupt` is false.
    Result<ReplyStats>
    reply_to(std::vector<Message> added, bool keep_on_interrupt, ChatObserver& observer, const std::atomic<bool>& stop);

    Engine* engine_;
    const Tokenizer* tokenizer_;
    HarmonyRenderer renderer_;
    ChatOptions options_;
    std::unique_ptr<BatchEngine> batch_;
    int64_t context_ = 0;
    std::vector<Message> messages_;
    uint64_t next_request_id_ = 1; // one request per reply
    size_t scripted_replies_used_ = 0;
};

// The prompt for the assistant's next message, with `messages` trimmed to fit `budget` tokens (TritonLLM
// 0.1.1): the leading system and developer messages stay; the oldest other messages are dropped, then more
// until the first one kept is a user or tool message; the last message is never dropped. If that is still
// too long, the prompt's first tokens are cut off.
struct FittedPrompt {
    std::vector<TokenId> tokens;
    TrimReport report;
};
Result<FittedPrompt> fit_prompt(std::vector<Message>& messages,
                                const HarmonyRenderer& renderer,
                                int64_t budget,
                                const RenderConfig& config = {});

// TritonLLM's loop stop: true when `tokens` end with kLoopRepeats consecutive copies of one pattern of
// kLoopMinPattern to kLoopMaxPattern tokens (all within the last kLoopWindow tokens).
inline constexpr int kLoopRepeats = 8;
inline constexpr int kLoopMinPattern = 2;
inline constexpr int kLoopMaxPattern = 8;
inline constexpr int kLoopWindow = 64;
bool ends_in_repetition(std::span<const TokenId> tokens);

// The harmony message a parsed one becomes in the history.
Message to_message(const ParsedMessage& parsed);

} // namespace tllm
