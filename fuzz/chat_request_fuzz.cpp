// libFuzzer target for `tritonllm serve`'s Chat Completions mapping (server/chat_completions.h). The first byte
// picks the side. Request side: the rest is a request body; parsing must never crash, and an accepted request
// must fit the limits (a prompt that ends by opening the assistant's turn, 1 to max_output_tokens tokens to
// generate within the context). Response side: each 3-byte group of the rest is a sampled token (Harmony
// specials, short text tokens, any id); the streamed deltas and the whole response must be valid JSON (valid
// UTF-8 included), and the streamed reply, reasoning and log-probability entries must equal the whole response's.
#include "core/check.h"
#include "harmony_tokens.h"
#include "server/chat_completions.h"
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>

namespace {

using Json = nlohmann::ordered_json;

const tllm::Tokenizer& tokenizer() { return tllm::fuzz::harmony_tokenizer(); }

void request_side(const uint8_t* data, size_t size) {
    const Json body = Json::parse(data, data + size, nullptr, false);
    if (body.is_discarded()) {
        return;
    }
    tllm::server::ChatLimits limits;
    limits.max_output_tokens = 64;
    limits.context = 4096;
    limits.conversation_date = "2026-12-07";
    auto job = tllm::server::parse_chat_completion(body, tokenizer(), limits, 1);
    if (!job.ok()) {
        return;
    }
    const auto& request = job->request;
    TLLM_CHECK(request.max_new_tokens >= 1 && request.max_new_tokens <= limits.max_output_tokens, "max_new_tokens {}",
               request.max_new_tokens);
    TLLM_CHECK(static_cast<int64_t>(request.prompt.size()) + request.max_new_tokens <= limits.context,
               "prompt {} + {} past the context", request.prompt.size(), request.max_new_tokens);
    static const std::vector<tllm::TokenId> assistant = tokenizer().encode_ordinary("assistant").value();
    TLLM_CHECK(request.prompt.size() > assistant.size() &&
                   std::equal(assistant.rbegin(), assistant.rend(), request.prompt.rbegin()) &&
                   request.prompt[request.prompt.size() - assistant.size() - 1] == tllm::kTokenStart,
               "the prompt does not open the assistant's turn");
}

void response_side(const uint8_t* data, size_t size) {
    tllm::server::ChatOutputOptions options;
    options.stop_text = {"\n\n", "é"};
    options.logprobs = true;
    tllm::server::ChatCompletionAssembler streamed(tokenizer(), "chatcmpl-fuzz", "gpt-oss", 0, options);
    tllm::server::ChatCompletionAssembler whole(tokenizer(), "chatcmpl-fuzz", "gpt-oss", 0, options);
    std::vector<Json> chunks;
    for (size_t i = 0; i + 3 <= size; i += 3) {
        const tllm::TokenId token = tllm::fuzz::token_from_bytes(data + i);
        const tllm::TokenEvent event{1, token, -1.0f, {{token, -1.0f}, {tllm::kTokenEnd, -2.0f}}};
        std::vector<Json> ignored;
        whole.on_token(event, ignored);
        if (streamed.on_token(event, chunks)) {
            break;
        }
    }
    const Json last = streamed.finish_chunk(false, chunks);
    std::string content;
    std::string reasoning;
    Json logprobs = Json::array();
    for (const Json& chunk : chunks) {
        (void)chunk.dump(); // throws on invalid UTF-8
        const Json& delta = chunk["choices"][0]["delta"];
        content += delta.value("content", "");
        reasoning += delta.value("reasoning_content", "");
        if (const Json& entries = chunk["choices"][0]["logprobs"]; !entries.is_null()) {
            logprobs.insert(logprobs.end(), entries["content"].begin(), entries["content"].end());
        }
    }
    (void)last.dump();
    const Json response = whole.response(false, 1);
    (void)response.dump();
    const Json& message = response["choices"][0]["message"];
    TLLM_CHECK(content == (message["content"].is_null() ? "" : message["content"].get<std::string>()),
               "streamed content differs from the whole response's");
    TLLM_CHECK(reasoning == message.value("reasoning_content", ""), "streamed reasoning differs");
    TLLM_CHECK(logprobs == response["choices"][0]["logprobs"]["content"], "streamed log-probabilities differ");
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
