// libFuzzer target: the model's tool calls. Any function name and any argument text must give a reply (never
// a crash or an exception), and the page stack must stay consistent. Input: function name, a newline, then
// the JSON arguments; calls are separated by a NUL byte.
#include "core/check.h"
#include "tools/browser/browser.h"
#include "tools/browser/html_to_text.h"
#include "tools/browser/search_results.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace {

using namespace tllm::tools;

class FixedBackend final : public BrowserBackend {
  public:
    tllm::Result<PageContents> search(std::string_view query, int) override {
        return make_search_results_page(query, {{"One", "https://one.example/a", "First result."},
                                                {"Two", "https://two.example/b", "Second result."}});
    }
    tllm::Result<PageContents> fetch(std::string_view url) override {
        if (url.find("two") != std::string_view::npos) {
            return tllm::make_error(tllm::ErrorCode::kNetwork, "the server answered HTTP 500");
        }
        std::string html = "<h1>Page</h1>";
        for (int i = 0; i < 40; ++i) {
            html += "<p>Paragraph " + std::to_string(i) + " with a <a href=\"/p" + std::to_string(i) +
                    "\">link</a> and some text to wrap past eighty columns of width, surely.</p>";
        }
        return process_html(html, DocumentSource{url, "", true});
    }
    std::string source() const override { return "web"; }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Browser browser(std::make_unique<FixedBackend>(), BrowserOptions{300, 20, {}});
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    size_t start = 0;
    int calls = 0;
    while (start <= input.size() && calls < 16) {
        const size_t end = std::min(input.find('\0', start), input.size());
        const std::string_view call = input.substr(start, end - start);
        const size_t newline = call.find('\n');
        const std::string_view name = call.substr(0, newline);
        const std::string_view arguments = newline == std::string_view::npos ? "" : call.substr(newline + 1);
        const size_t pages_before = browser.page_count();
        const std::string reply = browser.call(name, arguments);
        TLLM_CHECK(!reply.empty(), "empty reply");
        TLLM_CHECK(browser.page_count() <= pages_before + 1, "one call added several pages");
        if (reply.starts_with("[")) {
            // A page was shown: its cursor is the top of the stack.
            TLLM_CHECK(reply.starts_with("[" + std::to_string(browser.page_count() - 1) + "] "), "wrong cursor: {}",
                       reply.substr(0, 40));
        }
        browser.normalize_citations(reply);
        start = end + 1;
        ++calls;
    }
    return 0;
}
