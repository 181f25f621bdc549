#include "cli/tokenizer_commands.h"

#include "chat/openai_request.h"
#include "chat/render.h"
#include "cli/report.h"
#include "core/buffer.h"
#include "core/log.h"
#include "tokenizer/tokenizer.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>

namespace tllm {
namespace {

struct TokenizerFlags {
    std::string model; // optional: a model directory whose tokenizer.json to use
};

Result<Tokenizer> load_tokenizer(const TokenizerFlags& flags) {
    return flags.model.empty() ? Tokenizer::o200k_harmony() : Tokenizer::for_model_dir(flags.model);
}

void write_stdout(std::string_view bytes) {
    std::fwrite(bytes.data(), 1, bytes.size(), stdout);
    std::fflush(stdout);
}

std::string ids_json(const std::vector<TokenId>& ids) { return nlohmann::json(ids).dump(); }

struct TokenizeFlags : TokenizerFlags {
    std::string text_file;
    bool allow_special = false;
};

Status run_tokenize(const TokenizeFlags& flags) {
    TLLM_ASSIGN_OR_RETURN(Tokenizer tokenizer, load_tokenizer(flags));
    TLLM_ASSIGN_OR_RETURN(std::string text, read_text_file(flags.text_file));
    auto ids = flags.allow_special ? tokenizer.encode_with_special(text) : tokenizer.encode_ordinary(text);
    if (!ids.ok()) {
        return ids.error().with_context(flags.text_file);
    }
    write_stdout(ids_json(*ids) + "\n");
    return {};
}

struct DetokenizeFlags : TokenizerFlags {
    std::string ids_file;
};

// A JSON array of ids, or ids separated by whitespace and/or commas.
Result<std::vector<TokenId>> parse_ids(const std::string& text, const std::string& path) {
    size_t first = text.find_first_not_of(" \t\r\n");
    if (first != std::string::npos && text[first] == '[') {
        auto json = nlohmann::json::parse(text, nullptr, false);
        if (json.is_discarded() || !json.is_array()) {
            return make_error(ErrorCode::kInvalidArgument, "{}: not a JSON array", path);
        }
        std::vector<TokenId> ids;
        for (size_t i = 0; i < json.size(); ++i) {
            if (!json[i].is_number_integer() || json[i].get<int64_t>() < 0 || json[i].get<int64_t>() > INT32_MAX) {
                return make_error(ErrorCode::kInvalidArgument, "{}: element {} is not a token id", path, i);
            }
            ids.push_back(json[i].get<TokenId>());
        }
        return ids;
    }
    std::vector<TokenId> ids;
    size_t i = 0;
    while (i < text.size()) {
        char c = text[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',') {
            ++i;
            continue;
        }
        size_t end = i;
        int64_t value = 0;
        while (end < text.size() && text[end] >= '0' && text[end] <= '9' && value <= INT32_MAX) {
            value = value * 10 + (text[end] - '0');
            ++end;
        }
        if (end == i || value > INT32_MAX) {
            return make_error(ErrorCode::kInvalidArgument, "{}: byte {}: expected a token id", path, i);
        }
        ids.push_back(static_cast<TokenId>(value));
        i = end;
    }
    return ids;
}

Status run_detokenize(const DetokenizeFlags& flags) {
    TLLM_ASSIGN_OR_RETURN(Tokenizer tokenizer, load_tokenizer(flags));
    TLLM_ASSIGN_OR_RETURN(std::string text, read_text_file(flags.ids_file));
    TLLM_ASSIGN_OR_RETURN(std::vector<TokenId> ids, parse_ids(text, flags.ids_file));
    TLLM_ASSIGN_OR_RETURN(std::string bytes, tokenizer.decode(ids));
    write_stdout(bytes); // raw bytes: byte-exact even when a token boundary splits a character
    return {};
}

struct RenderFlags : TokenizerFlags {
    std::string request_file;
    std::string date;
};

std::string today_utc() {
    std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm utc{};
    gmtime_r(&now, &utc);
    char text[16];
    std::strftime(text, sizeof(text), "%Y-%m-%d", &utc);
    return text;
}

Status run_render(const RenderFlags& flags) {
    TLLM_ASSIGN_OR_RETURN(Tokenizer tokenizer, load_tokenizer(flags));
    TLLM_ASSIGN_OR_RETURN(std::string text, read_text_file(flags.request_file));
    auto request = nlohmann::ordered_json::parse(text, nullptr, false);
    if (request.is_discarded()) {
        return make_error(ErrorCode::kInvalidArgument, "{}: not valid JSON", flags.request_file);
    }
    ChatRequestOptions options;
    options.conversation_start_date = flags.date.empty() ? today_utc() : flags.date;
    auto messages = harmony_messages_from_chat_request(request, options);
    if (!messages.ok()) {
        return messages.error().with_context(flags.request_file);
    }
    HarmonyRenderer renderer(tokenizer);
    TLLM_ASSIGN_OR_RETURN(std::vector<TokenId> ids, renderer.render_for_completion(*messages, Role::kAssistant));
    TLLM_ASSIGN_OR_RETURN(std::string prompt, tokenizer.decode(ids));
    nlohmann::ordered_json out;
    out["text"] = prompt;
    out["ids"] = ids;
    write_stdout(out.dump() + "\n");
    return {};
}

void add_model_flag(CLI::App* command, TokenizerFlags& flags) {
    command->add_option("--model", flags.model,
                        "Model directory; its tokenizer.json is used when present (default: built-in o200k_harmony)");
}

} // namespace

void register_tokenizer_commands(CLI::App& app) {
    auto tokenize_flags = std::make_shared<TokenizeFlags>();
    CLI::App* tokenize = app.add_subcommand("tokenize", "Encode a UTF-8 text file; prints a JSON array of token ids");
    tokenize->add_option("--text-file", tokenize_flags->text_file, "Text to encode")->required();
    tokenize->add_flag("--allow-special", tokenize_flags->allow_special,
                       "Encode special-token strings such as <|start|> as their ids (default: as plain text)");
    add_model_flag(tokenize, *tokenize_flags);
    tokenize->callback([tokenize_flags] { throw CLI::RuntimeError(report(run_tokenize(*tokenize_flags))); });

    auto detokenize_flags = std::make_shared<DetokenizeFlags>();
    CLI::App* detokenize = app.add_subcommand("detokenize", "Decode token ids; prints the text (raw bytes)");
    detokenize
        ->add_option("--ids-file", detokenize_flags->ids_file,
                     "Token ids: a JSON array, or integers separated by spaces, commas or newlines")
        ->required();
    add_model_flag(detokenize, *detokenize_flags);
    detokenize->callback([detokenize_flags] { throw CLI::RuntimeError(report(run_detokenize(*detokenize_flags))); });

    auto render_flags = std::make_shared<RenderFlags>();
    CLI::App* render = app.add_subcommand(
        "render", "Render an OpenAI Chat Completions request as a Harmony prompt; prints {\"text\", \"ids\"}");
    render->add_option("--request", render_flags->request_file, "Request body JSON (messages, tools, reasoning_effort)")
        ->required();
    render->add_option("--date", render_flags->date, "Conversation date YYYY-MM-DD (default: today, UTC)")
        ->check([](const std::string& value) -> std::string {
            bool ok = value.size() == 10 && value[4] == '-' && value[7] == '-';
            for (size_t i = 0; ok && i < value.size(); ++i) {
                ok = (i == 4 || i == 7) || (value[i] >= '0' && value[i] <= '9');
            }
            return ok ? std::string() : "expected YYYY-MM-DD";
        });
    add_model_flag(render, *render_flags);
    render->callback([render_flags] { throw CLI::RuntimeError(report(run_render(*render_flags))); });
}

} // namespace tllm
