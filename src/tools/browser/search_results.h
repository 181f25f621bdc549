// The search results page every backend returns: the reference builds a small HTML list of the hits and runs
// it through process_html, so results read "  * 【id†title†domain】 summary" under "# Search Results".
#pragma once

#include "tools/browser/page.h"

#include <string>
#include <string_view>
#include <vector>

namespace tllm::tools {

struct SearchHit {
    std::string title;
    std::string url;
    std::string summary;
};

PageContents make_search_results_page(std::string_view query, const std::vector<SearchHit>& hits);

} // namespace tllm::tools
