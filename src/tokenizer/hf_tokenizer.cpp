// Tokenizer::from_hf_tokenizer_json: reads a Hugging Face tokenizer.json of the kind converted from
// tiktoken (gpt-oss ships one): byte-level BPE whose ids are the tiktoken ranks, so the rank-merge BPE
// gives the same result as the file's merges list.
#include "core/buffer.h"
#include "tokenizer/tokenizer.h"

#include <array>
#include <nlohmann/json.hpp>

namespace tllm {
namespace {

// The o200k pre-tokenizer pattern; a tokenizer.json with another pattern is not this tokenizer.
constexpr std::string_view kO200kPattern =
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|"
    "'d)?"
    "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'"
    "ll|'d)?"
    "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

// GPT-2's bytes_to_unicode, inverted: code point (< 324) -> byte, or -1.
std::array<int16_t, 324> byte_level_decoder() {
    std::array<int16_t, 324> decoder{};
    decoder.fill(-1);
    int next_extra = 256;
    for (int byte = 0; byte < 256; ++byte) {
        bool printable = (byte >= 0x21 && byte <= 0x7E) || (byte >= 0xA1 && byte <= 0xAC) || (byte >= 0xAE);
        int code_point = printable ? byte : next_extra++;
        decoder[static_cast<size_t>(code_point)] = static_cast<int16_t>(byte);
    }
    return decoder;
}

// Maps a byte-level vocabulary key (UTF-8 of code points < 324) back to raw bytes.
bool byte_level_to_bytes(const std::string& key, const std::array<int16_t, 324>& decoder, std::string& out) {
    out.clear();
    for (size_t i = 0; i < key.size();) {
        auto lead = static_cast<uint8_t>(key[i]);
        uint32_t code_point = 0;
        if (lead < 0x80) {
            code_point = lead;
            i += 1;
        } else if ((lead & 0xE0) == 0xC0 && i + 1 < key.size()) {
            code_point = (uint32_t(lead & 0x1F) << 6) | (static_cast<uint8_t>(key[i + 1]) & 0x3F);
            i += 2;
        } else {
            return false;
        }
        if (code_point >= decoder.size() || decoder[code_point] < 0) {
            return false;
        }
        out.push_back(static_cast<char>(decoder[code_point]));
    }
    return !out.empty();
}

bool find_pattern(const nlohmann::json& node, std::string& pattern) {
    if (node.is_object()) {
        if (node.value("type", "") == "Split" && node.contains("pattern") && node["pattern"].contains("Regex")) {
            pattern = node["pattern"]["Regex"].get<std::string>();
            return true;
        }
        for (const auto& [key, value] : node.items()) {
            if (find_pattern(value, pattern)) {
                return true;
            }
        }
    } else if (node.is_array()) {
        for (const auto& value : node) {
            if (find_pattern(value, pattern)) {
                return true;
            }
        }
    }
    return false;
}

Status parse(const nlohmann::json& root, std::vector<std::string>& tokens, std::vector<SpecialToken>& specials) {
    const nlohmann::json& model = root.at("model");
    if (model.value("type", "") != "BPE") {
        return make_error(ErrorCode::kUnsupported, "model.type is \"{}\", expected \"BPE\"", model.value("type", ""));
    }
    std::string pattern;
    if (!find_pattern(root.at("pre_tokenizer"), pattern) || pattern != kO200kPattern) {
        return make_error(ErrorCode::kUnsupported, "pre_tokenizer split pattern is not o200k's (found \"{}\")",
                          pattern);
    }
    const nlohmann::json& vocab = model.at("vocab");
    tokens.assign(vocab.size(), std::string());
    auto decoder = byte_level_decoder();
    std::string bytes;
    for (const auto& [key, value] : vocab.items()) {
        int64_t id = value.get<int64_t>();
        if (id < 0 || static_cast<size_t>(id) >= tokens.size()) {
            return make_error(ErrorCode::kCorruptFile, "vocab id {} of \"{}\" is not in [0, {})", id, key,
                              tokens.size());
        }
        if (!byte_level_to_bytes(key, decoder, bytes)) {
            return make_error(ErrorCode::kCorruptFile, "vocab key \"{}\" is not byte-level encoded", key);
        }
        if (!tokens[static_cast<size_t>(id)].empty()) {
            return make_error(ErrorCode::kCorruptFile, "vocab id {} appears twice", id);
        }
        tokens[static_cast<size_t>(id)] = bytes;
    }
    for (const auto& added : root.value("added_tokens", nlohmann::json::array())) {
        specials.push_back({added.at("content").get<std::string>(), added.at("id").get<TokenId>()});
    }
    return {};
}

} // namespace

Result<Tokenizer> Tokenizer::from_hf_tokenizer_json(const std::string& path) {
    TLLM_ASSIGN_OR_RETURN(std::string text, read_text_file(path));
    std::vector<std::string> tokens;
    std::vector<SpecialToken> specials;
    try {
        nlohmann::json root = nlohmann::json::parse(text);
        Status parsed = parse(root, tokens, specials);
        if (!parsed.ok()) {
            return parsed.error().with_context(path);
        }
    } catch (const nlohmann::json::exception& e) {
        return make_error(ErrorCode::kCorruptFile, "{}: {}", path, e.what());
    }
    TLLM_ASSIGN_OR_RETURN(Vocab vocab, Vocab::from_tokens(std::move(tokens)));
    auto tokenizer = create(std::move(vocab), std::move(specials));
    if (!tokenizer.ok()) {
        return tokenizer.error().with_context(path);
    }
    return tokenizer;
}

} // namespace tllm
