#include "server/completions.h"

#include <algorithm>
#include <fmt/format.h>

namespace tllm::server {
namespace {

using Json = nlohmann::ordered_json;

Error unsupported(const std::string& message) { return Error(ErrorCode::kUnsupported, message); }

// gpt-oss's generation_config.json eos_token_id: what ends a raw completion.
constexpr TokenId kRawStopTokens[] = {kTokenReturn, kTokenEndOfText, kTokenCall};

// `prompt`: a string, an array of token ids, or an array holding one of those.
Result<std::vector<TokenId>> prompt_tokens(const Json& body, const Tokenizer& tokenizer) {
    auto it = body.find("prompt");
    if (it == body.end() || it->is_null()) {
        return bad_request("prompt is required: a string or an array of token ids");
    }
    const Json* prompt = &*it;
    if (prompt->is_array() && prompt->size() == 1 && ((*prompt)[0].is_string() || (*prompt)[0].is_array())) {
        prompt = &(*prompt)[0];
    } else if (prompt->is_array() && !prompt->empty() && !(*prompt)[0].is_number_integer()) {
        return unsupported(fmt::format("prompt: one prompt per request is served, got {}", prompt->size()));
    }
    if (prompt->is_string()) {
        if (prompt->get<std::string>().empty()) {
            return bad_request("prompt must not be empty");
        }
        Result<std::vector<TokenId>> tokens = tokenizer.encode_with_special(prompt->get<std::string>());
        if (!tokens.ok()) {
            return bad_request("prompt: " + tokens.error().message());
        }
        return tokens;
    }
    if (!prompt->is_array() || prompt->empty()) {
        return bad_request("prompt must be a string or a non-empty array of token ids");
    }
    std::vector<TokenId> tokens;
    for (const Json& id : *prompt) {
        if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= tokenizer.n_vocab()) {
            return bad_request(
                fmt::format("prompt: token ids must be integers in [0, {}), got {}", tokenizer.n_vocab(), id.dump()));
        }
        tokens.push_back(id.get<TokenId>());
    }
    return tokens;
}

// Characters (code points) of `text` before byte `end`.
int64_t characters_before(const std::string& text, size_t end) {
    end = std::min(end, text.size());
    return std::count_if(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(end),
                         [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
}

} // namespace

Result<CompletionJob>
parse_completion(const Json& body, const Tokenizer& tokenizer, const ChatLimits& limits, uint64_t default_seed) {
    if (!body.is_object()) {
        return bad_request("the request body must be a JSON object");
    }
    CompletionJob job;
    if (auto model = body.find("model"); model != body.end() && !model->is_null()) {
        if (!model->is_string() || model->get<std::string>().empty()) {
            return bad_request("model must be a non-empty string");
        }
        job.model = model->get<std::string>();
    }
    TLLM_ASSIGN_OR_RETURN(job.n, choices_field(body, limits));
    // best_of returns the best `n` of that many, by log-probability: only where it asks for no more than `n`, which
    // is `n` itself, is it served.
    TLLM_ASSIGN_OR_RETURN(std::optional<int64_t> best_of, integer_field(body, "best_of", 1, limits.max_choices));
    if (best_of.value_or(job.n) != job.n) {
        return unsupported(
            fmt::format("best_of: picking the best of several completions is not served (best_of may only equal n, "
                        "{}), got {}",
                        job.n, *best_of));
    }
    TLLM_ASSIGN_OR_RETURN(bool echo, bool_field(body, "echo", false));
    if (echo) {
        return unsupported("echo: the prompt is not returned with the completion; the client has it");
    }
    if (auto suffix = body.find("suffix"); suffix != body.end() && !suffix->is_null() && *suffix != "") {
        return unsupported("suffix: insertion is not served (gpt-oss was not trained for it)");
    }
    TLLM_ASSIGN_OR_RETURN(std::vector<TokenId> prompt, prompt_tokens(body, tokenizer));
    TLLM_RETURN_IF_ERROR(fill_generation(body, {"max_tokens"}, prompt, limits, default_seed, job.request));
    job.request.stop_tokens.assign(std::begin(kRawStopTokens), std::end(kRawStopTokens));
    job.output.stop_tokens = job.request.stop_tokens;
    TLLM_ASSIGN_OR_RETURN(std::optional<int64_t> logprobs,
                          integer_field(body, "logprobs", 0, BatchEngine::kMaxTopLogprobs));
    job.output.logprobs = logprobs.has_value();
    job.request.top_logprobs = logprobs ? static_cast<int32_t>(*logprobs) : -1;
    TLLM_ASSIGN_OR_RETURN(job.output.skip_special_tokens, bool_field(body, "skip_special_tokens", false));
    TLLM_ASSIGN_OR_RETURN(job.stream, bool_field(body, "stream", false));
    TLLM_ASSIGN_OR_RETURN(job.include_usage, include_usage_field(body));
    TLLM_ASSIGN_OR_RETURN(job.output.stop_text, stop_field(body));
    return job;
}

CompletionAssembler::CompletionAssembler(const Tokenizer& tokenizer,
                                         std::string id,
                                         std::string model,
                                         int64_t created,
                                         CompletionOutputOptions options,
                                         int index)
    : tokenizer_(tokenizer), id_(std::move(id)), model_(std::move(model)), created_(created), index_(index),
      options_(std::move(options)), text_(options_.stop_text) {}

Json CompletionAssembler::chunk(std::string text, Json logprobs) const {
    Json choice = {
        {"index", index_}, {"text", std::move(text)}, {"logprobs", std::move(logprobs)}, {"finish_reason", nullptr}};
    return Json{{"id", id_},
                {"object", "text_completion"},
                {"created", created_},
                {"model", model_},
                {"choices", Json::array({std::move(choice)})}};
}

bool CompletionAssembler::on_token(const TokenEvent& token, std::vector<Json>& chunks) {
    ++completion_tokens_;
    cached_tokens_ += token.cached_prompt_tokens; // set on the first token only
    if (text_.stopped() || stop_token_) {
        return text_.stopped();
    }
    if (std::find(options_.stop_tokens.begin(), options_.stop_tokens.end(), token.token) !=
        options_.stop_tokens.end()) {
        stop_token_ = true; // the end: no text, no entry (as the chat route gives none for <|return|>)
        return false;
    }
    const Result<std::string_view> bytes = tokenizer_.token_bytes(token.token);
    const bool skipped = options_.skip_special_tokens && tokenizer_.is_special(token.token);
    const std::string_view text = bytes.ok() && !skipped ? *bytes : std::string_view();
    if (options_.logprobs) {
        Json top = Json::object();
        for (const TokenLogprob& alternative : token.top) {
            const Result<std::string_view> alt = tokenizer_.token_bytes(alternative.token);
            top[token_display(alt.ok() ? *alt : std::string_view())] = alternative.logprob;
        }
        text_.add_token({{"token", token_display(bytes.ok() ? *bytes : std::string_view())},
                         {"logprob", token.logprob},
                         {"top_logprobs", std::move(top)},
                         {"offset", token_bytes_}},
                        text.size());
    }
    token_bytes_ += text.size();
    text_.append(decoder_.push(text));
    send(false, chunks);
    return text_.stopped();
}

Json CompletionAssembler::logprobs_object(const Json& entries) const {
    if (!options_.logprobs) {
        return nullptr;
    }
    Json out = {{"tokens", Json::array()},
                {"token_logprobs", Json::array()},
                {"top_logprobs", Json::array()},
                {"text_offset", Json::array()}};
    for (const Json& entry : entries) {
        out["tokens"].push_back(entry["token"]);
        out["token_logprobs"].push_back(entry["logprob"]);
        out["top_logprobs"].push_back(entry["top_logprobs"]);
        out["text_offset"].push_back(characters_before(text_.text(), entry["offset"].get<size_t>()));
    }
    return out;
}

void CompletionAssembler::send(bool end, std::vector<Json>& chunks) {
    Json entries = Json::array();
    std::string text = text_.take(end, entries);
    if (!text.empty() || !entries.empty()) {
        chunks.push_back(chunk(std::move(text), logprobs_object(entries)));
    }
}

void CompletionAssembler::finish(std::vector<Json>& chunks) {
    if (finished_) {
        return;
    }
    finished_ = true;
    text_.append(decoder_.flush()); // a character the last token left unfinished, as U+FFFD
    send(true, chunks);
}

const char* CompletionAssembler::finish_reason(bool length) const {
    return length && !text_.stopped() && !stop_token_ ? "length" : "stop";
}

Json CompletionAssembler::finish_chunk(bool length, std::vector<Json>& chunks) {
    finish(chunks);
    Json last = chunk("", nullptr);
    last["choices"][0]["finish_reason"] = finish_reason(length);
    return last;
}

Json CompletionAssembler::usage_chunk(int64_t prompt_tokens) const {
    return server::usage_chunk(chunk("", nullptr), prompt_tokens, completion_tokens_, cached_tokens_);
}

Json CompletionAssembler::response(bool length, int64_t prompt_tokens) {
    std::vector<Json> unused;
    finish(unused);
    Json choice = {{"index", index_},
                   {"text", text_.text()},
                   {"logprobs", logprobs_object(text_.entries())},
                   {"finish_reason", finish_reason(length)}};
    return Json{{"id", id_},
                {"object", "text_completion"},
                {"created", created_},
                {"model", model_},
                {"choices", Json::array({std::move(choice)})},
                {"usage", usage_object(prompt_tokens, completion_tokens_, cached_tokens_)}};
}

} // namespace tllm::server
