// Documents -> PageContents, the text the browser shows: HTML as the reference's process_html renders it
// (gumbo instead of lxml, a hand-made html2text), Markdown as its process_markdown does, plain text as it is.
#pragma once

#include "tools/browser/page.h"

#include <string_view>

namespace tllm::tools {

struct DocumentSource {
    std::string_view url;   // the page's URL: base for relative links, shown in the header
    std::string_view title; // "" = take it from the document (<title>, first heading) or the URL's domain
    // Put "\nURL: {url}\n" above the text, as the reference does for every page its backends return.
    bool display_url = true;
};

// Any bytes: invalid UTF-8 is replaced, never rejected.
PageContents process_html(std::string_view html, const DocumentSource& source);
PageContents process_markdown(std::string_view markdown, const DocumentSource& source);
PageContents process_plain_text(std::string_view text, const DocumentSource& source);
// view_source: the document's own text, line by line, with no links.
PageContents process_source(std::string_view source_text, const DocumentSource& source);

// The reference's special-character pass over raw documents: 【 and 】 (the link brackets) become 〖 and 〗,
// ◼ becomes ◾, zero-width spaces and characters of the Supplementary Multilingual Plane (emoji) go.
std::string replace_special_characters(std::string_view text);

} // namespace tllm::tools
