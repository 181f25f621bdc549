// Internal stages of the HTML -> text conversion (html_to_text.h is the public face).
//
// The reference serialises its cleaned lxml tree, rewrites that HTML with regexes and feeds it to html2text's
// event-driven parser. We follow the same shape: gumbo's tree becomes the event stream that serialisation and
// re-parsing would give (start tag, text, end tag), the regexes are applied to that stream, and an emulation of
// html2text (with the reference's settings) turns it into text.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tllm::tools::html_detail {

// kHiddenText is text the reference serialises but html2text keeps quiet (script, style, head) or that we drop
// (noscript, svg...): it is never shown, but like any text it decides whether a run of tags gets a space.
enum class HtmlEventKind { kStartTag, kEndTag, kText, kHiddenText, kComment };

struct HtmlEvent {
    HtmlEventKind kind;
    std::string tag;  // lower-case element name for tags
    std::string text; // for text events: decoded text (entities already resolved)
    // The one attribute the text rendering reads: "start" of <ol>/<ul>, "title" of <abbr>.
    std::optional<std::string> attribute;
};

struct HtmlDocument {
    std::vector<HtmlEvent> events;
    std::vector<std::string> links; // link id -> absolute URL
    std::optional<std::string> title_element_text;
};

// Drops start tags (and as many end tags) nested deeper than `max_depth` elements, as browsers flatten them.
std::string limit_nesting_depth(std::string_view html, size_t max_depth = 512);

// Parses `html` (valid UTF-8) with gumbo and produces the event stream of the reference's cleaned tree: links
// replaced by 【id†text†domain】 (resolved against `page_url`), images by "[Image n: alt]", and script, style,
// head, noscript, template, iframe, svg and math content dropped.
HtmlDocument parse_html_document(std::string_view html, std::string_view page_url);

// The text html2text gives for the events (after the reference's sup/sub and tag-spacing rewrites), with the
// reference's cleanup of blank lines applied.
std::string render_events_as_text(std::vector<HtmlEvent> events);

// The reference's final cleanup: `re.sub(r"^\s+$", "", text, flags=re.M)` then `re.sub(r"\n(\s*\n)+", "\n\n", text)`.
std::string clean_blank_lines(const std::string& text);

} // namespace tllm::tools::html_detail

namespace tllm::tools {

struct DocumentSource;
// "\nURL: {url}\n" when the source asks for it.
std::string document_url_header(const DocumentSource& source);
// CR LF and lone CR -> LF.
std::string normalize_line_ends(std::string_view text);

} // namespace tllm::tools
