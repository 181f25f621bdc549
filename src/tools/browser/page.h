// A page as the browser shows it to the model: text with links already rendered as 【id†text†domain】 and the
// URL behind each link id (the reference's PageContents).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tllm::tools {

// Where a link of a find-results page points: its match, so opening it scrolls to the line.
struct PageSnippet {
    std::string url;
    std::string text;
    std::string title;
    std::optional<int64_t> line_index;
};

struct PageContents {
    std::string url; // "" for search results pages, as in the reference
    std::string title;
    std::string text;
    std::vector<std::string> links; // link id (the index) -> absolute URL
    // Present on find-results pages only: one per link id. `find` refuses pages that carry them.
    std::optional<std::vector<PageSnippet>> snippets;
};

} // namespace tllm::tools
