// libFuzzer target for `tritonllm serve`'s Responses mapping (server/responses_request.h, responses_output.h). The
// first byte picks the side. Request side: the rest is a request body; parsing must never crash, and an accepted
// request must fit the limits (a prompt that opens the assistant's turn, then the forced call header if any; 1 to
// max_output_tokens tokens within the context), and its conversation must be one a later request can continue
// from. Response side: each 3-byte group of the rest is a sampled token (Harmony specials, short text tokens, any
// id); every event must be valid JSON (valid UTF-8 included) with the next sequence number, the deltas of each item
// must add up to its text, and the stream's last response must equal the whole one.
#include "core/check.h"
#include "harmony_tokens.h"
#include "server/responses_output.h"
#include "server/responses_request.h"
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <cstdint>
#include <map>

namespace {

using Json = nlohmann::ordered_json;

const tllm::Tokenizer& tokenizer() { return tllm::fuzz::harmony_tokenizer(); }

tllm::server::ChatLimits limits() {
    tllm::server::ChatLimits out;
    out.max_output_tokens = 64;
    out.context = 4096;
    out.conversation_date = "2026-12-07";
    return out;
}

void request_side(const uint8_t* data, size_t size) {
    const Json body = Json::parse(data, data + size, nullptr, false);
    if (body.is_discarded()) {
        return;
    }
    (void)tllm::server::previous_response_id(body);
    auto job = tllm::server::parse_responses_request(body, Json::array(), tokenizer(), limits(), 1);
    if (!job.ok()) {
        return;
    }
    const auto& request = job->request;
    TLLM_CHECK(request.max_new_tokens >= 1 && request.max_new_tokens <= limits().max_output_tokens, "max_new_tokens {}",
               request.max_new_tokens);
    TLLM_CHECK(static_cast<int64_t>(request.prompt.size()) + request.max_new_tokens <= limits().context,
               "prompt {} + {} past the context", request.prompt.size(), request.max_new_tokens);
    static const std::vector<tllm::TokenId> assistant = tokenizer().encode_ordinary("assistant").value();
    const size_t forced = job->forced_header.size();
    TLLM_CHECK(request.prompt.size() > assistant.size() + forced &&
                   std::equal(job->forced_header.rbegin(), job->forced_header.rend(), request.prompt.rbegin()),
               "the prompt does not end with the forced header");
    const size_t end = request.prompt.size() - forced;
    TLLM_CHECK(std::equal(assistant.begin(), assistant.end(), request.prompt.begin() + (end - assistant.size())) &&
                   request.prompt[end - assistant.size() - 1] == tllm::kTokenStart,
               "the prompt does not open the assistant's turn");
    TLLM_CHECK(job->conversation.size() == job->input_items.size(), "conversation {} items, input {}",
               job->conversation.size(), job->input_items.size());
    (void)job->echo.dump();
    // What a stored response keeps must be a conversation the next request can continue from.
    auto next = tllm::server::parse_responses_request(Json{{"input", Json::array()}}, job->conversation, tokenizer(),
                                                      limits(), 1);
    TLLM_CHECK(next.ok() || next.error().code() == tllm::ErrorCode::kContextOverflow, "cannot continue: {}",
               next.ok() ? "" : next.error().to_string());
}

void response_side(const uint8_t* data, size_t size) {
    tllm::server::ResponseInfo info;
    info.id = "resp_fuzz";
    info.model = "gpt-oss";
    // Half the streams as a response that runs the built-in tools: calls to browser.* and python become their items
    // (no tool runs here; a call waits for a result that never comes, and finishing closes it).
    info.browser_tool = info.python_tool = size % 4 >= 2;
    tllm::server::ResponseAssembler streamed(tokenizer(), info);
    tllm::server::ResponseAssembler whole(tokenizer(), info);
    std::vector<Json> events;
    std::vector<Json> ignored;
    streamed.start(events);
    for (size_t i = 0; i + 3 <= size; i += 3) {
        const tllm::TokenId token = tllm::fuzz::token_from_bytes(data + i);
        streamed.on_token(token, events);
        whole.on_token(token, ignored);
    }
    const bool length = size % 2 == 1;
    streamed.finish(length, events);
    whole.finish(length, ignored);
    std::map<int64_t, std::string> deltas; // output_index -> text
    for (size_t i = 0; i < events.size(); ++i) {
        (void)tllm::server::ResponseAssembler::sse(events[i]); // dump() throws on invalid UTF-8
        TLLM_CHECK(events[i]["sequence_number"] == i, "event {} has sequence number {}", i,
                   events[i]["sequence_number"].dump());
        if (events[i]["type"].get<std::string>().ends_with(".delta")) {
            deltas[events[i]["output_index"].get<int64_t>()] += events[i]["delta"].get<std::string>();
        }
    }
    const Json response = whole.response();
    (void)response.dump();
    TLLM_CHECK(events.back()["response"] == response, "the stream's last response differs from the whole one");
    const Json& output = response["output"];
    for (size_t i = 0; i < output.size(); ++i) {
        const Json& item = output[i];
        const std::string text = item["type"] == "function_call"           ? item["arguments"].get<std::string>()
                                 : item["type"] == "code_interpreter_call" ? item["code"].get<std::string>()
                                 : item["type"] == "web_search_call"       ? std::string() // shown as its action
                                                                     : item["content"][0]["text"].get<std::string>();
        TLLM_CHECK(deltas[static_cast<int64_t>(i)] == text, "item {}: deltas differ from its text", i);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) {
        return 0;
    }
    if (data[0] & 1) {
        response_side(data + 1, size - 1);
    } else {
        request_side(data + 1, size - 1);
    }
    return 0;
}
