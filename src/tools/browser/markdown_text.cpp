// Markdown -> PageContents as the reference's process_markdown: images become "[Image n: alt]", links become
// 【id†text†domain】 (inline, reference-style and <autolinks>), reference definitions are dropped. Scanned by hand
// (no std::regex: it recurses per character and is quadratic here) with every scan bounded so that hostile
// input stays linear.
#include "tools/browser/html_events.h"
#include "tools/browser/html_to_text.h"
#include "tools/browser/text_util.h"
#include "tools/browser/url.h"

#include <fmt/format.h>
#include <map>
#include <unordered_map>

namespace tllm::tools {

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// `!\[([^\]]*)\]\([^\)]+\)` -> "[Image n: alt]".
std::string replace_images(const std::string& text) {
    std::string out;
    int count = 0;
    size_t pos = 0;
    while (pos < text.size()) {
        if (text.compare(pos, 2, "![") == 0) {
            const size_t close = text.find(']', pos + 2);
            if (close != std::string::npos && close + 1 < text.size() && text[close + 1] == '(') {
                const size_t end = text.find(')', close + 2);
                if (end != std::string::npos && end > close + 2) {
                    const std::string_view alt =
                        browser_text::strip(std::string_view(text).substr(pos + 2, close - pos - 2));
                    out += alt.empty() ? fmt::format("[Image {}]", count) : fmt::format("[Image {}: {}]", count, alt);
                    ++count;
                    pos = end + 1;
                    continue;
                }
            }
        }
        out += text[pos];
        ++pos;
    }
    return out;
}

std::string reference_key(std::string_view label) { return browser_text::to_lower(browser_text::strip(label)); }

// Lines `[ref]: url "title"` (up to three spaces of indent) are removed and remembered.
std::string extract_reference_definitions(const std::string& text, std::map<std::string, std::string>& references) {
    std::string out;
    size_t line_start = 0;
    while (line_start <= text.size()) {
        size_t line_end = text.find('\n', line_start);
        if (line_end == std::string::npos) {
            line_end = text.size();
        }
        std::string_view line = std::string_view(text).substr(line_start, line_end - line_start);
        bool is_definition = false;
        size_t indent = 0;
        while (indent < line.size() && indent < 3 && line[indent] == ' ') {
            ++indent;
        }
        if (indent < line.size() && line[indent] == '[') {
            const size_t close = line.find(']', indent + 1);
            if (close != std::string_view::npos && close > indent + 1 && close + 1 < line.size() &&
                line[close + 1] == ':') {
                std::string_view rest = line.substr(close + 2);
                while (!rest.empty() && (rest[0] == ' ' || rest[0] == '\t')) {
                    rest.remove_prefix(1);
                }
                if (!rest.empty() && rest[0] == '<') {
                    rest.remove_prefix(1);
                }
                size_t url_end = 0;
                while (url_end < rest.size() && !is_blank(rest[url_end]) && rest[url_end] != '>') {
                    ++url_end;
                }
                if (url_end > 0) {
                    references[reference_key(line.substr(indent + 1, close - indent - 1))] =
                        std::string(rest.substr(0, url_end));
                    is_definition = true;
                }
            }
        }
        if (!is_definition) {
            out += line;
        }
        if (line_end == text.size()) {
            break;
        }
        out += '\n';
        line_start = line_end + 1;
    }
    return out;
}

class LinkRewriter {
  public:
    LinkRewriter(std::string_view base_url, const std::map<std::string, std::string>& references)
        : base_url_(base_url), base_domain_(base_url.empty() ? "" : browser_url::domain_of(base_url)),
          references_(references) {}

    std::string rewrite(const std::string& text) {
        std::string out;
        size_t close_cache = 0;
        bool close_cache_valid = false;
        size_t failed_close = std::string::npos;
        size_t autolink_fail_until = 0;
        size_t pos = 0;
        while (pos < text.size()) {
            if (text[pos] == '[') {
                if (!close_cache_valid || close_cache < pos) {
                    close_cache = text.find(']', pos + 1);
                    close_cache_valid = true;
                }
                const size_t close = close_cache;
                if (close != std::string::npos && close != failed_close) {
                    const std::string_view label = std::string_view(text).substr(pos + 1, close - pos - 1);
                    if (const auto end = try_link(text, label, close, out); end != std::string::npos) {
                        pos = end;
                        continue;
                    }
                    failed_close = close;
                }
            } else if (text[pos] == '<' && pos >= autolink_fail_until) {
                const std::string_view rest = std::string_view(text).substr(pos + 1);
                if (browser_text::to_lower(rest.substr(0, 8)).starts_with("https://") ||
                    browser_text::to_lower(rest.substr(0, 7)) == "http://") {
                    size_t end = pos + 1;
                    while (end < text.size() && !is_blank(text[end]) && text[end] != '>') {
                        ++end;
                    }
                    if (end < text.size() && text[end] == '>') {
                        const std::string url = text.substr(pos + 1, end - pos - 1);
                        out += link_text(url, url);
                        pos = end + 1;
                        continue;
                    }
                    autolink_fail_until = end;
                }
            }
            out += text[pos];
            ++pos;
        }
        return out;
    }

    std::vector<std::string> take_links() { return std::move(links_); }

  private:
    // `[label](url "title")`, `[label][ref]` or `[label][]` ending at `close`; appends the rewrite and returns
    // the position after the link, or npos.
    size_t try_link(const std::string& text, std::string_view label, size_t close, std::string& out) {
        if (close + 1 >= text.size()) {
            return std::string::npos;
        }
        if (text[close + 1] == '(') {
            size_t url_end = close + 2;
            while (url_end < text.size() && !is_blank(text[url_end]) && text[url_end] != ')') {
                ++url_end;
            }
            if (url_end == close + 2 || url_end >= text.size()) {
                return std::string::npos;
            }
            size_t end = url_end;
            if (text[end] != ')') {
                size_t title_start = end;
                while (title_start < text.size() && is_blank(text[title_start])) {
                    ++title_start;
                }
                const size_t title_end = title_start < text.size() && text[title_start] == '"'
                                             ? text.find('"', title_start + 1)
                                             : std::string::npos;
                if (title_end == std::string::npos || title_end + 1 >= text.size() || text[title_end + 1] != ')') {
                    return std::string::npos;
                }
                end = title_end + 1;
            }
            out += link_text(text.substr(close + 2, url_end - close - 2), label);
            return end + 1;
        }
        if (text[close + 1] == '[') {
            const size_t ref_close = text.find(']', close + 2);
            if (ref_close == std::string::npos) {
                return std::string::npos;
            }
            const std::string_view ref = std::string_view(text).substr(close + 2, ref_close - close - 2);
            const std::string key = reference_key(ref.empty() ? label : ref);
            const auto it = references_.find(key);
            if ((ref.empty() && label.empty()) || it == references_.end()) {
                return std::string::npos;
            }
            out += link_text(it->second, label.empty() ? std::string_view(key) : label);
            return ref_close + 1;
        }
        return std::string::npos;
    }

    std::string link_text(std::string_view raw_url, std::string_view raw_text) {
        std::string original = "[" + std::string(raw_text) + "](" + std::string(raw_url) + ")";
        if (raw_url.starts_with("#")) {
            return std::string(raw_text);
        }
        if (raw_url.starts_with("mailto:") || raw_url.starts_with("javascript:") || raw_url.starts_with("tel:")) {
            return original;
        }
        std::string url = browser_url::resolve_url(base_url_, raw_url);
        const std::string scheme = browser_url::scheme_of(url);
        if (scheme != "http" && scheme != "https" && scheme != "local") {
            return original;
        }
        std::string text(browser_text::strip(browser_text::merge_whitespace(raw_text)));
        for (size_t pos = text.find("†"); pos != std::string::npos; pos = text.find("†", pos)) {
            text.replace(pos, std::string_view("†").size(), "‡");
        }
        if (text.empty()) {
            return text;
        }
        url = browser_url::arxiv_to_ar5iv(url);
        auto [it, inserted] = link_ids_.try_emplace(url, links_.size());
        if (inserted) {
            links_.push_back(url);
        }
        const std::string domain = browser_url::domain_of(url);
        return domain == base_domain_ ? fmt::format("【{}†{}】", it->second, text)
                                      : fmt::format("【{}†{}†{}】", it->second, text, domain);
    }

    std::string base_url_;
    std::string base_domain_;
    const std::map<std::string, std::string>& references_;
    std::vector<std::string> links_;
    std::unordered_map<std::string, size_t> link_ids_;
};

} // namespace

PageContents process_markdown(std::string_view markdown, const DocumentSource& source) {
    const std::string clean = normalize_line_ends(replace_special_characters(browser_text::sanitize_utf8(markdown)));
    std::map<std::string, std::string> references;
    const std::string body = extract_reference_definitions(replace_images(clean), references);
    LinkRewriter rewriter(source.url, references);
    const std::string rewritten = rewriter.rewrite(body);

    PageContents page;
    page.url = std::string(source.url);
    page.title = !source.title.empty() ? std::string(source.title) : browser_url::domain_of(source.url);
    page.links = rewriter.take_links();
    const std::string header = source.display_url && !source.url.empty() ? document_url_header(source) : "";
    page.text = header + std::string(browser_text::strip(html_detail::clean_blank_lines(rewritten)));
    return page;
}

} // namespace tllm::tools
