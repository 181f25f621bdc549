#include "server/responses_output.h"

#include "core/log.h"
#include "server/responses_replay.h"

#include <fmt/format.h>

namespace tllm::server {

using Json = nlohmann::ordered_json;

ResponseAssembler::ResponseAssembler(const Tokenizer& tokenizer,
                                     ResponseInfo info,
                                     std::span<const TokenId> forced_header)
    : tokenizer_(&tokenizer), parser_(tokenizer, Role::kAssistant), info_(std::move(info)) {
    const size_t underscore = info_.id.find('_');
    base_ = underscore == std::string::npos ? info_.id : info_.id.substr(underscore + 1);
    for (TokenId token : forced_header) {
        parser_.push(token, pending_);
    }
}

void ResponseAssembler::handle_pending(std::vector<Json>& events) {
    std::vector<ParserEvent> pending;
    pending.swap(pending_);
    for (const ParserEvent& e : pending) {
        handle(e, events);
    }
}

std::string ResponseAssembler::sse(const Json& event) {
    return fmt::format("event: {}\ndata: {}\n\n", event["type"].get<std::string>(), event.dump());
}

Json ResponseAssembler::event(const char* type, Json fields) {
    Json out = {{"type", type}, {"sequence_number", sequence_++}};
    for (auto& [key, value] : fields.items()) {
        out[key] = std::move(value);
    }
    return out;
}

Json ResponseAssembler::response() const {
    Json out = {{"id", info_.id},      {"object", "response"}, {"created_at", info_.created_at}, {"status", status_},
                {"background", false}, {"error", error_},      {"incomplete_details", nullptr},  {"model", info_.model},
                {"output", output_}};
    if (status_ == "incomplete") {
        out["incomplete_details"] = {{"reason", "max_output_tokens"}};
    }
    for (const auto& [key, value] : info_.echo.items()) {
        out[key] = value;
    }
    out["usage"] = nullptr;
    if (ended_) {
        out["usage"] = {{"input_tokens", info_.input_tokens},
                        {"input_tokens_details", {{"cached_tokens", info_.cached_tokens}}},
                        {"output_tokens", output_tokens_},
                        {"output_tokens_details", {{"reasoning_tokens", reasoning_tokens_}}},
                        {"total_tokens", info_.input_tokens + output_tokens_}};
    }
    out["user"] = nullptr;
    return out;
}

void ResponseAssembler::start(std::vector<Json>& events) {
    events.push_back(event("response.created", {{"response", response()}}));
    events.push_back(event("response.in_progress", {{"response", response()}}));
    handle_pending(events);
}

void ResponseAssembler::on_token(TokenId token, std::vector<Json>& events) {
    if (ended_) {
        return;
    }
    ++output_tokens_;
    handle_pending(events);
    const bool reasoning_before = open_ == Item::kReasoning;
    std::vector<ParserEvent> parsed;
    parser_.push(token, parsed);
    for (const ParserEvent& e : parsed) {
        handle(e, events);
    }
    if (reasoning_before || open_ == Item::kReasoning) {
        ++reasoning_tokens_;
    }
}

Json ResponseAssembler::where(bool content) const {
    Json out = {{"item_id", output_.back()["id"]}, {"output_index", output_.size() - 1}};
    if (content) {
        out["content_index"] = 0;
    }
    return out;
}

Json ResponseAssembler::part() const {
    if (open_ == Item::kReasoning) {
        return {{"type", "reasoning_text"}, {"text", text_}};
    }
    return {{"type", "output_text"}, {"text", text_}, {"annotations", annotations_}};
}

void ResponseAssembler::open_item(Item kind, const ParsedMessage& header, std::vector<Json>& events) {
    const size_t index = output_.size();
    Json item;
    switch (kind) {
    case Item::kReasoning:
        item = {{"id", fmt::format("rs_{}{:02x}", base_, index)},
                {"type", "reasoning"},
                {"summary", Json::array()},
                {"content", Json::array()},
                {"status", "in_progress"}};
        break;
    case Item::kMessage:
        item = {{"id", fmt::format("msg_{}{:02x}", base_, index)},
                {"type", "message"},
                {"role", "assistant"},
                {"status", "in_progress"},
                {"content", Json::array()}};
        break;
    case Item::kFunctionCall:
        item = {{"id", fmt::format("fc_{}{:02x}", base_, index)},
                {"type", "function_call"},
                {"call_id", fmt::format("call_{}{:02x}", base_, index)},
                {"name", header.recipient->substr(10)},
                {"arguments", ""},
                {"status", "in_progress"}};
        break;
    case Item::kWebSearch:
    case Item::kCodeInterpreter:
        open_tool_item(kind, fmt::format("{}_{}{:02x}", kind == Item::kWebSearch ? "ws" : "ci", base_, index), events);
        return;
    case Item::kNone:
        return;
    }
    output_.push_back(item);
    open_ = kind;
    text_.clear();
    raw_.clear();
    annotations_ = Json::array();
    events.push_back(event("response.output_item.added", {{"output_index", index}, {"item", std::move(item)}}));
    if (kind != Item::kFunctionCall) {
        Json fields = where(true);
        fields["part"] = part();
        events.push_back(event("response.content_part.added", std::move(fields)));
    }
}

void ResponseAssembler::add_text(const std::string& text, std::vector<Json>& events) {
    if (text.empty()) {
        return;
    }
    if (open_ == Item::kNone) { // the parser starts every message before its text; this is a safety net
        open_item(Item::kMessage, ParsedMessage{}, events);
    }
    if (open_ == Item::kWebSearch || open_ == Item::kCodeInterpreter) {
        add_tool_text(text, events);
        return;
    }
    if (open_ == Item::kMessage && citations_ != nullptr) {
        add_cited_text(text, false, events);
        return;
    }
    text_ += text;
    const bool call = open_ == Item::kFunctionCall;
    Json fields = where(!call);
    fields["delta"] = text;
    if (open_ == Item::kMessage) {
        fields["logprobs"] = Json::array();
    }
    events.push_back(event(call                      ? "response.function_call_arguments.delta"
                           : open_ == Item::kMessage ? "response.output_text.delta"
                                                     : "response.reasoning_text.delta",
                           std::move(fields)));
}

void ResponseAssembler::close_item(std::vector<Json>& events) {
    if (open_ == Item::kNone) {
        return;
    }
    if (open_ == Item::kWebSearch || open_ == Item::kCodeInterpreter) {
        close_tool_item(events);
        return;
    }
    if (open_ == Item::kMessage && citations_ != nullptr) {
        add_cited_text("", true, events); // a citation cut off at the end is shown as it is
    }
    Json& item = output_.back();
    const char* status = cut_ ? "incomplete" : "completed";
    if (open_ == Item::kFunctionCall) {
        item["arguments"] = text_;
        Json fields = where(false);
        fields["arguments"] = text_;
        events.push_back(event("response.function_call_arguments.done", std::move(fields)));
    } else {
        Json fields = where(true);
        fields["text"] = text_;
        if (open_ == Item::kMessage) {
            fields["logprobs"] = Json::array();
        }
        events.push_back(event(open_ == Item::kMessage ? "response.output_text.done" : "response.reasoning_text.done",
                               std::move(fields)));
        fields = where(true);
        fields["part"] = part();
        events.push_back(event("response.content_part.done", std::move(fields)));
        item["content"] = Json::array({part()});
        if (open_ == Item::kMessage && citations_ != nullptr && raw_ != text_) {
            item["harmony"] = written_text_fields(raw_); // the citations as the model wrote them
        }
    }
    item["status"] = status;
    events.push_back(event("response.output_item.done", {{"output_index", output_.size() - 1}, {"item", item}}));
    open_ = Item::kNone;
    text_.clear();
}

void ResponseAssembler::handle(const ParserEvent& e, std::vector<Json>& events) {
    switch (e.type) {
    case ParserEventType::kMessageStart: {
        close_item(events);
        const ParsedMessage& header = e.message;
        if (header.recipient && header.recipient->starts_with("functions.") && header.recipient->size() > 10) {
            open_item(Item::kFunctionCall, header, events);
        } else if (const Item tool = tool_item(header); tool != Item::kNone) {
            open_item(tool, header, events);
        } else if (header.channel == "analysis" || header.recipient) {
            // Calls to tools not served here read as what they are: the model's working.
            open_item(Item::kReasoning, header, events);
        } else {
            open_item(Item::kMessage, header, events);
        }
        return;
    }
    case ParserEventType::kTextDelta:
        add_text(e.text, events);
        return;
    case ParserEventType::kMessageEnd:
        if ((open_ == Item::kWebSearch || open_ == Item::kCodeInterpreter) && e.message.end_token == kTokenCall) {
            await_result(events);
            return;
        }
        close_item(events);
        return;
    case ParserEventType::kToolCall:
        return;
    case ParserEventType::kWarning:
        TLLM_LOG_WARN("response {}: {}", info_.id, e.text);
        return;
    }
}

void ResponseAssembler::finish(bool length, std::vector<Json>& events) {
    if (ended_) {
        return;
    }
    cut_ = length;
    handle_pending(events);
    std::vector<ParserEvent> parsed;
    parser_.finish(parsed);
    for (const ParserEvent& e : parsed) {
        handle(e, events);
    }
    close_item(events);
    ended_ = true;
    status_ = length ? "incomplete" : "completed";
    events.push_back(event(length ? "response.incomplete" : "response.completed", {{"response", response()}}));
}

void ResponseAssembler::fail(const Error& error, std::vector<Json>& events) {
    if (ended_) {
        return;
    }
    ended_ = true;
    status_ = "failed";
    error_ = {{"code", "server_error"}, {"message", error.message()}};
    events.push_back(event("response.failed", {{"response", response()}}));
}

} // namespace tllm::server
