// The o200k_harmony tokenizer: tiktoken-exact BPE over the o200k_base ranks, plus the 1,090 Harmony
// special tokens (ids 199998..201087, vocabulary 201,088).
#pragma once

#include "core/result.h"
#include "tokenizer/bpe.h"
#include "tokenizer/vocab.h"

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tllm {

// Harmony's formatting tokens.
inline constexpr TokenId kTokenStartOfText = 199998;
inline constexpr TokenId kTokenEndOfText = 199999;
inline constexpr TokenId kTokenReturn = 200002;
inline constexpr TokenId kTokenConstrain = 200003;
inline constexpr TokenId kTokenChannel = 200005;
inline constexpr TokenId kTokenStart = 200006;
inline constexpr TokenId kTokenEnd = 200007;
inline constexpr TokenId kTokenMessage = 200008;
inline constexpr TokenId kTokenCall = 200012;
inline constexpr TokenId kO200kHarmonyVocabSize = 201088;

struct SpecialToken {
    std::string text;
    TokenId id;
};

// The o200k_harmony special tokens, as tiktoken's openai_public.py defines them (1,091 names over
// 1,090 ids: 200018 is both <|endofprompt|> and <|reserved_200018|>).
std::vector<SpecialToken> o200k_harmony_special_tokens();

class Tokenizer {
  public:
    // The o200k_base vocabulary embedded in the binary at build time, with the Harmony specials.
    static Result<Tokenizer> o200k_harmony();
    // A tiktoken rank file's text (e.g. o200k_base.tiktoken) with the Harmony specials.
    static Result<Tokenizer> from_tiktoken(std::string_view rank_file_text);
    // A Hugging Face tokenizer.json of the tiktoken kind gpt-oss ships (byte-level BPE whose ids are
    // ranks, o200k pre-tokenizer pattern); its added tokens are the specials.
    static Result<Tokenizer> from_hf_tokenizer_json(const std::string& path);
    // Prefers DIR/tokenizer.json when it exists, else the embedded vocabulary.
    static Result<Tokenizer> for_model_dir(const std::string& model_dir);

    // Regex + BPE only: special-token strings in `text` are ordinary text. Fails on invalid UTF-8.
    Result<std::vector<TokenId>> encode_ordinary(std::string_view text) const;
    // Like encode_ordinary, but every special-token string in `text` becomes its id.
    Result<std::vector<TokenId>> encode_with_special(std::string_view text) const;
    // Appends the encoding of `text` (valid UTF-8) to `out`.
    Status append_ordinary(std::string_view text, std::vector<TokenId>& out) const;

    // Concatenated token bytes (specials as their text); may be invalid UTF-8 at token boundaries.
    Result<std::string> decode(std::span<const TokenId> ids) const;
    // The bytes of one token; an error for ids outside the vocabulary.
    Result<std::string_view> token_bytes(TokenId id) const;

    std::optional<TokenId> special_token(std::string_view text) const;
    bool is_special(TokenId id) const { return id >= static_cast<TokenId>(vocab_.size()) && id < n_vocab_; }
    // Number of ids (rows of the embedding): 201,088 for o200k_harmony.
    TokenId n_vocab() const { return n_vocab_; }
    const Vocab& vocab() const { return vocab_; }

  private:
    static Result<Tokenizer> create(Vocab vocab, std::vector<SpecialToken> specials);
    void encode_text(std::string_view text, std::vector<TokenId>& out, BpeScratch& scratch) const;

    Vocab vocab_;
    std::unordered_map<std::string, TokenId> special_ids_;
    std::vector<std::string> special_texts_; // [n_vocab - vocab size] text of each special id
    TokenId n_vocab_ = 0;
};

} // namespace tllm
