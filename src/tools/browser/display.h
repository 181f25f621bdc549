// How the reference browser lays a page out for the model: 80-column wrapping (Python's textwrap with
// whitespace kept), numbered lines, a viewport of about `view_tokens` tokens, the find-results page.
#pragma once

#include "tools/browser/page.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tllm::tools {

using TokenCounter = std::function<size_t(std::string_view)>;

// textwrap.wrap(line, width=80, replace_whitespace=False, drop_whitespace=False) for each line of `text`;
// empty lines are kept as empty lines.
std::vector<std::string> wrap_lines(std::string_view text, size_t width = 80);
// "L{offset+i}: {line}" joined with newlines.
std::string number_lines(const std::vector<std::string>& lines, size_t first, size_t end);

// One past the last line to show from `loc`: `num_lines` lines when positive, else as many as fit in
// `view_tokens` tokens of the numbered text (the line where the token budget runs out is included).
size_t viewport_end(const std::vector<std::string>& lines,
                    size_t loc,
                    int64_t num_lines,
                    size_t view_tokens,
                    const TokenCounter& count_tokens);

// A rough o200k count for when no tokenizer is plugged in: ASCII text runs about four characters to a token,
// other scripts about one character.
size_t estimate_tokens(std::string_view text);

// The reference's strip_links: 【id†text†domain】 -> text, also for a link cut at either end of the text.
std::string strip_links(std::string_view text);

// A match of `【\d+†(?P<content>[^†】]+)(?:†[^†】]+)?】` (links on pages, citations in answers); byte offsets.
struct BracketLink {
    size_t start = 0;
    size_t end = 0;
    std::string_view number;
    std::string_view content;
};
std::vector<BracketLink> find_bracket_links(std::string_view text);

// A match of `【\d*(?:†(?P<content>[^†】]*)(?:†[^†】]*)?)?$`: a link or citation cut off by the end of the text.
struct PartialBracketLink {
    size_t start = 0;
    size_t end = 0;
    std::string_view content;
};
std::optional<PartialBracketLink> find_partial_final_link(std::string_view text);

// The find-results page for `pattern` (already lower-cased) on `page`: up to 50 matches of 4 lines each.
PageContents find_in_page(std::string_view pattern, const PageContents& page);

} // namespace tllm::tools
