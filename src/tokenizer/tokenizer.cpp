#include "tokenizer/tokenizer.h"

#include "core/buffer.h"
#include "tokenizer/builtin_vocab.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/unicode_tables.h"

#include <filesystem>

namespace tllm {
namespace {

Status check_utf8(std::string_view text) {
    size_t valid = unicode::valid_utf8_prefix(text);
    if (valid != text.size()) {
        return make_error(ErrorCode::kInvalidArgument, "text is not valid UTF-8 at byte {} (0x{:02x})", valid,
                          static_cast<uint8_t>(text[valid]));
    }
    return {};
}

} // namespace

std::vector<SpecialToken> o200k_harmony_special_tokens() {
    std::vector<SpecialToken> specials = {
        {"<|startoftext|>", 199998},
        {"<|endoftext|>", 199999},
        {"<|reserved_200000|>", 200000},
        {"<|reserved_200001|>", 200001},
        {"<|return|>", 200002},
        {"<|constrain|>", 200003},
        {"<|reserved_200004|>", 200004},
        {"<|channel|>", 200005},
        {"<|start|>", 200006},
        {"<|end|>", 200007},
        {"<|message|>", 200008},
        {"<|reserved_200009|>", 200009},
        {"<|reserved_200010|>", 200010},
        {"<|reserved_200011|>", 200011},
        {"<|call|>", 200012},
        {"<|endofprompt|>", 200018}, // inherited from o200k_base; 200018 is also <|reserved_200018|>
    };
    for (TokenId id = 200013; id < kO200kHarmonyVocabSize; ++id) {
        specials.push_back({fmt::format("<|reserved_{}|>", id), id});
    }
    return specials;
}

Result<Tokenizer> Tokenizer::create(Vocab vocab, std::vector<SpecialToken> specials) {
    Tokenizer tokenizer;
    const auto n_base = static_cast<TokenId>(vocab.size());
    for (int byte = 0; byte < 256; ++byte) {
        char c = static_cast<char>(byte);
        if (vocab.rank(std::string_view(&c, 1)) == Vocab::kNoRank) {
            return make_error(ErrorCode::kCorruptFile, "vocabulary lacks the single byte 0x{:02x}", byte);
        }
    }
    TokenId n_vocab = n_base;
    for (const SpecialToken& special : specials) {
        if (special.id < n_base) {
            return make_error(ErrorCode::kCorruptFile, "special token {} has id {}, inside the BPE ranks (< {})",
                              special.text, special.id, n_base);
        }
        if (special.text.size() < 4 || !special.text.starts_with("<|") || !special.text.ends_with("|>") ||
            special.text.find("|>") != special.text.size() - 2) {
            return make_error(ErrorCode::kUnsupported, "special token \"{}\" is not of the form <|name|>",
                              special.text);
        }
        n_vocab = std::max(n_vocab, special.id + 1);
    }
    tokenizer.special_texts_.resize(static_cast<size_t>(n_vocab - n_base));
    for (const SpecialToken& special : specials) {
        if (!tokenizer.special_ids_.emplace(special.text, special.id).second) {
            return make_error(ErrorCode::kCorruptFile, "special token {} listed twice", special.text);
        }
        std::string& text = tokenizer.special_texts_[static_cast<size_t>(special.id - n_base)];
        if (text.empty()) { // the first name of an id is the one it decodes to
            text = special.text;
        }
    }
    for (size_t i = 0; i < tokenizer.special_texts_.size(); ++i) {
        if (tokenizer.special_texts_[i].empty()) {
            return make_error(ErrorCode::kCorruptFile, "id {} between the BPE ranks and the last special has no token",
                              n_base + static_cast<TokenId>(i));
        }
    }
    tokenizer.vocab_ = std::move(vocab);
    tokenizer.n_vocab_ = n_vocab;
    return tokenizer;
}

Result<Tokenizer> Tokenizer::from_tiktoken(std::string_view rank_file_text) {
    TLLM_ASSIGN_OR_RETURN(Vocab vocab, Vocab::from_tiktoken(rank_file_text));
    if (vocab.size() != static_cast<size_t>(kTokenStartOfText)) {
        return make_error(ErrorCode::kCorruptFile, "rank file has {} tokens; o200k_base has {}", vocab.size(),
                          kTokenStartOfText);
    }
    return create(std::move(vocab), o200k_harmony_special_tokens());
}

Result<Tokenizer> Tokenizer::o200k_harmony() { return from_tiktoken(builtin_o200k_base_tiktoken()); }

Result<Tokenizer> Tokenizer::for_model_dir(const std::string& model_dir) {
    std::filesystem::path path = std::filesystem::path(model_dir) / "tokenizer.json";
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) {
        return from_hf_tokenizer_json(path.string());
    }
    return o200k_harmony();
}

void Tokenizer::encode_text(std::string_view text, std::vector<TokenId>& out, BpeScratch& scratch) const {
    o200k_split(text, [&](std::string_view piece) { bpe_encode_piece(vocab_, piece, out, scratch); });
}

Status Tokenizer::append_ordinary(std::string_view text, std::vector<TokenId>& out) const {
    TLLM_RETURN_IF_ERROR(check_utf8(text));
    BpeScratch scratch;
    encode_text(text, out, scratch);
    return {};
}

Result<std::vector<TokenId>> Tokenizer::encode_ordinary(std::string_view text) const {
    std::vector<TokenId> out;
    out.reserve(text.size() / 4 + 8);
    TLLM_RETURN_IF_ERROR(append_ordinary(text, out));
    return out;
}

Result<std::vector<TokenId>> Tokenizer::encode_with_special(std::string_view text) const {
    TLLM_RETURN_IF_ERROR(check_utf8(text));
    std::vector<TokenId> out;
    out.reserve(text.size() / 4 + 8);
    BpeScratch scratch;
    size_t max_special = 0;
    for (const auto& [name, id] : special_ids_) {
        max_special = std::max(max_special, name.size());
    }
    size_t done = 0; // everything before `done` is encoded
    size_t search = 0;
    while (true) {
        size_t open = text.find("<|", search);
        if (open == std::string_view::npos) {
            break;
        }
        // All specials are "<|name|>" with no "|>" inside, so only the first "|>" can close one.
        size_t close = text.substr(0, std::min(text.size(), open + max_special)).find("|>", open + 2);
        if (close != std::string_view::npos) {
            auto it = special_ids_.find(std::string(text.substr(open, close + 2 - open)));
            if (it != special_ids_.end()) {
                encode_text(text.substr(done, open - done), out, scratch);
                out.push_back(it->second);
                done = close + 2;
                search = done;
                continue;
            }
        }
        search = open + 1;
    }
    encode_text(text.substr(done), out, scratch);
    return out;
}

Result<std::string_view> Tokenizer::token_bytes(TokenId id) const {
    if (id < 0 || id >= n_vocab_) {
        return make_error(ErrorCode::kInvalidArgument, "token id {} is outside the vocabulary [0, {})", id, n_vocab_);
    }
    auto n_base = static_cast<TokenId>(vocab_.size());
    if (id < n_base) {
        return vocab_.bytes(static_cast<uint32_t>(id));
    }
    return std::string_view(special_texts_[static_cast<size_t>(id - n_base)]);
}

Result<std::string> Tokenizer::decode(std::span<const TokenId> ids) const {
    std::string out;
    out.reserve(ids.size() * 4);
    for (size_t i = 0; i < ids.size(); ++i) {
        auto bytes = token_bytes(ids[i]);
        if (!bytes.ok()) {
            return bytes.error().with_context(fmt::format("decoding id #{}", i));
        }
        out.append(*bytes);
    }
    return out;
}

std::optional<TokenId> Tokenizer::special_token(std::string_view text) const {
    auto it = special_ids_.find(std::string(text));
    if (it == special_ids_.end()) {
        return std::nullopt;
    }
    return it->second;
}

} // namespace tllm
