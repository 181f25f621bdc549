// What the request parsers of `tritonllm serve`'s routes (Chat Completions, Responses) check alike: typed optional
// fields with their ranges, and the generation settings every route shares (the prompt against the context, the
// token limit, temperature, top_p, seed, Harmony's stop tokens).
#pragma once

#include "core/result.h"
#include "runtime/batch_engine.h"
#include "tokenizer/tokenizer.h"

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace tllm::server {

struct ChatLimits {
    int64_t max_output_tokens = 4096; // for requests that name none, and the most one may ask for
    int64_t context = 0;              // prompt + output tokens (the model's context)
    std::string conversation_date;    // "YYYY-MM-DD" for the system message
};

// kInvalidArgument: an HTTP 400 whose message names the field.
Error bad_request(const std::string& message);

// An optional number within [low, high]; `fallback` when absent or null.
Result<double>
number_field(const nlohmann::ordered_json& body, const char* key, double low, double high, double fallback);
// An optional integer within [low, high]; nullopt when absent or null.
Result<std::optional<int64_t>>
integer_field(const nlohmann::ordered_json& body, const char* key, int64_t low, int64_t high);
// An optional boolean; `fallback` when absent or null.
Result<bool> bool_field(const nlohmann::ordered_json& body, const char* key, bool fallback);

// `reasoning: {"effort", "exclude"}` (OpenAI's Responses form, and OpenRouter's for chat): the effort goes to
// `chat_request`'s reasoning_effort (what chat/openai_request.h reads); returns `exclude`.
Result<bool> reasoning_field(const nlohmann::ordered_json& body, nlohmann::ordered_json& chat_request);

// Fills `request` from `prompt` and the body's sampling fields. The token limit is the first of `max_keys` the
// body has (each within [1, limits.max_output_tokens]), else what the context leaves up to max_output_tokens;
// kContextOverflow when the prompt, or the prompt and the limit asked for, do not fit the context.
Status fill_generation(const nlohmann::ordered_json& body,
                       std::initializer_list<const char*> max_keys,
                       const std::vector<TokenId>& prompt,
                       const ChatLimits& limits,
                       uint64_t default_seed,
                       BatchRequest& request);

} // namespace tllm::server
