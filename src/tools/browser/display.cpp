#include "tools/browser/display.h"

#include "tools/browser/text_util.h"
#include "tools/browser/url.h"

#include <algorithm>
#include <fmt/format.h>

namespace tllm::tools {

namespace {

using browser_text::is_digit;
using browser_text::is_word;

// textwrap's whitespace: ASCII only.
bool is_wrap_space(char32_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }
bool is_letter(char32_t c) { return is_word(c) && !is_digit(c); }
bool is_word_punct(char32_t c) {
    return is_word(c) || c == '!' || c == '"' || c == '\'' || c == '&' || c == '.' || c == ',' || c == '?';
}

std::u32string expand_tabs(std::u32string_view line) {
    std::u32string out;
    size_t column = 0;
    for (char32_t c : line) {
        if (c == '\t') {
            const size_t spaces = 8 - column % 8;
            out.append(spaces, U' ');
            column += spaces;
        } else {
            out.push_back(c);
            column = (c == '\n' || c == '\r') ? 0 : column + 1;
        }
    }
    return out;
}

// Length of a run of at least two dashes at `pos` that a word character follows, else 0 (`-{2,}(?=\w)`).
size_t em_dash_length(std::u32string_view s, size_t pos) {
    size_t end = pos;
    while (end < s.size() && s[end] == '-') {
        ++end;
    }
    return (end - pos >= 2 && end < s.size() && is_word(s[end])) ? end - pos : 0;
}

// textwrap.TextWrapper.wordsep_re (break_on_hyphens): whitespace runs, em-dashes between words, and words,
// split after a hyphen that joins letters.
std::vector<std::u32string_view> split_chunks(std::u32string_view s) {
    std::vector<std::u32string_view> chunks;
    size_t pos = 0;
    while (pos < s.size()) {
        if (is_wrap_space(s[pos])) {
            size_t end = pos;
            while (end < s.size() && is_wrap_space(s[end])) {
                ++end;
            }
            chunks.push_back(s.substr(pos, end - pos));
            pos = end;
            continue;
        }
        if (pos > 0 && is_word_punct(s[pos - 1])) {
            if (const size_t dashes = em_dash_length(s, pos); dashes > 0) {
                chunks.push_back(s.substr(pos, dashes));
                pos += dashes;
                continue;
            }
        }
        size_t end = pos + 1;
        while (true) {
            const auto letter_at = [&](size_t i) { return i < s.size() && is_letter(s[i]); };
            if (end < s.size() && s[end] == '-' &&
                ((end >= 2 && letter_at(end - 2) && letter_at(end - 1)) ||
                 (end >= 3 && letter_at(end - 3) && s[end - 2] == '-' && letter_at(end - 1))) &&
                letter_at(end + 1) &&
                ((end + 3 < s.size() && s[end + 2] == '-' && letter_at(end + 3)) || letter_at(end + 2))) {
                ++end; // a hyphenated word breaks after its hyphen
                break;
            }
            if (end == s.size() || is_wrap_space(s[end])) {
                break;
            }
            if (is_word_punct(s[end - 1]) && em_dash_length(s, end) > 0) {
                break;
            }
            ++end;
        }
        chunks.push_back(s.substr(pos, end - pos));
        pos = end;
    }
    return chunks;
}

// textwrap's _wrap_chunks with break_long_words and drop_whitespace=False.
void wrap_one_line(std::u32string_view line, size_t width, std::vector<std::string>& lines) {
    const std::u32string expanded = expand_tabs(line);
    std::vector<std::u32string_view> chunks = split_chunks(expanded);
    size_t next = 0;
    while (next < chunks.size()) {
        std::u32string current;
        while (next < chunks.size() && current.size() + chunks[next].size() <= width) {
            current += chunks[next++];
        }
        if (next < chunks.size() && chunks[next].size() > width) {
            const size_t space_left = width - current.size();
            std::u32string_view chunk = chunks[next];
            size_t end = space_left;
            const size_t hyphen = space_left == 0 ? std::u32string_view::npos : chunk.rfind(U'-', space_left - 1);
            if (hyphen != std::u32string_view::npos && hyphen > 0 &&
                std::any_of(chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(hyphen),
                            [](char32_t c) { return c != U'-'; })) {
                end = hyphen + 1;
            }
            current += chunk.substr(0, end);
            chunks[next] = chunk.substr(end);
        }
        lines.push_back(browser_text::encode_utf8(current));
    }
}

constexpr std::string_view kOpenBracket = "【";
constexpr std::string_view kCloseBracket = "】";
constexpr std::string_view kDagger = "†";

size_t skip_ascii_digits(std::string_view text, size_t pos) {
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
        ++pos;
    }
    return pos;
}

// First † or 】 at or after `pos`, or the end.
size_t next_dagger_or_close(std::string_view text, size_t pos) {
    const size_t dagger = text.find(kDagger, pos);
    const size_t close = text.find(kCloseBracket, pos);
    return std::min({dagger, close, text.size()});
}

// `^[^【】]*】` -> "".
std::string strip_partial_initial_link(std::string_view text) {
    const size_t close = text.find(kCloseBracket);
    if (close != std::string_view::npos && text.substr(0, close).find(kOpenBracket) == std::string_view::npos) {
        return std::string(text.substr(close + kCloseBracket.size()));
    }
    return std::string(text);
}

std::string strip_partial_final_link(const std::string& text) {
    const std::optional<PartialBracketLink> partial = find_partial_final_link(text);
    if (!partial) {
        return text;
    }
    return text.substr(0, partial->start) + std::string(partial->content) + text.substr(partial->end);
}

std::string strip_complete_links(const std::string& text) {
    std::string out;
    size_t copied = 0;
    for (const BracketLink& link : find_bracket_links(text)) {
        out.append(text, copied, link.start - copied);
        out += link.content;
        copied = link.end;
    }
    out.append(text, copied);
    return out;
}

std::vector<std::string> split_on_newlines(std::string_view text) {
    std::vector<std::string> lines;
    size_t start = 0;
    while (true) {
        const size_t newline = text.find('\n', start);
        lines.emplace_back(text.substr(start, newline == std::string_view::npos ? newline : newline - start));
        if (newline == std::string_view::npos) {
            return lines;
        }
        start = newline + 1;
    }
}

} // namespace

std::vector<std::string> wrap_lines(std::string_view text, size_t width) {
    std::vector<std::string> lines;
    for (const std::string& line : split_on_newlines(text)) {
        if (line.empty()) {
            lines.emplace_back();
        } else {
            wrap_one_line(browser_text::decode_utf8(line), width, lines);
        }
    }
    return lines;
}

std::string number_lines(const std::vector<std::string>& lines, size_t first, size_t end) {
    std::string out;
    for (size_t i = first; i < end && i < lines.size(); ++i) {
        out += fmt::format("{}L{}: {}", i == first ? "" : "\n", i, lines[i]);
    }
    return out;
}

size_t viewport_end(const std::vector<std::string>& lines,
                    size_t loc,
                    int64_t num_lines,
                    size_t view_tokens,
                    const TokenCounter& count_tokens) {
    const size_t total = lines.size();
    if (num_lines > 0) {
        return std::min(loc + static_cast<size_t>(num_lines), total);
    }
    const size_t remaining = total - std::min(loc, total);
    // Each token is at least one character, so text no longer than the budget in characters always fits.
    size_t characters = 0;
    for (size_t i = loc; i < total && characters <= view_tokens; ++i) {
        characters += (i == loc ? 0 : 1) + fmt::formatted_size("L{}: ", i) + browser_text::count_code_points(lines[i]);
    }
    if (characters <= view_tokens) {
        return total;
    }
    // The first k lines (with the newline that ends them) hold more than `view_tokens` tokens exactly when the
    // token at index `view_tokens` starts inside them, the last line the reference shows.
    const auto exceeds_budget = [&](size_t k) {
        std::string prefix = number_lines(lines, loc, loc + k);
        if (loc + k < total) {
            prefix += '\n';
        }
        return count_tokens(prefix) > view_tokens;
    };
    size_t low = 0; // known to fit
    size_t high = 1;
    while (high < remaining && !exceeds_budget(high)) {
        low = high;
        high = std::min(high * 2, remaining);
    }
    if (high >= remaining && !exceeds_budget(remaining)) {
        return total;
    }
    while (high - low > 1) {
        const size_t middle = low + (high - low) / 2;
        if (exceeds_budget(middle)) {
            high = middle;
        } else {
            low = middle;
        }
    }
    return std::min(loc + high, total);
}

size_t estimate_tokens(std::string_view text) {
    size_t ascii = 0;
    size_t other = 0;
    for (char byte : text) {
        const auto value = static_cast<unsigned char>(byte);
        if (value < 0x80) {
            ++ascii;
        } else if ((value & 0xC0) != 0x80) {
            ++other;
        }
    }
    return (ascii + 3) / 4 + other;
}

std::vector<BracketLink> find_bracket_links(std::string_view text) {
    std::vector<BracketLink> links;
    size_t open = text.find(kOpenBracket);
    while (open != std::string_view::npos) {
        const size_t digits_start = open + kOpenBracket.size();
        const size_t digits_end = skip_ascii_digits(text, digits_start);
        size_t match_end = std::string_view::npos;
        size_t content_start = 0;
        size_t content_end = 0;
        if (digits_end > digits_start && text.substr(digits_end, kDagger.size()) == kDagger) {
            content_start = digits_end + kDagger.size();
            content_end = next_dagger_or_close(text, content_start);
            if (content_end > content_start && content_end < text.size()) {
                if (text.substr(content_end, kCloseBracket.size()) == kCloseBracket) {
                    match_end = content_end + kCloseBracket.size();
                } else {
                    const size_t domain_start = content_end + kDagger.size();
                    const size_t domain_end = next_dagger_or_close(text, domain_start);
                    if (domain_end > domain_start && domain_end < text.size() &&
                        text.substr(domain_end, kCloseBracket.size()) == kCloseBracket) {
                        match_end = domain_end + kCloseBracket.size();
                    }
                }
            }
        }
        if (match_end == std::string_view::npos) {
            open = text.find(kOpenBracket, open + 1);
            continue;
        }
        links.push_back({open, match_end, text.substr(digits_start, digits_end - digits_start),
                         text.substr(content_start, content_end - content_start)});
        open = text.find(kOpenBracket, match_end);
    }
    return links;
}

std::optional<PartialBracketLink> find_partial_final_link(std::string_view text) {
    const size_t last_close = text.rfind(kCloseBracket);
    const size_t last_dagger = text.rfind(kDagger);
    const size_t second_last_dagger = (last_dagger == std::string_view::npos || last_dagger == 0)
                                          ? std::string_view::npos
                                          : text.rfind(kDagger, last_dagger - 1);
    for (size_t open = text.find(kOpenBracket); open != std::string_view::npos;
         open = text.find(kOpenBracket, open + 1)) {
        const size_t digits_end = skip_ascii_digits(text, open + kOpenBracket.size());
        if (digits_end == text.size() || (digits_end + 1 == text.size() && text[digits_end] == '\n')) {
            return PartialBracketLink{open, digits_end, {}};
        }
        if (text.substr(digits_end, kDagger.size()) != kDagger) {
            continue;
        }
        // The rest must hold no 】 and at most one more †.
        const bool no_close_after = last_close == std::string_view::npos || last_close < digits_end;
        const bool at_most_one_dagger_after =
            second_last_dagger == std::string_view::npos || second_last_dagger <= digits_end;
        if (no_close_after && at_most_one_dagger_after) {
            const size_t content_start = digits_end + kDagger.size();
            const size_t content_end = next_dagger_or_close(text, content_start);
            return PartialBracketLink{open, text.size(), text.substr(content_start, content_end - content_start)};
        }
    }
    return std::nullopt;
}

std::string strip_links(std::string_view text) {
    return strip_complete_links(strip_partial_final_link(strip_partial_initial_link(text)));
}

PageContents find_in_page(std::string_view pattern, const PageContents& page) {
    const std::vector<std::string> wrapped = wrap_lines(page.text);
    std::string joined;
    for (size_t i = 0; i < wrapped.size(); ++i) {
        joined += (i == 0 ? "" : "\n") + wrapped[i];
    }
    const std::vector<std::string> lines = split_on_newlines(strip_links(joined));

    constexpr size_t kMaxResults = 50;
    constexpr size_t kLinesPerMatch = 4;
    PageContents result;
    result.snippets.emplace();
    std::vector<std::string> chunks;
    size_t line_index = 0;
    while (line_index < lines.size()) {
        if (browser_text::to_lower(lines[line_index]).find(pattern) == std::string::npos) {
            ++line_index;
            continue;
        }
        std::string snippet;
        for (size_t i = line_index; i < line_index + kLinesPerMatch && i < lines.size(); ++i) {
            snippet += (i == line_index ? "" : "\n") + lines[i];
        }
        const size_t match_index = chunks.size();
        chunks.push_back(fmt::format("# 【{}†match at L{}】\n{}", match_index, line_index, snippet));
        result.snippets->push_back(
            {page.url, snippet, fmt::format("#{}", match_index), static_cast<int64_t>(line_index)});
        result.links.push_back(page.url);
        if (chunks.size() == kMaxResults) {
            break;
        }
        line_index += kLinesPerMatch;
    }
    if (chunks.empty()) {
        result.text = fmt::format("No `find` results for pattern: `{}`", pattern);
    }
    for (size_t i = 0; i < chunks.size(); ++i) {
        result.text += (i == 0 ? "" : "\n\n") + chunks[i];
    }
    result.url = page.url + "/find?pattern=" + browser_url::percent_encode(pattern);
    result.title = fmt::format("Find results for text: `{}` in `{}`", pattern, page.title);
    return result;
}

} // namespace tllm::tools
