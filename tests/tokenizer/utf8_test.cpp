// UTF-8 validation, lossy decoding (maximal-subpart substitution) and the streaming decoder.
#include "tokenizer/unicode_tables.h"
#include "tokenizer/utf8.h"

#include <gtest/gtest.h>

namespace tllm {
namespace {

TEST(Utf8, ValidPrefix) {
    std::string_view ascii = "plain ascii text, long enough for the word-at-a-time loop";
    EXPECT_EQ(unicode::valid_utf8_prefix(ascii), ascii.size());
    EXPECT_EQ(unicode::valid_utf8_prefix("h\xC3\xA9llo \xF0\x9F\x92\x96"), 11u);
    EXPECT_EQ(unicode::valid_utf8_prefix("ab\xF0\x9F"), 2u);       // truncated
    EXPECT_EQ(unicode::valid_utf8_prefix("ab\xED\xA0\x80"), 2u);   // surrogate
    EXPECT_EQ(unicode::valid_utf8_prefix("\xE0\x80\xAF"), 0u);     // overlong
    EXPECT_EQ(unicode::valid_utf8_prefix("\xF4\x90\x80\x80"), 0u); // above U+10FFFF
    EXPECT_EQ(unicode::valid_utf8_prefix("abcdefgh\x80"), 8u);     // stray continuation
    EXPECT_EQ(unicode::valid_utf8_prefix("\xFF"), 0u);
}

TEST(Utf8, LossyReplacesMaximalSubparts) {
    EXPECT_EQ(utf8_lossy("ok"), "ok");
    // F0 9F is a truncated 4-byte sequence: one U+FFFD for both bytes.
    EXPECT_EQ(utf8_lossy(" \xF0\x9F \xF0\x9Fworked"), " \uFFFD \uFFFDworked");
    EXPECT_EQ(utf8_lossy("\x80\x80"), "\uFFFD\uFFFD");
    EXPECT_EQ(utf8_lossy("\xE0\x80"), "\uFFFD\uFFFD"); // E0 80: 80 cannot follow E0
    EXPECT_EQ(utf8_lossy("a\xC3"), "a\uFFFD");
}

TEST(Utf8, StreamHoldsBackIncompleteSequences) {
    Utf8StreamDecoder decoder;
    // U+1F496 (F0 9F 92 96) split across three chunks.
    EXPECT_EQ(decoder.push("a\xF0"), "a");
    EXPECT_TRUE(decoder.has_pending());
    EXPECT_EQ(decoder.push("\x9F\x92"), "");
    EXPECT_EQ(decoder.push("\x96!"), "\xF0\x9F\x92\x96!");
    EXPECT_FALSE(decoder.has_pending());
    // The incomplete sequence is invalid once a byte that cannot continue it arrives.
    EXPECT_EQ(decoder.push(" \xF0\x9F"), " ");
    EXPECT_EQ(decoder.push(" \xF0\x9F"), "\uFFFD ");
    EXPECT_EQ(decoder.push("worked"), "\uFFFDworked");
    // Flushing turns what is held back into U+FFFD.
    EXPECT_EQ(decoder.push("\xE4\xB8"), "");
    EXPECT_EQ(decoder.flush(), "\uFFFD");
    EXPECT_FALSE(decoder.has_pending());
}

TEST(Utf8, IncompleteTail) {
    EXPECT_EQ(utf8_incomplete_tail("abc"), 0u);
    EXPECT_EQ(utf8_incomplete_tail("a\xE4"), 1u);
    EXPECT_EQ(utf8_incomplete_tail("a\xE4\xB8"), 2u);
    EXPECT_EQ(utf8_incomplete_tail("a\xE4\xB8\x96"), 0u);
    EXPECT_EQ(utf8_incomplete_tail("a\xF0\x9F\x92"), 3u);
    EXPECT_EQ(utf8_incomplete_tail("a\xE0\x80"), 0u); // can never complete
    EXPECT_EQ(utf8_incomplete_tail("\x80\x80\x80"), 0u);
}

} // namespace
} // namespace tllm
