#include "tools/browser/html_to_text.h"

#include "tools/browser/html_events.h"
#include "tools/browser/text_util.h"
#include "tools/browser/url.h"

namespace tllm::tools {

std::string document_url_header(const DocumentSource& source) {
    return source.display_url ? "\nURL: " + std::string(source.url) + "\n" : std::string();
}

std::string normalize_line_ends(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\r') {
            out += '\n';
            if (i + 1 < text.size() && text[i + 1] == '\n') {
                ++i;
            }
        } else {
            out += text[i];
        }
    }
    return out;
}

std::string replace_special_characters(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    size_t pos = 0;
    while (pos < text.size()) {
        const size_t start = pos;
        const char32_t c = browser_text::next_code_point(text, pos);
        if ((c >= 0x10000 && c <= 0x1FFFF) || c == 0x200B) {
            continue;
        }
        if (c == U'【') {
            out += "〖";
        } else if (c == U'】') {
            out += "〗";
        } else if (c == U'◼') {
            out += "◾";
        } else {
            out.append(text.substr(start, pos - start));
        }
    }
    return out;
}

PageContents process_html(std::string_view html, const DocumentSource& source) {
    const std::string clean = replace_special_characters(browser_text::sanitize_utf8(html));
    html_detail::HtmlDocument document = html_detail::parse_html_document(clean, source.url);

    PageContents page;
    page.url = std::string(source.url);
    if (!source.title.empty()) {
        page.title = std::string(source.title);
    } else if (document.title_element_text &&
               !browser_text::strip(browser_text::merge_whitespace(*document.title_element_text)).empty()) {
        // The reference keeps <title> text raw; its backends always passed the search API's clean title, so
        // what the model knows is a one-line title.
        page.title = std::string(browser_text::strip(browser_text::merge_whitespace(*document.title_element_text)));
    } else if (!source.url.empty()) {
        page.title = browser_url::domain_of(source.url);
    }
    page.links = std::move(document.links);
    page.text = document_url_header(source) + html_detail::render_events_as_text(std::move(document.events));
    return page;
}

PageContents process_plain_text(std::string_view text, const DocumentSource& source) {
    PageContents page;
    page.url = std::string(source.url);
    page.title = !source.title.empty() ? std::string(source.title) : browser_url::domain_of(source.url);
    const std::string clean = normalize_line_ends(replace_special_characters(browser_text::sanitize_utf8(text)));
    page.text = document_url_header(source) + std::string(browser_text::strip(html_detail::clean_blank_lines(clean)));
    return page;
}

PageContents process_source(std::string_view source_text, const DocumentSource& source) {
    PageContents page;
    page.url = std::string(source.url);
    page.title = !source.title.empty() ? std::string(source.title) : browser_url::domain_of(source.url);
    page.text = document_url_header(source) +
                normalize_line_ends(replace_special_characters(browser_text::sanitize_utf8(source_text)));
    return page;
}

} // namespace tllm::tools
