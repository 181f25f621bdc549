// Unicode helpers for the browser: the reference tool is Python, so line widths, truncation and regex classes
// (\s, \w, \d) count and classify code points the way Python's str does; these give the same answers over UTF-8.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tllm::tools::browser_text {

// Replaces every invalid UTF-8 sequence (bad lead byte, truncated or overlong sequence, surrogate) with U+FFFD
// and drops NUL bytes, so that everything downstream may assume valid UTF-8.
std::string sanitize_utf8(std::string_view bytes);

// Decodes one code point of valid UTF-8 at `pos` and advances it.
char32_t next_code_point(std::string_view text, size_t& pos);
std::u32string decode_utf8(std::string_view text);
void append_utf8(std::string& out, char32_t code_point);
std::string encode_utf8(std::u32string_view text);
size_t count_code_points(std::string_view text);

// Python's str.isspace(), i.e. what `\s` matches in a str pattern.
bool is_space(char32_t c);
// Python's `\d` (ASCII and the common Unicode decimal digit blocks).
bool is_digit(char32_t c);
// Python's `\w`: letters, digits and underscore. Non-ASCII letters are approximated by "not a known
// punctuation, symbol or space block", which covers the scripts web pages use.
bool is_word(char32_t c);
// Python's str.lower() for ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic capitals.
char32_t to_lower(char32_t c);
std::string to_lower(std::string_view text);

// Python's str.strip() (Unicode whitespace on both ends).
std::string_view strip(std::string_view text);
// `re.sub(r"\s+", " ", text.replace("\n", " "))`: every whitespace run becomes one space, ends kept.
std::string merge_whitespace(std::string_view text);
// The reference's maybe_truncate: at most `max_chars` code points, the last three replaced by "..." when cut.
std::string truncate_with_ellipsis(std::string_view text, size_t max_chars = 1024);
// Cuts at a code point boundary at or below `max_bytes`.
std::string_view cut_at_char_boundary(std::string_view text, size_t max_bytes);

// Python's json.dumps() of a string (ensure_ascii: non-ASCII as \uXXXX, surrogate pairs above U+FFFF).
std::string python_json_string(std::string_view text);

} // namespace tllm::tools::browser_text
