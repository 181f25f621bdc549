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
    int64_t max_choices = 16;         // `n`: choices one request may ask for, each a sequence of its own
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

// `stop`: a string or an array of at most 4 non-empty strings; empty when absent or null.
Result<std::vector<std::string>> stop_field(const nlohmann::ordered_json& body);
// stream_options.include_usage (false when absent).
Result<bool> include_usage_field(const nlohmann::ordered_json& body);

// What tool_choice asks of a request with the function tools `function_names`.
struct ToolChoice {
    bool declare_tools = true; // false for "none": undeclared, the functions cannot be called
    // "required" or a named function: the start of a call's header, appended to the prompt after the assistant's
    // "<|start|>assistant" so that the model cannot answer in prose (nor reason first); the output's parser reads
    // these tokens before the sampled ones.
    std::vector<TokenId> forced_header;
};

// tool_choice: "auto" (or absent), "none", "required", or a named function in either API's form: {"type":
// "function", "name"} (Responses) or {"type": "function", "function": {"name"}} (Chat Completions). A 400 when
// the name is not among the functions, or when a call is asked for and there are none.
Result<ToolChoice> tool_choice_field(const nlohmann::ordered_json& body,
                                     const std::vector<std::string>& function_names,
                                     const Tokenizer& tokenizer);

// `n`: how many choices the reply has (1 when absent or null), at most limits.max_choices.
Result<int> choices_field(const nlohmann::ordered_json& body, const ChatLimits& limits);
// The engine requests of a reply's `n` choices: `first` for choice 0 and its copies, choice i sampling with seed + i,
// so that the choices differ and a given seed gives the same choices again.
std::vector<BatchRequest> choice_requests(BatchRequest first, int n);

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
