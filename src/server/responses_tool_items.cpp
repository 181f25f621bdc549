// ResponseAssembler's built-in calls: the `web_search_call` and `code_interpreter_call` items with their events, the
// hand-over of a call to ResponseTools and back, and url_citation annotations on messages written after the browser
// ran.
#include "chat/chat_session.h"
#include "server/responses_output.h"
#include "server/responses_replay.h"
#include "tools/toolbox.h"

#include <fmt/format.h>

namespace tllm::server {
namespace {

using Json = nlohmann::ordered_json;

// OpenAI counts annotation places in characters (Python's string indices), the browser in bytes.
int64_t characters_before(const std::string& text, size_t byte_offset) {
    int64_t count = 0;
    for (size_t i = 0; i < byte_offset && i < text.size(); ++i) {
        count += (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80;
    }
    return count;
}

// The URL a browser page shows in its first line, "[cursor] title (url)"; "" when it shows none.
std::string shown_url(const std::string& page) {
    const std::string first = page.substr(0, page.find('\n'));
    const size_t open = first.rfind(" (");
    if (first.empty() || first.back() != ')' || open == std::string::npos) {
        return "";
    }
    return first.substr(open + 2, first.size() - open - 3);
}

std::string string_argument(const Json& arguments, const char* key) {
    auto it = arguments.is_object() ? arguments.find(key) : arguments.end();
    return it != arguments.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// web_search_call's action, from the call (browser.search/open/find and its JSON arguments) and the page it showed.
Json web_search_action(const std::string& recipient, const std::string& arguments_text, const std::string& page) {
    const Json arguments = Json::parse(arguments_text, nullptr, false);
    const std::string function = recipient.substr(recipient.find('.') + 1);
    if (function == "open") {
        std::string url = string_argument(arguments, "id"); // a URL, or a link id the page resolves
        return {{"type", "open_page"}, {"url", url.empty() ? shown_url(page) : url}};
    }
    if (function == "find") {
        return {{"type", "find"}, {"pattern", string_argument(arguments, "pattern")}, {"url", shown_url(page)}};
    }
    return {{"type", "search"}, {"query", string_argument(arguments, "query")}};
}

} // namespace

ResponseAssembler::Item ResponseAssembler::tool_item(const ParsedMessage& header) const {
    if (!header.recipient) {
        return Item::kNone;
    }
    // chat.py's routing (tools::tool_kind): browser.* and python* by prefix.
    if (info_.browser_tool && header.recipient->starts_with("browser.")) {
        return Item::kWebSearch;
    }
    if (info_.python_tool && header.recipient->starts_with("python")) {
        return Item::kCodeInterpreter;
    }
    return Item::kNone;
}

void ResponseAssembler::open_tool_item(Item kind, const std::string& id, std::vector<Json>& events) {
    const size_t index = output_.size();
    Json item =
        kind == Item::kWebSearch
            ? Json{{"id", id}, {"type", "web_search_call"}, {"status", "in_progress"}}
            : Json{{"id", id},           {"type", "code_interpreter_call"}, {"status", "in_progress"}, {"code", ""},
                   {"outputs", nullptr}, {"container_id", "bwrap_" + base_}};
    output_.push_back(item);
    open_ = kind;
    text_.clear();
    awaiting_result_ = false;
    events.push_back(event("response.output_item.added", {{"output_index", index}, {"item", std::move(item)}}));
    events.push_back(event(kind == Item::kWebSearch ? "response.web_search_call.in_progress"
                                                    : "response.code_interpreter_call.in_progress",
                           where(false)));
}

void ResponseAssembler::add_tool_text(const std::string& text, std::vector<Json>& events) {
    text_ += text;
    if (open_ == Item::kCodeInterpreter) { // the search's arguments are shown as its action once complete
        Json fields = where(false);
        fields["delta"] = text;
        events.push_back(event("response.code_interpreter_call_code.delta", std::move(fields)));
    }
}

void ResponseAssembler::await_result(std::vector<Json>& events) {
    awaiting_result_ = true;
    Json& item = output_.back();
    if (open_ == Item::kWebSearch) {
        item["status"] = "searching";
        events.push_back(event("response.web_search_call.searching", where(false)));
        return;
    }
    item["code"] = text_;
    item["status"] = "interpreting";
    Json fields = where(false);
    fields["code"] = text_;
    events.push_back(event("response.code_interpreter_call_code.done", std::move(fields)));
    events.push_back(event("response.code_interpreter_call.interpreting", where(false)));
}

void ResponseAssembler::close_tool_item(std::vector<Json>& events) {
    // A call that never ran: cut off by the token limit, ended without <|call|>, or past the calls a response runs.
    Json& item = output_.back();
    if (open_ == Item::kCodeInterpreter) {
        item["code"] = text_;
        item["status"] = "incomplete";
    } else {
        item["status"] = "failed";
    }
    events.push_back(event("response.output_item.done", {{"output_index", output_.size() - 1}, {"item", item}}));
    open_ = Item::kNone;
    text_.clear();
    awaiting_result_ = false;
}

std::optional<Message> ResponseAssembler::pending_call() const {
    if (!awaiting_result_ || parser_.messages().empty()) {
        return std::nullopt;
    }
    return to_message(parser_.messages().back());
}

std::vector<Message> ResponseAssembler::written_messages() const {
    std::vector<Message> messages;
    for (const ParsedMessage& parsed : parser_.messages()) {
        messages.push_back(to_message(parsed));
    }
    return messages;
}

void ResponseAssembler::tool_result(const Message& result, std::vector<Json>& events) {
    if (!awaiting_result_) {
        return;
    }
    const std::string output = result.content.empty() || !std::holds_alternative<std::string>(result.content[0])
                                   ? std::string()
                                   : std::get<std::string>(result.content[0]);
    Json& item = output_.back();
    item["status"] = "completed";
    const bool web_search = open_ == Item::kWebSearch;
    if (web_search) {
        item["action"] = web_search_action(parser_.messages().back().recipient.value_or(""), text_, output);
    } else {
        item["outputs"] = Json::array({{{"type", "logs"}, {"logs", output}}});
    }
    // What a later request needs to render the call as the model read it (responses_replay.h).
    item["harmony"] = replay_fields(to_message(parser_.messages().back()), output, web_search);
    events.push_back(event(
        web_search ? "response.web_search_call.completed" : "response.code_interpreter_call.completed", where(false)));
    events.push_back(event("response.output_item.done", {{"output_index", output_.size() - 1}, {"item", item}}));
    open_ = Item::kNone;
    text_.clear();
    awaiting_result_ = false;
}

void ResponseAssembler::continue_with(int64_t prompt_tokens) {
    parser_ = HarmonyStreamParser(*tokenizer_, Role::kAssistant);
    pending_.clear();
    info_.input_tokens += prompt_tokens;
}

void ResponseAssembler::add_cited_text(const std::string& text, bool last, std::vector<Json>& events) {
    raw_ += text;
    tools::NormalizedCitations cited = citations_->citations(raw_, !last);
    // Held-back text is at the end only, so what was sent is a prefix of what the longer text becomes.
    if (cited.text.size() > text_.size() && cited.text.compare(0, text_.size(), text_) == 0) {
        Json fields = where(true);
        fields["delta"] = cited.text.substr(text_.size());
        fields["logprobs"] = Json::array();
        text_ = std::move(cited.text);
        events.push_back(event("response.output_text.delta", std::move(fields)));
    }
    for (size_t i = annotations_.size(); i < cited.citations.size(); ++i) {
        const tools::CitationLink& link = cited.citations[i];
        if (link.end > text_.size()) {
            break; // not sent yet
        }
        Json annotation = {{"type", "url_citation"},
                           {"start_index", characters_before(text_, link.start)},
                           {"end_index", characters_before(text_, link.end)},
                           {"url", link.url},
                           {"title", link.title}};
        annotations_.push_back(annotation);
        Json fields = where(true);
        fields["annotation_index"] = i;
        fields["annotation"] = std::move(annotation);
        events.push_back(event("response.output_text.annotation.added", std::move(fields)));
    }
}

} // namespace tllm::server
