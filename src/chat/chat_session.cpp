#include "chat/chat_session.h"

#include "core/check.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <optional>

namespace tllm {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point start, Clock::time_point end) {
    return std::chrono::duration<double>(end - start).count();
}

bool is_preamble(const Message& message) { return message.role == Role::kSystem || message.role == Role::kDeveloper; }

// History may only resume at a message that opens an exchange: a user's question or a tool's answer.
// Starting at an assistant message would leave a reply without the message it answers.
bool opens_exchange(const Message& message) { return message.role == Role::kUser || message.role == Role::kTool; }

bool is_assistant_stop(TokenId token) {
    return std::find(std::begin(kHarmonyAssistantStopTokens), std::end(kHarmonyAssistantStopTokens), token) !=
           std::end(kHarmonyAssistantStopTokens);
}

} // namespace

const char* stop_reason_name(StopReason reason) {
    switch (reason) {
    case StopReason::kReturn:
        return "return";
    case StopReason::kCall:
        return "call";
    case StopReason::kMaxTokens:
        return "max_tokens";
    case StopReason::kContextFull:
        return "context_full";
    case StopReason::kLoop:
        return "loop";
    case StopReason::kInterrupted:
        return "interrupted";
    }
    return "unknown";
}

double ReplyStats::decode_tokens_per_second() const {
    return generated_tokens > 1 && decode_seconds > 0.0 ? static_cast<double>(generated_tokens - 1) / decode_seconds
                                                        : 0.0;
}

double ReplyStats::end_to_end_tokens_per_second() const {
    return total_seconds > 0.0 ? static_cast<double>(generated_tokens) / total_seconds : 0.0;
}

bool ends_in_repetition(std::span<const TokenId> tokens) {
    const auto window = tokens.last(std::min<size_t>(tokens.size(), kLoopWindow));
    for (size_t pattern = kLoopMinPattern; pattern <= kLoopMaxPattern; ++pattern) {
        const size_t span = pattern * kLoopRepeats;
        if (span > window.size()) {
            break;
        }
        const auto tail = window.last(span);
        // Every token equals the one a pattern length later: the tail is copies of its first `pattern` tokens.
        if (std::equal(tail.begin() + static_cast<std::ptrdiff_t>(pattern), tail.end(), tail.begin())) {
            return true;
        }
    }
    return false;
}

Message to_message(const ParsedMessage& parsed) {
    Message message = Message::text(parsed.role, parsed.text);
    message.name = parsed.name;
    message.recipient = parsed.recipient;
    message.channel = parsed.channel;
    message.content_type = parsed.content_type;
    // A tool message renders under its tool's name; without one it could never be rendered again, and
    // every later prompt would fail. Keep the text as the assistant's instead.
    if (message.role == Role::kTool && (!message.name || message.name->empty())) {
        message.role = Role::kAssistant;
        message.name.reset();
    }
    return message;
}

Result<FittedPrompt> fit_prompt(std::vector<Message>& messages,
                                const HarmonyRenderer& renderer,
                                int64_t budget,
                                const RenderConfig& config) {
    TLLM_CHECK(budget > 0, "prompt budget {}", budget);
    size_t leading = 0;
    while (leading < messages.size() && is_preamble(messages[leading])) {
        ++leading;
    }
    auto rendered_length = [&](const Message& message) -> Result<int64_t> {
        std::vector<TokenId> tokens;
        TLLM_RETURN_IF_ERROR(renderer.render_message(message, false, tokens));
        return static_cast<int64_t>(tokens.size());
    };
    // The last message (the one being answered) always stays.
    auto droppable = [&](size_t index) { return index >= leading && index + 1 < messages.size(); };

    FittedPrompt fitted;
    while (true) {
        TLLM_ASSIGN_OR_RETURN(fitted.tokens, renderer.render_for_completion(messages, Role::kAssistant, config));
        const int64_t excess = static_cast<int64_t>(fitted.tokens.size()) - budget;
        if (excess <= 0) {
            return fitted;
        }
        if (!droppable(leading)) {
            break;
        }
        // A message's own rendering bounds what dropping it saves (less when the analysis rule already
        // left it out), so drop until that bound covers the excess, then render again to check: never
        // more than dropping one message at a time would, in a render or two instead of one per message.
        size_t end = leading;
        int64_t freed = 0;
        while (freed < excess && droppable(end)) {
            do {
                TLLM_ASSIGN_OR_RETURN(int64_t length, rendered_length(messages[end]));
                freed += length;
                ++end;
            } while (droppable(end) && !opens_exchange(messages[end]));
        }
        messages.erase(messages.begin() + static_cast<std::ptrdiff_t>(leading),
                       messages.begin() + static_cast<std::ptrdiff_t>(end));
        fitted.report.dropped_messages += static_cast<int>(end - leading);
    }
    const int64_t excess = static_cast<int64_t>(fitted.tokens.size()) - budget;
    fitted.tokens.erase(fitted.tokens.begin(), fitted.tokens.begin() + excess);
    fitted.report.truncated_tokens = excess;
    return fitted;
}

ChatSession::ChatSession(Engine& engine, const Tokenizer& tokenizer, const ChatOptions& options)
    : engine_(&engine), tokenizer_(&tokenizer), renderer_(tokenizer), options_(options) {}

Result<std::unique_ptr<ChatSession>>
ChatSession::create(Engine& engine, const Tokenizer& tokenizer, const ChatOptions& options) {
    TLLM_RETURN_IF_ERROR(validate_sampling_params(options.sampling));
    if (options.context < 0 || options.max_tokens < 0) {
        return make_error(ErrorCode::kInvalidArgument, "context ({}) and max_tokens ({}) must not be negative",
                          options.context, options.max_tokens);
    }
    if (tokenizer.n_vocab() > engine.config().vocab_size) {
        return make_error(ErrorCode::kInvalidArgument,
                          "the model's vocabulary ({} ids) is smaller than the tokenizer's ({}): Harmony's special "
                          "tokens would be outside it",
                          engine.config().vocab_size, tokenizer.n_vocab());
    }
    for (const std::vector<TokenId>& reply : options.scripted_replies) {
        for (const TokenId token : reply) {
            if (token < 0 || token >= engine.config().vocab_size) {
                return make_error(ErrorCode::kInvalidArgument, "scripted token {} is outside the vocabulary", token);
            }
        }
    }
    std::unique_ptr<ChatSession> session(new ChatSession(engine, tokenizer, options));
    session->context_ = engine.context_limit(options.context);
    // A context this small could not hold the system message and still leave room for a reply.
    constexpr int64_t kMinContext = 16;
    if (session->context() < kMinContext) {
        return make_error(ErrorCode::kInvalidArgument, "a context of {} tokens is too small for a chat (at least {})",
                          session->context(), kMinContext);
    }
    // The replies run through the batched engine, as the server's requests do: a batch of one over a paged cache
    // that holds one conversation at the full context, whose prefix cache gives each turn the earlier turns' KV.
    TLLM_ASSIGN_OR_RETURN(const BatchEngineOptions batch, BatchEngine::one_sequence_options(engine, session->context_));
    TLLM_ASSIGN_OR_RETURN(session->batch_, BatchEngine::create(engine, batch));

    SystemContent system;
    system.reasoning_effort = options.reasoning_effort;
    system.conversation_start_date = options.conversation_date;
    system.tools = options.builtin_tools;
    Message system_message;
    system_message.role = Role::kSystem;
    system_message.content.emplace_back(std::move(system));
    session->messages_.push_back(std::move(system_message));

    DeveloperContent developer;
    developer.instructions = options.developer_message;
    if (!options.function_tools.empty()) {
        developer.with_function_tools(options.function_tools);
    }
    Message developer_message;
    developer_message.role = Role::kDeveloper;
    developer_message.content.emplace_back(std::move(developer));
    session->messages_.push_back(std::move(developer_message));
    return session;
}

int64_t ChatSession::prompt_budget() const {
    const int64_t context = context_;
    // Without a reply limit, keep a quarter of the context (at most 16k tokens) for the reply.
    constexpr int64_t kMaxDefaultReserve = 16384;
    const int64_t wanted = options_.max_tokens > 0 ? options_.max_tokens : std::min(context / 4, kMaxDefaultReserve);
    return context - std::max<int64_t>(1, std::min(wanted, context / 2));
}

Result<std::vector<TokenId>> ChatSession::render_preamble() const {
    size_t leading = 0;
    while (leading < messages_.size() && is_preamble(messages_[leading])) {
        ++leading;
    }
    return renderer_.render_conversation(std::span<const Message>(messages_).first(leading));
}

Result<ReplyStats>
ChatSession::send(const std::string& user_text, ChatObserver& observer, const std::atomic<bool>& stop) {
    std::vector<Message> added;
    added.push_back(Message::text(Role::kUser, user_text));
    // Nothing was answered when a stop comes before the first token: the question never happened.
    return reply_to(std::move(added), false, observer, stop);
}

Result<ReplyStats>
ChatSession::send_tool_results(std::vector<Message> results, ChatObserver& observer, const std::atomic<bool>& stop) {
    for (const Message& result : results) {
        if (result.role != Role::kTool || !result.name || result.name->empty()) {
            return make_error(ErrorCode::kInvalidArgument, "a tool's answer needs the tool role and the tool's name");
        }
    }
    if (results.empty()) {
        return make_error(ErrorCode::kInvalidArgument, "no tool results to send");
    }
    return reply_to(std::move(results), true, observer, stop);
}

Result<ReplyStats> ChatSession::reply_to(std::vector<Message> added,
                                         bool keep_on_interrupt,
                                         ChatObserver& observer,
                                         const std::atomic<bool>& stop) {
    const Clock::time_point start = Clock::now();
    const size_t added_count = added.size();
    for (Message& message : added) {
        messages_.push_back(std::move(message));
    }
    // Fitting never drops the last message, but may drop the earlier ones just added; whatever of them is
    // left sits at the end.
    auto take_back = [&] {
        const size_t first_added = messages_.size() >= added_count ? messages_.size() - added_count : 0;
        size_t keep = first_added;
        while (keep < messages_.size() && is_preamble(messages_[keep])) {
            ++keep;
        }
        messages_.erase(messages_.begin() + static_cast<std::ptrdiff_t>(keep), messages_.end());
    };
    Result<FittedPrompt> fitted = fit_prompt(messages_, renderer_, prompt_budget());
    if (!fitted.ok()) {
        take_back();
        return fitted.error();
    }
    const std::vector<TokenId>& prompt = fitted->tokens;
    ReplyStats stats;
    stats.prompt = {fitted->report, static_cast<int64_t>(prompt.size()), 0, prompt_budget()};
    observer.on_prompt(stats.prompt, prompt);

    HarmonyStreamParser parser(*tokenizer_, Role::kAssistant);
    std::vector<ParserEvent> events;
    std::vector<TokenId> generated;
    // Each token of the reply, sampled or scripted: streamed, parsed, and checked for the reply's end.
    auto take = [&](TokenId token) -> std::optional<StopReason> {
        generated.push_back(token);
        observer.on_token(token);
        events.clear();
        parser.push(token, events);
        observer.on_events(events);
        if (is_assistant_stop(token)) {
            return token == kTokenCall ? StopReason::kCall : StopReason::kReturn;
        }
        if (options_.max_tokens > 0 && static_cast<int64_t>(generated.size()) >= options_.max_tokens) {
            return StopReason::kMaxTokens;
        }
        if (ends_in_repetition(generated)) {
            return StopReason::kLoop;
        }
        if (stop.load(std::memory_order_relaxed)) {
            return StopReason::kInterrupted;
        }
        if (static_cast<int64_t>(prompt.size() + generated.size()) >= context_) {
            return StopReason::kContextFull;
        }
        return std::nullopt;
    };
    auto finish = [&](StopReason reason) {
        events.clear();
        parser.finish(events);
        observer.on_events(events);
        for (const ParsedMessage& parsed : parser.messages()) {
            messages_.push_back(to_message(parsed));
        }
        const Clock::time_point end = Clock::now();
        stats.stop = reason;
        stats.generated_tokens = static_cast<int64_t>(generated.size());
        stats.total_seconds = seconds_between(start, end);
        return stats;
    };

    if (stop.load(std::memory_order_relaxed)) {
        if (!keep_on_interrupt) {
            take_back();
        }
        stats.stop = StopReason::kInterrupted;
        stats.total_seconds = seconds_between(start, Clock::now());
        return stats;
    }
    // Teacher forcing: the script's tokens join the request's prompt, so the model runs over them as if it had
    // sampled them, and samples on from there when they run out. A script that ends the reply still has the model
    // run over it (one token sampled and dropped): the next turn finds its KV cached, as after a sampled reply.
    std::span<const TokenId> script;
    if (scripted_replies_used_ < options_.scripted_replies.size()) {
        script = options_.scripted_replies[scripted_replies_used_++];
    }
    std::vector<int32_t> request_prompt = prompt;
    std::optional<StopReason> reason;
    for (const TokenId token : script) {
        if ((reason = take(token))) {
            break;
        }
        request_prompt.push_back(token);
    }
    const bool scripted_end = reason.has_value();
    if (reason == StopReason::kInterrupted) {
        return finish(*reason);
    }

    BatchRequest request;
    request.id = next_request_id_++;
    request.prompt = std::move(request_prompt);
    request.max_new_tokens = static_cast<int32_t>(
        std::min<int64_t>(context_ - static_cast<int64_t>(request.prompt.size()), std::numeric_limits<int32_t>::max()));
    if (scripted_end) {
        request.max_new_tokens = 1;
    } else if (options_.max_tokens > 0) {
        request.max_new_tokens = static_cast<int32_t>(
            std::min<int64_t>(request.max_new_tokens, options_.max_tokens - static_cast<int64_t>(generated.size())));
    }
    request.stop_tokens.assign(std::begin(kHarmonyAssistantStopTokens), std::end(kHarmonyAssistantStopTokens));
    request.sampling = options_.sampling;
    // Every reply draws its own random numbers: the engine counts a request's tokens from 0.
    request.sampling.seed = options_.sampling.seed + request.id;
    const uint64_t id = request.id;
    TLLM_RETURN_IF_ERROR(batch_->submit(std::move(request)));

    std::vector<TokenEvent> tokens;
    std::vector<FinishedRequest> finished;
    bool first = true;
    Clock::time_point decode_start = Clock::now();
    while (true) {
        if (stop.load(std::memory_order_relaxed)) {
            reason = reason.value_or(StopReason::kInterrupted);
            break;
        }
        tokens.clear();
        finished.clear();
        if (Status status = batch_->step(tokens, finished); !status.ok()) {
            batch_->cancel(id, finished);
            return status.error();
        }
        for (const TokenEvent& event : tokens) {
            if (first) {
                first = false;
                decode_start = Clock::now();
                stats.prefill_seconds = seconds_between(start, decode_start);
                stats.prompt.reused_tokens = event.cached_prompt_tokens;
            }
            if (!reason) {
                reason = take(event.token);
            }
        }
        if (!finished.empty() || (reason && !scripted_end)) {
            break;
        }
    }
    if (!reason) { // the engine ended the request at its length, where take() saw no reason to stop
        reason = options_.max_tokens > 0 && static_cast<int64_t>(generated.size()) >= options_.max_tokens
                     ? StopReason::kMaxTokens
                     : StopReason::kContextFull;
    }
    // The request is over for the session whatever the engine still has in flight for it.
    batch_->cancel(id, finished);
    while (!batch_->idle()) {
        tokens.clear();
        TLLM_RETURN_IF_ERROR(batch_->step(tokens, finished));
    }
    if (generated.empty() && *reason == StopReason::kInterrupted) {
        if (!keep_on_interrupt) {
            take_back();
        }
        stats.stop = StopReason::kInterrupted;
        stats.total_seconds = seconds_between(start, Clock::now());
        return stats;
    }
    ReplyStats done = finish(*reason);
    done.decode_seconds = seconds_between(decode_start, Clock::now());
    return done;
}

} // namespace tllm
