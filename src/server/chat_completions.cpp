#include "server/chat_completions.h"

#include "chat/openai_request.h"
#include "chat/render.h"
#include "core/log.h"

#include <algorithm>
#include <fmt/format.h>

namespace tllm::server {
namespace {

using Json = nlohmann::ordered_json;

} // namespace

const char* chat_finish_name(ChatFinish finish) {
    switch (finish) {
    case ChatFinish::kStop:
        return "stop";
    case ChatFinish::kLength:
        return "length";
    case ChatFinish::kToolCalls:
        return "tool_calls";
    }
    return "stop";
}

Result<ChatCompletionJob>
parse_chat_completion(const Json& body, const Tokenizer& tokenizer, const ChatLimits& limits, uint64_t default_seed) {
    if (!body.is_object()) {
        return bad_request("the request body must be a JSON object");
    }
    ChatCompletionJob job;
    if (auto model = body.find("model"); model != body.end() && !model->is_null()) {
        if (!model->is_string() || model->get<std::string>().empty()) {
            return bad_request("model must be a non-empty string");
        }
        job.model = model->get<std::string>();
    }
    TLLM_ASSIGN_OR_RETURN(job.n, choices_field(body, limits));
    TLLM_ASSIGN_OR_RETURN(job.output.logprobs, bool_field(body, "logprobs", false));
    TLLM_ASSIGN_OR_RETURN(std::optional<int64_t> top_logprobs,
                          integer_field(body, "top_logprobs", 0, BatchEngine::kMaxTopLogprobs));
    if (top_logprobs && !job.output.logprobs) {
        return bad_request("top_logprobs needs logprobs: true");
    }
    // gpt-oss writes one call per message and <|call|> ends the turn, so a reply holds at most one call whichever
    // this says; it is checked and otherwise accepted.
    TLLM_RETURN_IF_ERROR(bool_field(body, "parallel_tool_calls", true));
    ChatRequestOptions render_options;
    render_options.conversation_start_date = limits.conversation_date;
    Json request = body;
    TLLM_ASSIGN_OR_RETURN(job.output.exclude_reasoning, reasoning_field(body, request));
    // Rendered with the tools first, which checks them, even where tool_choice "none" then leaves them out.
    TLLM_ASSIGN_OR_RETURN(std::vector<Message> messages, harmony_messages_from_chat_request(request, render_options));
    std::vector<std::string> function_names;
    for (const Json& tool : request.value("tools", Json::array())) {
        function_names.push_back(tool["function"]["name"].get<std::string>());
    }
    TLLM_ASSIGN_OR_RETURN(ToolChoice choice, tool_choice_field(body, function_names, tokenizer));
    if (!choice.declare_tools) {
        request.erase("tools");
        TLLM_ASSIGN_OR_RETURN(messages, harmony_messages_from_chat_request(request, render_options));
    }
    TLLM_ASSIGN_OR_RETURN(std::vector<TokenId> prompt,
                          HarmonyRenderer(tokenizer).render_for_completion(messages, Role::kAssistant));
    prompt.insert(prompt.end(), choice.forced_header.begin(), choice.forced_header.end());
    job.output.forced_header = std::move(choice.forced_header);
    TLLM_RETURN_IF_ERROR(
        fill_generation(body, {"max_completion_tokens", "max_tokens"}, prompt, limits, default_seed, job.request));
    job.request.top_logprobs = job.output.logprobs ? static_cast<int32_t>(top_logprobs.value_or(0)) : -1;
    TLLM_ASSIGN_OR_RETURN(job.stream, bool_field(body, "stream", false));
    TLLM_ASSIGN_OR_RETURN(job.include_usage, include_usage_field(body));
    TLLM_ASSIGN_OR_RETURN(job.output.stop_text, stop_field(body));
    return job;
}

ChatCompletionAssembler::ChatCompletionAssembler(const Tokenizer& tokenizer,
                                                 std::string id,
                                                 std::string model,
                                                 int64_t created,
                                                 ChatOutputOptions options,
                                                 int index)
    : tokenizer_(tokenizer), parser_(tokenizer, Role::kAssistant), id_(std::move(id)), model_(std::move(model)),
      created_(created), index_(index), exclude_reasoning_(options.exclude_reasoning), logprobs_(options.logprobs),
      content_(std::move(options.stop_text)) {
    for (TokenId token : options.forced_header) {
        parser_.push(token, pending_);
    }
}

Json ChatCompletionAssembler::chunk(Json delta) const {
    Json choice = {{"index", index_}, {"delta", std::move(delta)}, {"logprobs", nullptr}, {"finish_reason", nullptr}};
    return Json{{"id", id_},
                {"object", "chat.completion.chunk"},
                {"created", created_},
                {"model", model_},
                {"choices", Json::array({std::move(choice)})}};
}

bool ChatCompletionAssembler::on_token(const TokenEvent& token, std::vector<Json>& chunks) {
    ++completion_tokens_;
    cached_tokens_ += token.cached_prompt_tokens; // set on the first token only
    last_token_ = token.token;
    if (!role_sent_) {
        chunks.push_back(chunk({{"role", "assistant"}, {"content", ""}}));
        role_sent_ = true;
    }
    if (content_.stopped()) {
        return true;
    }
    std::vector<ParserEvent> events;
    events.swap(pending_);
    for (const ParserEvent& event : events) {
        handle(event, chunks);
    }
    // As vLLM does, log-probabilities are given for the tokens whose text lands in `content`: not for the
    // Harmony structure (<|channel|>, headers, <|end|>), reasoning or calls. A token waits in pending_entries_
    // until the parser says where its text went; a header that turns out malformed is content, its tokens too.
    if (logprobs_) {
        const Result<std::string_view> bytes = tokenizer_.token_bytes(token.token);
        pending_entries_.emplace_back(chat_logprob_entry(tokenizer_, token), bytes.ok() ? bytes->size() : 0);
    }
    events.clear();
    parser_.push(token.token, events);
    current_token_ = token.token;
    for (const ParserEvent& event : events) {
        handle(event, chunks);
    }
    current_token_ = -1;
    return content_.stopped();
}

bool ChatCompletionAssembler::in_content() const { return !(channel_ == "analysis" || recipient_); }

void ChatCompletionAssembler::handle(const ParserEvent& event, std::vector<Json>& chunks) {
    switch (event.type) {
    case ParserEventType::kMessageStart: {
        if (current_token_ == kTokenMessage && !event.message.degraded) {
            pending_entries_.clear(); // a header's tokens
        } else if (!pending_entries_.empty() && current_token_ >= 0 && tokenizer_.is_special(current_token_)) {
            // A header that never became one is text, but the token that ended it (<|message|>, <|end|>, ...)
            // brings none.
            pending_entries_.pop_back();
        }
        channel_ = event.message.channel;
        recipient_ = event.message.recipient;
        if (recipient_ && recipient_->starts_with("functions.")) {
            const size_t index = tool_calls_.size();
            // The choices of one reply share its id: a choice past the first names itself too.
            const std::string suffix = id_.substr(std::min<size_t>(id_.size(), 9)) +
                                       (index_ > 0 ? fmt::format("_c{}", index_) : std::string());
            Json call = {{"id", fmt::format("call_{}_{}", suffix, index)},
                         {"type", "function"},
                         {"function", {{"name", recipient_->substr(10)}, {"arguments", ""}}}};
            tool_calls_.push_back(call);
            call["index"] = index;
            chunks.push_back(chunk({{"tool_calls", Json::array({call})}}));
        }
        return;
    }
    case ParserEventType::kTextDelta: {
        if (!in_content()) {
            pending_entries_.clear(); // reasoning or a call's arguments
        }
        if (recipient_ && recipient_->starts_with("functions.")) {
            const size_t index = tool_calls_.size() - 1;
            tool_calls_[index]["function"]["arguments"] =
                tool_calls_[index]["function"]["arguments"].get<std::string>() + event.text;
            chunks.push_back(
                chunk({{"tool_calls", Json::array({{{"index", index}, {"function", {{"arguments", event.text}}}}})}}));
            return;
        }
        if (!in_content()) {
            if (!exclude_reasoning_) { // both names: vLLM's reasoning_content, OpenRouter's and newer clients'
                                       // reasoning
                reasoning_ += event.text;
                chunks.push_back(chunk({{"reasoning", event.text}, {"reasoning_content", event.text}}));
            }
            return;
        }
        // The final channel (and commentary preambles) are the reply.
        for (auto& [entry, length] : pending_entries_) {
            content_.add_token(std::move(entry), length);
        }
        pending_entries_.clear();
        content_.append(event.text);
        send_content(false, chunks);
        return;
    }
    case ParserEventType::kMessageEnd:
        pending_entries_.clear(); // the end token
        channel_.reset();
        recipient_.reset();
        return;
    case ParserEventType::kToolCall:
        return;
    case ParserEventType::kWarning:
        TLLM_LOG_WARN("chat completion {}: {}", id_, event.text);
        return;
    }
}

void ChatCompletionAssembler::send_content(bool end, std::vector<Json>& chunks) {
    Json entries = Json::array();
    const std::string text = content_.take(end, entries);
    if (text.empty() && entries.empty()) {
        return;
    }
    Json out = chunk({{"content", text}});
    if (logprobs_) {
        out["choices"][0]["logprobs"] = {{"content", std::move(entries)}, {"refusal", nullptr}};
    }
    chunks.push_back(std::move(out));
}

ChatFinish ChatCompletionAssembler::finish_reason(bool length) const {
    if (content_.stopped()) {
        return ChatFinish::kStop;
    }
    if (last_token_ == kTokenCall || !tool_calls_.empty()) {
        return ChatFinish::kToolCalls;
    }
    return length ? ChatFinish::kLength : ChatFinish::kStop;
}

void ChatCompletionAssembler::finish(std::vector<Json>& chunks) {
    if (finished_) {
        return;
    }
    finished_ = true;
    if (!content_.stopped()) {
        std::vector<ParserEvent> events;
        events.swap(pending_); // no token came
        parser_.finish(events);
        for (const ParserEvent& event : events) {
            handle(event, chunks);
        }
    }
    send_content(true, chunks);
}

Json ChatCompletionAssembler::finish_chunk(bool length, std::vector<Json>& chunks) {
    finish(chunks);
    Json last = chunk(Json::object());
    last["choices"][0]["finish_reason"] = chat_finish_name(finish_reason(length));
    return last;
}

Json ChatCompletionAssembler::usage_chunk(int64_t prompt_tokens) const {
    return server::usage_chunk(chunk(Json::object()), prompt_tokens, completion_tokens_, cached_tokens_);
}

Json ChatCompletionAssembler::response(bool length, int64_t prompt_tokens) {
    std::vector<Json> unused;
    finish(unused);
    const std::string& content = content_.text();
    Json message = {{"role", "assistant"},
                    {"content", content.empty() && !tool_calls_.empty() ? Json() : Json(content)}};
    if (!reasoning_.empty()) {
        message["reasoning"] = reasoning_;
        message["reasoning_content"] = reasoning_;
    }
    if (!tool_calls_.empty()) {
        message["tool_calls"] = tool_calls_;
    }
    Json choice = {{"index", index_},
                   {"message", std::move(message)},
                   {"logprobs", logprobs_ ? Json{{"content", content_.entries()}, {"refusal", nullptr}} : Json()},
                   {"finish_reason", chat_finish_name(finish_reason(length))}};
    return Json{{"id", id_},
                {"object", "chat.completion"},
                {"created", created_},
                {"model", model_},
                {"choices", Json::array({std::move(choice)})},
                {"usage", usage_object(prompt_tokens, completion_tokens_, cached_tokens_)}};
}

} // namespace tllm::server
