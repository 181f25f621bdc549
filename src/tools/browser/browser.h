// The browser tool gpt-oss was trained with (the reference's SimpleBrowserTool): a stack of pages the model
// addresses by cursor, `search`, `open` and `find` over it, and the page display the model reads.
//
// One Browser per conversation (it is stateful and not thread-safe). The chat loop calls `call()` with the
// function name from the recipient (`browser.search` -> "search") and the message's JSON arguments, and gets
// back the text of the tool's reply: the reference answers with a message from author `browser.<function>`
// (role tool) to recipient `assistant`, on the channel of the call.
#pragma once

#include "core/check.h"
#include "core/result.h"
#include "tools/browser/backend.h"
#include "tools/browser/display.h"
#include "tools/browser/page.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tllm::tools {

struct BrowserOptions {
    size_t view_tokens = 1024;   // viewport size when `num_lines` is not given
    int max_search_results = 20; // the reference asks the backend for 20 hits whatever `topn` says
    // Counts tokens of the viewport text (the reference uses o200k); empty = estimate_tokens.
    TokenCounter count_tokens;
};

struct SearchArgs {
    std::string query;
    int64_t topn = 10; // accepted and ignored, as in the reference
    std::optional<std::string> source;
};

struct OpenArgs {
    // A link id on the page at `cursor`, or a URL; -1 (and no URL) scrolls the page at `cursor`.
    std::variant<int64_t, std::string> id = int64_t{-1};
    int64_t cursor = -1;
    int64_t loc = -1;
    int64_t num_lines = -1;
    bool view_source = false;
    std::optional<std::string> source;

    static OpenArgs link(int64_t link_id, int64_t cursor = -1) {
        OpenArgs args;
        args.id = link_id;
        args.cursor = cursor;
        return args;
    }
    static OpenArgs url(std::string url) {
        OpenArgs args;
        args.id = std::move(url);
        return args;
    }
};

struct FindArgs {
    std::string pattern;
    int64_t cursor = -1;
};

// A citation 【cursor†Lx-Ly】 turned into " ([domain](url)) ", as chat.py shows them.
struct CitationLink {
    size_t start = 0; // byte offsets of the replacement in the normalised text
    size_t end = 0;
    std::string title; // the domain
    std::string url;
};

struct NormalizedCitations {
    std::string text;
    std::vector<CitationLink> citations;
    // The text ends inside a citation still being generated; a streaming display holds it back.
    bool has_partial_citation = false;
};

class Browser {
  public:
    static constexpr std::string_view kToolName = "browser";

    explicit Browser(std::unique_ptr<BrowserBackend> backend, BrowserOptions options = {});

    // The namespace description of the reference's tool_config, ending in `sources=<backend source>`.
    std::string description() const;
    std::string description_source_line() const;

    // The text the model reads, or the error message it reads instead (Error::message()).
    Result<std::string> search(const SearchArgs& args);
    Result<std::string> open(const OpenArgs& args);
    Result<std::string> find(const FindArgs& args);

    // Runs `function_name` ("search", "open", "find"; a "browser." prefix is accepted) with the model's JSON
    // arguments and returns the reply text, errors included: never throws, never fails.
    std::string call(std::string_view function_name, std::string_view json_arguments);

    // chat.py's display of citations: each 【cursor†...】 whose cursor names a page with a URL becomes
    // " ([domain](url)) ". With `hide_partial_citation`, a citation cut off at the end is removed.
    NormalizedCitations normalize_citations_with_links(std::string_view text, bool hide_partial_citation = false) const;
    std::string normalize_citations(std::string_view text) const;

    // The page stack, oldest first (cursor = index).
    size_t page_count() const { return stack_.size(); }
    const PageContents& page(size_t cursor) const {
        TLLM_CHECK(cursor < stack_.size(), "cursor {} past the {} pages", cursor, stack_.size());
        return stack_[cursor]->contents;
    }

  private:
    struct ViewedPage {
        PageContents contents;
        std::vector<std::string> lines; // wrapped once, shown many times
    };
    using PagePointer = std::shared_ptr<const ViewedPage>;

    Result<PagePointer> page_at_cursor(int64_t cursor) const;
    Result<PagePointer> open_url(const std::string& url, bool refresh);
    PagePointer remember(PageContents contents, bool cache_by_url);
    Result<std::string> show_top_page(int64_t loc, int64_t num_lines);
    Result<std::string> show_top_page_or_drop_it(int64_t loc, int64_t num_lines);

    std::unique_ptr<BrowserBackend> backend_;
    BrowserOptions options_;
    std::vector<PagePointer> stack_;
    std::map<std::string, PagePointer> pages_by_url_; // the reference's page cache, for following links
};

} // namespace tllm::tools
