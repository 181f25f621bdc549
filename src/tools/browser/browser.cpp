#include "tools/browser/browser.h"

#include "core/check.h"
#include "tools/browser/text_util.h"
#include "tools/browser/url.h"

#include <fmt/format.h>

namespace tllm::tools {

namespace {

using browser_text::truncate_with_ellipsis;

Error usage_error(std::string message) { return Error(ErrorCode::kInvalidArgument, std::move(message)); }

} // namespace

Browser::Browser(std::unique_ptr<BrowserBackend> backend, BrowserOptions options)
    : backend_(std::move(backend)), options_(std::move(options)) {
    TLLM_CHECK(backend_ != nullptr, "the browser needs a backend");
    if (!options_.count_tokens) {
        options_.count_tokens = &estimate_tokens;
    }
}

std::string Browser::description() const {
    return "Tool for browsing.\n"
           "The `cursor` appears in brackets before each browsing display: `[{cursor}]`.\n"
           "Cite information from the tool using the following format:\n"
           "`【{cursor}†L{line_start}(-L{line_end})?】`, for example: `【6†L9-L11】` or `【8†L3】`.\n"
           "Do not quote more than 10 words directly from the tool output.\n" +
           description_source_line();
}

std::string Browser::description_source_line() const { return "sources=" + backend_->source(); }

Result<Browser::PagePointer> Browser::page_at_cursor(int64_t cursor) const {
    if (stack_.empty()) {
        return usage_error("No pages to access!");
    }
    const auto current = static_cast<int64_t>(stack_.size()) - 1;
    if (cursor == -1 || cursor == current) {
        return stack_.back();
    }
    // Python list indexing: negative cursors count from the top of the stack.
    const int64_t index = cursor < 0 ? cursor + static_cast<int64_t>(stack_.size()) : cursor;
    if (index < 0 || index > current) {
        return usage_error(
            fmt::format("Cursor `{}` is out of range. Available cursor indices: [0 - {}].", cursor, current));
    }
    return stack_[static_cast<size_t>(index)];
}

Browser::PagePointer Browser::remember(PageContents contents, bool cache_by_url) {
    auto page = std::make_shared<ViewedPage>();
    page->lines = wrap_lines(contents.text);
    page->contents = std::move(contents);
    if (cache_by_url) {
        pages_by_url_[page->contents.url] = page;
    }
    return page;
}

Result<Browser::PagePointer> Browser::open_url(const std::string& url, bool refresh) {
    // Following a link reuses the page already fetched; opening a URL by name is a refresh.
    if (!refresh) {
        if (const auto it = pages_by_url_.find(url); it != pages_by_url_.end()) {
            return it->second;
        }
    }
    Result<PageContents> page = backend_->fetch(url);
    if (!page.ok()) {
        return Error(page.error().code(), fmt::format("Error fetching URL `{}`: {}", truncate_with_ellipsis(url),
                                                      truncate_with_ellipsis(page.error().message())));
    }
    // A source view must not stand in for the page itself when a link to it is followed later.
    return remember(std::move(page).value(), !url.starts_with(kViewSourcePrefix));
}

Result<std::string> Browser::show_top_page(int64_t loc, int64_t num_lines) {
    const ViewedPage& page = *stack_.back();
    const size_t cursor = stack_.size() - 1;
    const size_t total_lines = page.lines.size();
    if (loc >= static_cast<int64_t>(total_lines)) {
        return usage_error(fmt::format("Invalid location parameter: `{}`. Cannot exceed page maximum of {}.", loc,
                                       static_cast<int64_t>(total_lines) - 1));
    }
    const auto first = static_cast<size_t>(std::max<int64_t>(loc, 0));
    const size_t end = viewport_end(page.lines, first, num_lines, options_.view_tokens, options_.count_tokens);
    const std::string body = number_lines(page.lines, first, end);
    const std::string shown_url = truncate_with_ellipsis(browser_url::percent_decode(page.contents.url));
    std::string header = page.contents.title;
    if (!shown_url.empty()) {
        header += fmt::format(" ({})", shown_url);
    }
    header += fmt::format("\n**viewing lines [{} - {}] of {}**\n\n", first, static_cast<int64_t>(end) - 1,
                          static_cast<int64_t>(total_lines) - 1);
    return fmt::format("[{}] {}{}", cursor, header, body);
}

Result<std::string> Browser::show_top_page_or_drop_it(int64_t loc, int64_t num_lines) {
    Result<std::string> shown = show_top_page(loc, num_lines);
    if (!shown.ok()) {
        stack_.pop_back();
    }
    return shown;
}

Result<std::string> Browser::search(const SearchArgs& args) {
    Result<PageContents> results = backend_->search(args.query, options_.max_search_results);
    if (!results.ok()) {
        return Error(results.error().code(), fmt::format("Error during search for `{}`: {}", args.query,
                                                         truncate_with_ellipsis(results.error().message())));
    }
    stack_.push_back(remember(std::move(results).value(), true));
    return show_top_page_or_drop_it(0, -1);
}

Result<std::string> Browser::open(const OpenArgs& args) {
    PagePointer current;
    std::string url;
    const PageSnippet* snippet = nullptr;
    bool stay_on_current_page = false;
    bool refresh = false;
    if (const auto* direct_url = std::get_if<std::string>(&args.id)) {
        url = *direct_url;
        refresh = true;
    } else {
        TLLM_ASSIGN_OR_RETURN(current, page_at_cursor(args.cursor));
        const int64_t link_id = std::get<int64_t>(args.id);
        if (link_id >= 0) {
            if (link_id >= static_cast<int64_t>(current->contents.links.size())) {
                return usage_error(fmt::format("Invalid link id `{}`.", link_id));
            }
            url = current->contents.links[static_cast<size_t>(link_id)];
            if (current->contents.snippets && static_cast<size_t>(link_id) < current->contents.snippets->size()) {
                snippet = &(*current->contents.snippets)[static_cast<size_t>(link_id)];
            }
        } else {
            stay_on_current_page = !args.view_source;
            url = current->contents.url;
        }
    }
    if (args.view_source) {
        url = std::string(kViewSourcePrefix) + url;
        snippet = nullptr;
    }
    PagePointer next = current;
    if (!stay_on_current_page) {
        TLLM_ASSIGN_OR_RETURN(next, open_url(url, refresh));
    }
    stack_.push_back(next);

    int64_t loc = args.loc;
    if (loc < 0) {
        // Opening a find result lands a few lines above the match.
        loc = (snippet != nullptr && snippet->line_index) ? *snippet->line_index : 0;
        if (loc > 4) {
            loc -= 4;
        }
    }
    return show_top_page_or_drop_it(loc, args.num_lines);
}

Result<std::string> Browser::find(const FindArgs& args) {
    TLLM_ASSIGN_OR_RETURN(const PagePointer page, page_at_cursor(args.cursor));
    if (page->contents.snippets) {
        return usage_error("Cannot run `find` on search results page or find results page");
    }
    stack_.push_back(remember(find_in_page(browser_text::to_lower(args.pattern), page->contents), true));
    return show_top_page_or_drop_it(0, -1);
}

NormalizedCitations Browser::normalize_citations_with_links(std::string_view input, bool hide_partial) const {
    NormalizedCitations result;
    std::string text(input);
    const std::optional<PartialBracketLink> partial = find_partial_final_link(text);
    result.has_partial_citation = partial.has_value();
    if (hide_partial && partial) {
        text.erase(partial->start, partial->end - partial->start);
    }
    size_t copied = 0;
    for (const BracketLink& link : find_bracket_links(text)) {
        result.text.append(text, copied, link.start - copied);
        copied = link.end;
        size_t cursor = 0;
        // Cursors are looked up by their decimal text, so "07" names no page.
        const bool small_number = link.number.size() < 10 && (link.number.size() == 1 || link.number[0] != '0');
        if (small_number) {
            cursor = std::stoul(std::string(link.number));
        }
        const std::string* url = small_number && cursor < stack_.size() ? &stack_[cursor]->contents.url : nullptr;
        if (url == nullptr || url->empty()) {
            result.text.append(text, link.start, link.end - link.start);
            continue;
        }
        // chat.py's extract_domain: the third "/"-separated part of the unquoted URL.
        const std::string unquoted = browser_url::percent_decode(*url);
        std::string domain = *url;
        if (const size_t first = unquoted.find('/'); first != std::string::npos) {
            if (const size_t second = unquoted.find('/', first + 1); second != std::string::npos) {
                const size_t third = unquoted.find('/', second + 1);
                domain = unquoted.substr(second + 1, third == std::string::npos ? third : third - second - 1);
            }
        }
        const std::string replacement = fmt::format(" ([{}]({})) ", domain, *url);
        result.citations.push_back({result.text.size(), result.text.size() + replacement.size(), domain, *url});
        result.text += replacement;
    }
    result.text.append(text, copied);
    return result;
}

std::string Browser::normalize_citations(std::string_view text) const {
    return normalize_citations_with_links(text).text;
}

} // namespace tllm::tools
