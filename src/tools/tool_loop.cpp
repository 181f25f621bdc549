#include "tools/tool_loop.h"

namespace tllm::tools {
namespace {

// The call the reply ended with: its last message, when that is addressed to someone other than the user.
const Message* pending_call(const ChatSession& session) {
    const std::vector<Message>& messages = session.messages();
    if (messages.empty()) {
        return nullptr;
    }
    const Message& last = messages.back();
    if (last.role != Role::kAssistant || !last.recipient || last.recipient->empty() || *last.recipient == "user" ||
        *last.recipient == "all") {
        return nullptr;
    }
    return &last;
}

Message answer_without_tools(const Message& call) {
    Message answer = Message::text(Role::kTool, "Error: no tools are enabled in this chat, so " +
                                                    call.recipient.value() + " cannot be called.");
    answer.name = call.recipient;
    answer.recipient = "assistant";
    answer.channel = call.channel;
    return answer;
}

} // namespace

Result<TurnStats> run_chat_turn(ChatSession& session,
                                Toolbox* toolbox,
                                const std::string& user_text,
                                ToolLoopObserver& observer,
                                const std::atomic<bool>& stop,
                                int max_tool_calls) {
    TurnStats turn;
    TLLM_ASSIGN_OR_RETURN(ReplyStats stats, session.send(user_text, observer, stop));
    turn.replies.push_back(stats);
    observer.on_reply(stats);
    while (stats.stop == StopReason::kCall && !stop.load(std::memory_order_relaxed)) {
        const Message* call = pending_call(session);
        if (call == nullptr) {
            break; // <|call|> closed a message with no recipient: nothing to run
        }
        if (turn.tool_calls >= max_tool_calls) {
            turn.call_limit_reached = true;
            break;
        }
        ++turn.tool_calls;
        const Message call_copy = *call; // the history grows below
        observer.on_tool_call(call_copy);
        Message result = toolbox != nullptr ? toolbox->answer(call_copy, &stop) : answer_without_tools(call_copy);
        observer.on_tool_result(call_copy, result);
        // After a stop request this only records the answer (the call did run) and replies nothing.
        std::vector<Message> results;
        results.push_back(std::move(result));
        TLLM_ASSIGN_OR_RETURN(stats, session.send_tool_results(std::move(results), observer, stop));
        turn.replies.push_back(stats);
        observer.on_reply(stats);
    }
    return turn;
}

} // namespace tllm::tools
