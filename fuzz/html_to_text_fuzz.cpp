// libFuzzer target: any bytes a web server sends must convert to browser text without crashing, hanging or
// producing what the display cannot handle. The first byte picks the document kind; the page then goes through
// the whole display path (wrapping, viewport, find, citations).
#include "core/check.h"
#include "tools/browser/browser.h"
#include "tools/browser/display.h"
#include "tools/browser/html_to_text.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace {

using namespace tllm::tools;

bool valid_utf8(std::string_view text) {
    size_t pos = 0;
    while (pos < text.size()) {
        const auto lead = static_cast<unsigned char>(text[pos]);
        const size_t length = lead < 0x80         ? 1
                              : (lead >> 5) == 6  ? 2
                              : (lead >> 4) == 14 ? 3
                              : (lead >> 3) == 30 ? 4
                                                  : 0;
        if (length == 0 || pos + length > text.size()) {
            return false;
        }
        for (size_t i = 1; i < length; ++i) {
            if ((static_cast<unsigned char>(text[pos + i]) & 0xC0) != 0x80) {
                return false;
            }
        }
        pos += length;
    }
    return true;
}

// Serves the fuzzed page for every URL.
class OnePageBackend final : public BrowserBackend {
  public:
    explicit OnePageBackend(PageContents page) : page_(std::move(page)) {}
    tllm::Result<PageContents> search(std::string_view, int) override { return page_; }
    tllm::Result<PageContents> fetch(std::string_view) override { return page_; }
    std::string source() const override { return "fuzz"; }

  private:
    PageContents page_;
};

size_t count_characters(std::string_view text) {
    size_t count = 0;
    for (char byte : text) {
        count += (static_cast<unsigned char>(byte) & 0xC0) != 0x80;
    }
    return count;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) {
        return 0;
    }
    const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
    const DocumentSource source{"https://fuzz.example/dir/page.html?q=1", "", (data[0] & 4) != 0};
    PageContents page;
    switch (data[0] & 3) {
    case 0:
        page = process_html(input, source);
        break;
    case 1:
        page = process_markdown(input, source);
        break;
    case 2:
        page = process_plain_text(input, source);
        break;
    default:
        page = process_source(input, source);
        break;
    }
    TLLM_CHECK(valid_utf8(page.text) && valid_utf8(page.title), "invalid UTF-8 out of the converter");
    for (const BracketLink& link : find_bracket_links(page.text)) {
        // Every link the text shows must lead somewhere: its id names an entry of `links`.
        TLLM_CHECK(link.number.size() < 9 && std::stoul(std::string(link.number)) < page.links.size(),
                   "link id {} of {} links", link.number, page.links.size());
    }
    for (const std::string& line : wrap_lines(page.text)) {
        TLLM_CHECK(count_characters(line) <= 80, "a wrapped line is longer than 80 characters");
    }

    Browser browser(std::make_unique<OnePageBackend>(page), BrowserOptions{200, 20, &count_characters});
    const std::string shown = browser.call("search", R"({"query": "q"})");
    TLLM_CHECK(shown.starts_with("[0] " + page.title), "the page was not shown: {}", shown.substr(0, 200));
    browser.call("open", R"({"loc": 3, "num_lines": 5})");
    if (!page.links.empty()) {
        browser.call("open", R"({"id": 0, "cursor": 0})");
    }
    const std::string found = browser.call("find", R"({"pattern": "a", "cursor": 0})");
    TLLM_CHECK(valid_utf8(found), "invalid UTF-8 in the find page");
    browser.call("open", R"({"id": 1})");
    const NormalizedCitations citations =
        browser.normalize_citations_with_links(std::string(input.substr(0, 200)) + " 【0†L1-L2】 【1†L");
    TLLM_CHECK(citations.has_partial_citation, "the trailing partial citation went unnoticed");
    return 0;
}
