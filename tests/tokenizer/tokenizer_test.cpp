// The o200k_harmony tokenizer against the official Harmony fixtures (ids produced by OpenAI's Rust
// core via npm tiktoken) and the id examples in docs/harmony-tokenizer.md.
#include "../common/test_data.h"
#include "core/buffer.h"
#include "core/check.h"
#include "tokenizer/builtin_vocab.h"
#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <random>

namespace tllm {
namespace {

const Tokenizer& tokenizer() {
    static const Tokenizer instance = [] {
        auto loaded = Tokenizer::o200k_harmony();
        TLLM_CHECK(loaded.ok(), "{}", loaded.error().to_string());
        return std::move(loaded).value();
    }();
    return instance;
}

std::vector<TokenId> ordinary(std::string_view text) {
    auto ids = tokenizer().encode_ordinary(text);
    EXPECT_TRUE(ids.ok()) << ids.error().to_string();
    return ids.ok() ? *ids : std::vector<TokenId>{};
}

using Ids = std::vector<TokenId>;

TEST(Tokenizer, VocabularyShape) {
    EXPECT_EQ(tokenizer().vocab().size(), 199998u);
    EXPECT_EQ(tokenizer().n_vocab(), 201088);
    EXPECT_EQ(tokenizer().vocab().max_token_bytes(), 128u);
    EXPECT_EQ(tokenizer().token_bytes(0).value(), "!");
    EXPECT_EQ(tokenizer().token_bytes(188).value(), std::string_view("\0", 1));
    EXPECT_EQ(tokenizer().token_bytes(220).value(), " ");
    EXPECT_EQ(tokenizer().token_bytes(198).value(), "\n");
    EXPECT_EQ(tokenizer().token_bytes(199997).value(), " cocos");
    EXPECT_EQ(tokenizer().token_bytes(200006).value(), "<|start|>");
    EXPECT_EQ(tokenizer().token_bytes(201087).value(), "<|reserved_201087|>");
    EXPECT_EQ(tokenizer().special_token("<|endofprompt|>"), 200018);
    EXPECT_EQ(tokenizer().special_token("<|reserved_200018|>"), 200018);
    EXPECT_EQ(tokenizer().special_token("<|nope|>"), std::nullopt);
    EXPECT_TRUE(tokenizer().is_special(199998));
    EXPECT_FALSE(tokenizer().is_special(199997));
}

TEST(Tokenizer, KnownIds) {
    EXPECT_EQ(ordinary("user"), (Ids{1428}));
    EXPECT_EQ(ordinary("assistant"), (Ids{173781}));
    EXPECT_EQ(ordinary("commentary"), (Ids{12606, 815}));
    EXPECT_EQ(ordinary(" to=functions.get_weather"), (Ids{316, 28, 44580, 775, 170154}));
    EXPECT_EQ(ordinary("<|end|>"), (Ids{27, 91, 419, 91, 29}));
    EXPECT_EQ(ordinary("<|start|>user"), (Ids{27, 91, 5236, 91, 29, 1428}));
    EXPECT_EQ(ordinary(""), (Ids{}));
}

TEST(Tokenizer, SpecialTokensOnlyWhenAllowed) {
    auto with = tokenizer().encode_with_special("<|start|>user<|message|>hi<|end|>");
    ASSERT_TRUE(with.ok());
    EXPECT_EQ(*with, (Ids{200006, 1428, 200008, 3686, 200007}));
    auto middle = tokenizer().encode_with_special("a<|end|>b<|<|call|>|>");
    ASSERT_TRUE(middle.ok());
    Ids expected = ordinary("a");
    expected.push_back(200007);
    for (TokenId id : ordinary("b<|")) {
        expected.push_back(id);
    }
    expected.push_back(200012);
    expected.push_back(91);
    expected.push_back(29);
    EXPECT_EQ(*middle, expected);
    EXPECT_EQ(tokenizer().encode_with_special("<|reserved_200018|><|endofprompt|>").value(), (Ids{200018, 200018}));
    // Not a special: encoded as text.
    EXPECT_EQ(tokenizer().encode_with_special("<|reserved_201088|>").value(), ordinary("<|reserved_201088|>"));
}

TEST(Tokenizer, RejectsInvalidInput) {
    auto bad = tokenizer().encode_ordinary(std::string_view("ok\xC3(", 4));
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(bad.error().message().find("byte 2"), std::string::npos);
    EXPECT_FALSE(tokenizer().encode_ordinary("\xED\xA0\x80").ok()); // a UTF-16 surrogate
    EXPECT_FALSE(tokenizer().encode_with_special("\xC0\xAF").ok()); // overlong '/'
    Ids out_of_range{1, 201088};
    auto decoded = tokenizer().decode(out_of_range);
    ASSERT_FALSE(decoded.ok());
    EXPECT_NE(decoded.error().message().find("201088"), std::string::npos);
    EXPECT_FALSE(tokenizer().token_bytes(-1).ok());
}

TEST(Tokenizer, DecodeIsByteExact) {
    // Token 9552 is " \xF0\x9F": decoding concatenates raw bytes, even when they are not UTF-8.
    Ids ids{9552, 9552};
    EXPECT_EQ(tokenizer().decode(ids).value(), " \xF0\x9F \xF0\x9F");
}

TEST(Tokenizer, OfficialHarmonyFixtures) {
    auto fixtures = nlohmann::json::parse(testing::read_test_data("harmony/harmony-official.json")).at("fixtures");
    ASSERT_EQ(fixtures.size(), 23u);
    int n_encoded = 0;
    for (const auto& fixture : fixtures) {
        std::string name = fixture.at("name");
        std::string expected_text = fixture.at("text");
        Ids ids = fixture.at("ids").get<Ids>();
        auto decoded = tokenizer().decode(ids);
        ASSERT_TRUE(decoded.ok()) << name;
        EXPECT_EQ(*decoded, expected_text) << name;
        // Token-list fixtures are sampled model output, which need not be the canonical encoding.
        if (!fixture.contains("note") ||
            fixture.at("note").get<std::string>().find("token-list") == std::string::npos) {
            auto encoded = tokenizer().encode_with_special(expected_text);
            ASSERT_TRUE(encoded.ok()) << name;
            EXPECT_EQ(*encoded, ids) << name;
            ++n_encoded;
        }
    }
    EXPECT_EQ(n_encoded, 21);
}

TEST(Tokenizer, HeapAndQuadraticMergesAgree) {
    // Long pieces use the heap merge; it must reproduce tiktoken's quadratic loop exactly.
    std::mt19937 rng(7);
    const char* alphabet[] = {"a", "b", "e", "r", "th", "ing", " ", "\xE4\xB8\x96", "\xF0\x9F\x98\x80", "0"};
    BpeScratch scratch;
    for (int trial = 0; trial < 300; ++trial) {
        std::string piece;
        int length = 1 + static_cast<int>(rng() % 300);
        for (int i = 0; i < length; ++i) {
            piece += alphabet[rng() % std::size(alphabet)];
        }
        Ids quadratic, heap;
        bpe_merge_quadratic(tokenizer().vocab(), piece, quadratic, scratch);
        bpe_merge_heap(tokenizer().vocab(), piece, heap, scratch);
        ASSERT_EQ(quadratic, heap) << piece;
        EXPECT_EQ(tokenizer().decode(heap).value(), piece);
    }
}

TEST(Tokenizer, LongRuns) {
    EXPECT_EQ(tokenizer().decode(ordinary(std::string(120, 'a'))).value(), std::string(120, 'a'));
    std::string spaces(5000, ' ');
    Ids ids = ordinary(spaces + "x");
    EXPECT_EQ(tokenizer().decode(ids).value(), spaces + "x");
}

TEST(Tokenizer, LoadsFromRankFileTextAndRejectsCorruptOnes) {
    auto reloaded = Tokenizer::from_tiktoken(builtin_o200k_base_tiktoken());
    ASSERT_TRUE(reloaded.ok());
    EXPECT_EQ(reloaded->encode_ordinary("hello world").value(), ordinary("hello world"));
    EXPECT_FALSE(Tokenizer::from_tiktoken("").ok());
    EXPECT_FALSE(Vocab::from_tiktoken("IQ== 0\nIg== 2\n").ok()); // gap in ranks
    EXPECT_FALSE(Vocab::from_tiktoken("IQ= 0\n").ok());          // bad base64
    EXPECT_FALSE(Vocab::from_tiktoken("IQ==0\n").ok());          // no separator
    EXPECT_FALSE(Vocab::from_tiktoken("IQ== 0\nIQ== 1\n").ok()); // duplicate bytes
    auto small = Vocab::from_tiktoken("IQ== 0\nIg== 1\n");
    ASSERT_TRUE(small.ok());
    EXPECT_EQ(small->rank("\""), 1u);
    auto not_o200k = Tokenizer::from_tiktoken("IQ== 0\n");
    ASSERT_FALSE(not_o200k.ok());
}

} // namespace
} // namespace tllm
