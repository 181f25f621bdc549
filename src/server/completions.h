// OpenAI's legacy Completions (POST /v1/completions) over raw text: no chat template. A string prompt is
// tokenized as vLLM does for gpt-oss (its Hugging Face tokenizer reads special-token strings as the specials), so
// a client may write a Harmony prompt by hand ("<|start|>user<|message|>...<|end|><|start|>assistant"); token ids
// are taken as they are. Generation ends at gpt-oss's end tokens (generation_config.json's eos_token_id:
// <|return|>, <|endoftext|>, <|call|>), a stop string or the token limit. The reply is the generated tokens'
// text, Harmony's specials as their text unless skip_special_tokens (vLLM's field) says otherwise.
#pragma once

#include "core/result.h"
#include "runtime/batch_engine.h"
#include "server/request_fields.h"
#include "server/streamed_text.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace tllm::server {

// What the reply's assembler needs of its request.
struct CompletionOutputOptions {
    std::vector<std::string> stop_text;
    std::vector<TokenId> stop_tokens; // end the reply without text of their own
    bool logprobs = false;            // `logprobs`: an integer, the number of alternatives (0 for none)
    bool skip_special_tokens = false;
};

struct CompletionJob {
    BatchRequest request;
    bool stream = false;
    bool include_usage = false;
    CompletionOutputOptions output;
    std::string model; // as the request names it ("" when it names none)
    int n = 1;         // choices, each its own engine request (choice_requests)
};

// kInvalidArgument (400) names the field a client got wrong; kUnsupported what is not served: more than one
// prompt, best_of other than n, echo, suffix.
Result<CompletionJob> parse_completion(const nlohmann::ordered_json& body,
                                       const Tokenizer& tokenizer,
                                       const ChatLimits& limits,
                                       uint64_t default_seed);

// Turns one request's sampled tokens into text_completion objects, streamed or whole: those of the choice `index`.
class CompletionAssembler {
  public:
    CompletionAssembler(const Tokenizer& tokenizer,
                        std::string id,
                        std::string model,
                        int64_t created,
                        CompletionOutputOptions options,
                        int index = 0);

    // One sampled token: appends the chunks it causes. True when a stop string has ended the reply.
    bool on_token(const TokenEvent& token, std::vector<nlohmann::ordered_json>& chunks);
    // The end of generation: appends the text held back, and returns the last chunk, with the finish reason.
    nlohmann::ordered_json finish_chunk(bool length, std::vector<nlohmann::ordered_json>& chunks);
    nlohmann::ordered_json usage_chunk(int64_t prompt_tokens) const;
    nlohmann::ordered_json response(bool length, int64_t prompt_tokens);
    int64_t completion_tokens() const { return completion_tokens_; }
    int64_t cached_tokens() const { return cached_tokens_; }

  private:
    nlohmann::ordered_json chunk(std::string text, nlohmann::ordered_json logprobs) const;
    void send(bool end, std::vector<nlohmann::ordered_json>& chunks);
    void finish(std::vector<nlohmann::ordered_json>& chunks);
    // The legacy logprobs object {tokens, token_logprobs, top_logprobs, text_offset} of `entries`.
    nlohmann::ordered_json logprobs_object(const nlohmann::ordered_json& entries) const;
    const char* finish_reason(bool length) const;

    const Tokenizer& tokenizer_;
    std::string id_;
    std::string model_;
    int64_t created_;
    int index_;
    CompletionOutputOptions options_;
    Utf8StreamDecoder decoder_;
    StreamedText text_;
    bool finished_ = false;
    bool stop_token_ = false; // the reply ended at one of options_.stop_tokens
    int64_t completion_tokens_ = 0;
    int64_t cached_tokens_ = 0; // prompt tokens served by the prefix cache (TokenEvent::cached_prompt_tokens)
    size_t token_bytes_ = 0;    // of the reply's tokens so far: where the next one's text starts
};

} // namespace tllm::server
