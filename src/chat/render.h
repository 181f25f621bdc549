// Harmony rendering: messages -> token ids, piece by piece exactly as openai/harmony does it (every
// formatting token is its own special id; every text piece is a separate ordinary encoding, so content
// can never inject control tokens).
#pragma once

#include "chat/message.h"
#include "core/result.h"
#include "tokenizer/tokenizer.h"

#include <span>
#include <vector>

namespace tllm {

struct RenderConfig {
    // Drop chain of thought as the library does: when the last assistant message is on the final
    // channel, skip analysis messages before the first final message. Python's default (gpt-oss chat.py).
    bool auto_drop_analysis = true;
};

class HarmonyRenderer {
  public:
    explicit HarmonyRenderer(const Tokenizer& tokenizer) : tokenizer_(&tokenizer) {}

    // One message; `conversation_has_function_tools` adds the functions line to a system message.
    Status
    render_message(const Message& message, bool conversation_has_function_tools, std::vector<TokenId>& out) const;
    Result<std::vector<TokenId>> render_conversation(std::span<const Message> messages,
                                                     const RenderConfig& config = {}) const;
    // The prompt: the conversation, then <|start|>{next_role} (e.g. "<|start|>assistant").
    Result<std::vector<TokenId>>
    render_for_completion(std::span<const Message> messages, Role next_role, const RenderConfig& config = {}) const;
    // For training targets: a final assistant message ends with <|return|> instead of <|end|>.
    Result<std::vector<TokenId>> render_for_training(std::span<const Message> messages,
                                                     const RenderConfig& config = {}) const;

    // The text the system/developer contents render to.
    static std::string system_text(const SystemContent& system, bool conversation_has_function_tools);
    static std::string developer_text(const DeveloperContent& developer);

  private:
    Status append_text(std::string_view text, std::vector<TokenId>& out) const;
    const Tokenizer* tokenizer_;
};

// Stop tokens: a message ends at any of these; sampling for the assistant stops at <|return|>/<|call|>.
inline constexpr TokenId kHarmonyStopTokens[] = {kTokenReturn, kTokenCall, kTokenEnd};
inline constexpr TokenId kHarmonyAssistantStopTokens[] = {kTokenReturn, kTokenCall};

} // namespace tllm
