// One user turn with tools: the model's reply, and while it ends by calling a tool, the tool's answer fed
// back and the model's next reply (gpt-oss chat.py's loop), until it answers, is stopped, or has made too
// many calls in a row.
#pragma once

#include "chat/chat_session.h"
#include "tools/toolbox.h"

#include <atomic>
#include <string>
#include <vector>

namespace tllm::tools {

class ToolLoopObserver : public ChatObserver {
  public:
    // After each of the turn's replies, with its statistics.
    virtual void on_reply(const ReplyStats& stats) { (void)stats; }
    // Before a call runs, and with its answer once it has.
    virtual void on_tool_call(const Message& call) { (void)call; }
    virtual void on_tool_result(const Message& call, const Message& result) {
        (void)call;
        (void)result;
    }
};

struct TurnStats {
    std::vector<ReplyStats> replies;
    int tool_calls = 0;
    // The turn ended because the model kept calling tools (kMaxToolCallsPerTurn); it can be asked to go on.
    bool call_limit_reached = false;
    StopReason stop() const { return replies.empty() ? StopReason::kInterrupted : replies.back().stop; }
};

// A bound on calls in one turn, so a model that calls tools forever does not run forever.
inline constexpr int kMaxToolCallsPerTurn = 32;

// Without a toolbox every call is answered that no tools are enabled.
Result<TurnStats> run_chat_turn(ChatSession& session,
                                Toolbox* toolbox,
                                const std::string& user_text,
                                ToolLoopObserver& observer,
                                const std::atomic<bool>& stop,
                                int max_tool_calls = kMaxToolCallsPerTurn);

} // namespace tllm::tools
