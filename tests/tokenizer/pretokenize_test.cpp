// The o200k pre-tokenizer against the splits in docs/harmony-tokenizer.md §1.2 (identical in five
// implementations, including tiktoken's Rust core) and the regex's Unicode corner cases.
#include "tokenizer/pretokenize.h"
#include "tokenizer/unicode_tables.h"

#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace tllm {
namespace {

std::vector<std::string> split(std::string_view text) {
    std::vector<std::string> pieces;
    o200k_split(text, [&](std::string_view piece) { pieces.emplace_back(piece); });
    return pieces;
}

using Pieces = std::vector<std::string>;

TEST(Pretokenize, Contractions) {
    EXPECT_EQ(split("I'm sure they'll do it. Didn't YOU'RE"),
              (Pieces{"I'm", " sure", " they'll", " do", " it", ".", " Didn't", " YOU'RE"}));
    // U+2019 is not an apostrophe for the contraction alternative.
    EXPECT_EQ(split("don't DON'T don\u2019t"), (Pieces{"don't", " DON'T", " don", "\u2019t"}));
    // (?i) uses simple case folding: U+017F LONG S folds to 's'.
    EXPECT_EQ(split("it'\u017f x"), (Pieces{"it'\u017f", " x"}));
    EXPECT_EQ(split("we'VE they'Ll I'D"), (Pieces{"we'VE", " they'Ll", " I'D"}));
    EXPECT_EQ(split("'s"), (Pieces{"'s"}));
    EXPECT_EQ(split("x'l"), (Pieces{"x", "'l"}));
}

TEST(Pretokenize, DigitsInThrees) {
    EXPECT_EQ(split("1234567"), (Pieces{"123", "456", "7"}));
    EXPECT_EQ(split("12345678901234567890"), (Pieces{"123", "456", "789", "012", "345", "678", "90"}));
    // \p{N} includes superscripts, fractions, circled digits and Arabic-Indic digits.
    EXPECT_EQ(split("x\u00b2\u00bd\u2460\u0663"), (Pieces{"x", "\u00b2\u00bd\u2460", "\u0663"}));
}

TEST(Pretokenize, WhitespaceRuns) {
    EXPECT_EQ(split("   leading spaces,  double"), (Pieces{"  ", " leading", " spaces", ",", " ", " double"}));
    EXPECT_EQ(split("trailing   "), (Pieces{"trailing", "   "}));
    EXPECT_EQ(split("\tindented"), (Pieces{"\tindented"}));
    EXPECT_EQ(split("   \n   x"), (Pieces{"   \n", "  ", " x"}));
    EXPECT_EQ(split("line two\r\n\r\n\tindented"), (Pieces{"line", " two", "\r\n\r\n", "\tindented"}));
    EXPECT_EQ(split(" "), (Pieces{" "}));
    EXPECT_EQ(split("\n"), (Pieces{"\n"}));
}

TEST(Pretokenize, UnicodeWhiteSpaceIsRustSemantics) {
    // U+0085 is White_Space: "a", " \u0085" would be one run; the run before "b" leaves its last char.
    EXPECT_EQ(split("a \u0085b"), (Pieces{"a", " ", "\u0085b"}));
    // U+FEFF is not White_Space (JavaScript's \s says it is): it is punctuation here.
    EXPECT_EQ(split("a \ufeffb"), (Pieces{"a", " \ufeff", "b"}));
    EXPECT_EQ(split("\ufeff"), (Pieces{"\ufeff"}));
    // U+2028 (LINE SEPARATOR) is White_Space but not CR/LF.
    EXPECT_EQ(split("a\u2028\u2028b"), (Pieces{"a", "\u2028", "\u2028b"}));
    EXPECT_EQ(split("x \u3000 y"), (Pieces{"x", " \u3000", " y"}));
}

TEST(Pretokenize, CaseSplits) {
    EXPECT_EQ(split("camelCaseVariable HTTPServer getHTTPResponseCode"),
              (Pieces{"camel", "Case", "Variable", " HTTPServer", " get", "HTTPResponse", "Code"}));
    // Titlecase U+01C5 belongs to the upper-like class.
    EXPECT_EQ(split("\u01c5ungla"), (Pieces{"\u01c5ungla"}));
}

TEST(Pretokenize, PunctuationAndCode) {
    EXPECT_EQ(split("x=-1.5e-3;y+=2**8"),
              (Pieces{"x", "=-", "1", ".", "5", "e", "-", "3", ";y", "+=", "2", "**", "8"}));
    EXPECT_EQ(split("<|start|>user"), (Pieces{"<|", "start", "|>", "user"}));
    EXPECT_EQ(split("a/\n/b"), (Pieces{"a", "/\n/", "b"}));
    EXPECT_EQ(split("x  // c"), (Pieces{"x", " ", " //", " c"}));
}

TEST(Pretokenize, CombiningMarksStayInWords) {
    // Decomposed "naïve" (i + U+0308) is one piece; so is a lone combining mark.
    EXPECT_EQ(split("nai\u0308ve"), (Pieces{"nai\u0308ve"}));
    EXPECT_EQ(split("\u0301"), (Pieces{"\u0301"}));
    EXPECT_EQ(split("\u0301abc"), (Pieces{"\u0301abc"}));
    // Devanagari: Lo letters with Mc/Mn vowel signs.
    EXPECT_EQ(split("\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e"),
              (Pieces{"\u0928\u092e\u0938\u094d\u0924\u0947", " \u0926\u0941\u0928\u093f\u092f\u093e"}));
}

TEST(Pretokenize, PiecesCoverTheTextExactly) {
    std::string text = "Hello, 世界! 🤷🏽‍♀️ \r\n\t 123,456.78 ǅ x\u0085y";
    std::string joined;
    for (const std::string& piece : split(text)) {
        EXPECT_FALSE(piece.empty());
        joined += piece;
    }
    EXPECT_EQ(joined, text);
}

TEST(UnicodeTables, PropertiesFromTheUcd) {
    using namespace unicode;
    EXPECT_TRUE(flags(0x0085) & kSpace);
    EXPECT_FALSE(flags(0xFEFF) & kSpace);
    EXPECT_TRUE(flags(0x2028) & kSpace);
    EXPECT_TRUE(flags(0x3000) & kSpace);
    EXPECT_FALSE(flags(0x200B) & kSpace); // ZERO WIDTH SPACE is Cf, not White_Space
    EXPECT_EQ(flags(0x01C5) & (kLetter | kUpperLike | kLowerLike), kLetter | kUpperLike);              // Lt
    EXPECT_EQ(flags(0x02B0) & (kUpperLike | kLowerLike), kUpperLike | kLowerLike);                     // Lm
    EXPECT_EQ(flags(0x4E16) & (kLetter | kUpperLike | kLowerLike), kLetter | kUpperLike | kLowerLike); // Lo
    EXPECT_EQ(flags(0x0308), kMark | kUpperLike | kLowerLike);
    EXPECT_TRUE(flags(0x2167) & kNumber);  // ROMAN NUMERAL EIGHT is Nl
    EXPECT_TRUE(flags(0x20000) & kLetter); // CJK Extension B comes from a First/Last range
    EXPECT_EQ(flags(0x0378), 0);           // unassigned
    EXPECT_EQ(flags(0x10FFFF), 0);
    EXPECT_STREQ(kUnicodeVersion, "16.0.0");
}

} // namespace
} // namespace tllm
