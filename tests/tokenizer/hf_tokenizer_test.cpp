// Loading a Hugging Face tokenizer.json (byte-level BPE converted from tiktoken, as gpt-oss ships it):
// a file written from the o200k ranks with GPT-2's byte-to-unicode mapping must tokenize exactly like
// the built-in vocabulary; files of another kind are rejected with a clear error.
#include "core/buffer.h"
#include "tokenizer/tokenizer.h"

#include <filesystem>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

namespace tllm {
namespace {

// GPT-2's bytes_to_unicode (forward direction): printable bytes map to themselves, the rest to 256+n.
std::string byte_level(std::string_view bytes) {
    std::string out;
    for (unsigned char byte : bytes) {
        uint32_t code_point = byte;
        bool printable = (byte >= 0x21 && byte <= 0x7E) || (byte >= 0xA1 && byte <= 0xAC) || byte >= 0xAE;
        if (!printable) {
            int n = 0;
            for (int b = 0; b < byte; ++b) {
                bool p = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
                n += !p;
            }
            code_point = 256 + static_cast<uint32_t>(n);
        }
        if (code_point < 0x80) {
            out += static_cast<char>(code_point);
        } else {
            out += static_cast<char>(0xC0 | (code_point >> 6));
            out += static_cast<char>(0x80 | (code_point & 0x3F));
        }
    }
    return out;
}

constexpr const char* kPattern = "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{"
                                 "M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
                                 "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}"
                                 "\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
                                 "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

class HfTokenizerJson : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() / ("tllm_hf_" + std::to_string(getpid()));
        std::filesystem::create_directories(dir_);
        auto builtin = Tokenizer::o200k_harmony();
        ASSERT_TRUE(builtin.ok());
        builtin_ = std::make_unique<Tokenizer>(std::move(*builtin));
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    nlohmann::json make_json(const std::string& pattern) const {
        nlohmann::json vocab = nlohmann::json::object();
        for (uint32_t rank = 0; rank < builtin_->vocab().size(); ++rank) {
            vocab[byte_level(builtin_->vocab().bytes(rank))] = rank;
        }
        nlohmann::json added = nlohmann::json::array();
        for (const SpecialToken& special : o200k_harmony_special_tokens()) {
            added.push_back({{"id", special.id}, {"content", special.text}, {"special", true}});
        }
        return {{"added_tokens", added},
                {"pre_tokenizer",
                 {{"type", "Sequence"},
                  {"pretokenizers",
                   {{{"type", "Split"}, {"pattern", {{"Regex", pattern}}}, {"behavior", "Isolated"}},
                    {{"type", "ByteLevel"}, {"use_regex", false}}}}}},
                {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", nlohmann::json::array()}}}};
    }
    void write(const nlohmann::json& json) const {
        std::string text = json.dump();
        ASSERT_TRUE(write_file_atomically((dir_ / "tokenizer.json").string(),
                                          {reinterpret_cast<const uint8_t*>(text.data()), text.size()})
                        .ok());
    }

    std::filesystem::path dir_;
    std::unique_ptr<Tokenizer> builtin_;
};

TEST_F(HfTokenizerJson, MatchesTheBuiltInVocabulary) {
    write(make_json(kPattern));
    auto loaded = Tokenizer::for_model_dir(dir_.string());
    ASSERT_TRUE(loaded.ok()) << loaded.error().to_string();
    EXPECT_EQ(loaded->n_vocab(), 201088);
    for (const char* text :
         {"Hello world", "  \x01\x02 tabs\t\tand\r\nnewlines", "日本語 ☃ 🤷🏽‍♀️ naïve",
          "<|start|>assistant<|channel|>final<|message|>4<|return|>"}) {
        EXPECT_EQ(loaded->encode_with_special(text).value(), builtin_->encode_with_special(text).value()) << text;
    }
}

TEST_F(HfTokenizerJson, RejectsOtherTokenizers) {
    write(make_json("\\w+|\\s+"));
    auto other_pattern = Tokenizer::for_model_dir(dir_.string());
    ASSERT_FALSE(other_pattern.ok());
    EXPECT_EQ(other_pattern.error().code(), ErrorCode::kUnsupported);
    EXPECT_NE(other_pattern.error().message().find("pattern"), std::string::npos);

    nlohmann::json json = make_json(kPattern);
    json["model"]["type"] = "Unigram";
    write(json);
    EXPECT_EQ(Tokenizer::for_model_dir(dir_.string()).error().code(), ErrorCode::kUnsupported);

    write(nlohmann::json::parse(R"({"model": 3})"));
    EXPECT_EQ(Tokenizer::for_model_dir(dir_.string()).error().code(), ErrorCode::kCorruptFile);

    std::filesystem::remove(dir_ / "tokenizer.json");
    auto fallback = Tokenizer::for_model_dir(dir_.string()); // no tokenizer.json: the built-in one
    ASSERT_TRUE(fallback.ok());
    EXPECT_EQ(fallback->encode_ordinary("hello world").value(), (std::vector<TokenId>{24912, 2375}));
}

} // namespace
} // namespace tllm
