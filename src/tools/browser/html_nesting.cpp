// A cap on element nesting before gumbo sees the page. gumbo checks element scopes by walking its stack of open
// elements, so every tag costs time proportional to the depth: 200k nested <div>s take minutes. Browsers cap
// the depth their parser builds at 512 (Blink's kMaximumHTMLParserDOMTreeDepth) and flatten what lies deeper;
// we do the same by dropping the start tags (and as many end tags) past that depth, which keeps all the text.
#include "tools/browser/html_events.h"

#include <array>
#include <cstring>

namespace tllm::tools::html_detail {

namespace {

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == ':' ||
           c == '_' || c == '.';
}

bool is_one_of(std::string_view name, std::initializer_list<std::string_view> names) {
    for (std::string_view candidate : names) {
        if (name == candidate) {
            return true;
        }
    }
    return false;
}

// Elements that never hold children, and those whose end tag may be left out (the parser closes them itself,
// so they never pile up): neither counts towards the depth.
bool counts_towards_depth(std::string_view name) {
    return !is_one_of(name, {"area",     "base",    "br",    "col",    "embed", "hr",    "img",    "input",
                             "link",     "meta",    "param", "source", "track", "wbr",   "keygen", "frame",
                             "basefont", "bgsound", "image", "p",      "li",    "dt",    "dd",     "option",
                             "optgroup", "tr",      "td",    "th",     "thead", "tbody", "tfoot",  "colgroup",
                             "caption",  "rb",      "rt",    "rtc",    "rp",    "html",  "head",   "body"});
}

// Elements whose content is text up to their end tag: tags inside them are not tags.
bool has_raw_text(std::string_view name) {
    return is_one_of(name, {"script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript",
                            "plaintext"});
}

// The end of the tag starting at `pos` (one past its '>'), skipping quoted attribute values.
size_t tag_end(std::string_view html, size_t pos) {
    char quote = '\0';
    for (size_t i = pos; i < html.size(); ++i) {
        const char c = html[i];
        if (quote != '\0') {
            quote = c == quote ? '\0' : quote;
        } else if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '>') {
            return i + 1;
        }
    }
    return html.size();
}

size_t find_case_insensitive(std::string_view haystack, std::string_view needle, size_t from) {
    for (size_t i = from; i + needle.size() <= haystack.size(); ++i) {
        size_t j = 0;
        while (j < needle.size() && ascii_lower(haystack[i + j]) == needle[j]) {
            ++j;
        }
        if (j == needle.size()) {
            return i;
        }
    }
    return std::string_view::npos;
}

} // namespace

std::string limit_nesting_depth(std::string_view html, size_t max_depth) {
    std::string out;
    size_t copied = 0;
    size_t depth = 0;
    size_t dropped = 0;
    size_t pos = 0;
    while ((pos = html.find('<', pos)) != std::string_view::npos) {
        if (html.substr(pos, 4) == "<!--") {
            const size_t end = html.find("-->", pos + 4);
            pos = end == std::string_view::npos ? html.size() : end + 3;
            continue;
        }
        const bool end_tag = pos + 1 < html.size() && html[pos + 1] == '/';
        size_t name_start = pos + (end_tag ? 2 : 1);
        size_t name_end = name_start;
        while (name_end < html.size() && is_name_char(html[name_end])) {
            ++name_end;
        }
        if (name_end == name_start) {
            pos = name_start; // "<!doctype", "<?xml", a lone "<": not an element tag
            continue;
        }
        std::string name;
        for (size_t i = name_start; i < name_end; ++i) {
            name += ascii_lower(html[i]);
        }
        const size_t end = tag_end(html, name_end);
        bool drop = false;
        if (counts_towards_depth(name)) {
            if (!end_tag && depth >= max_depth) {
                drop = true;
                ++dropped;
            } else if (end_tag && dropped > 0) {
                drop = true;
                --dropped;
            } else if (end_tag) {
                depth -= depth > 0 ? 1 : 0;
            } else {
                ++depth;
            }
        }
        if (drop) {
            out.append(html, copied, pos - copied);
            copied = end;
        }
        pos = end;
        if (!end_tag && has_raw_text(name)) {
            const size_t close = find_case_insensitive(html, "</" + name, pos);
            pos = close == std::string_view::npos ? html.size() : close;
        }
    }
    if (copied == 0) {
        return std::string(html);
    }
    out.append(html, copied);
    return out;
}

} // namespace tllm::tools::html_detail
