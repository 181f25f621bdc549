#include "tools/browser/url.h"

#include "tools/browser/text_util.h"

#include <algorithm>
#include <array>
#include <vector>

namespace tllm::tools::browser_url {

namespace {

bool is_ascii_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }
bool is_scheme_char(char c) { return is_ascii_alpha(c) || is_ascii_digit(c) || c == '+' || c == '-' || c == '.'; }

std::string ascii_lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](char c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; });
    return out;
}

// Schemes whose references resolve against a base (urllib's uses_relative, which equals uses_netloc for
// these), plus "local", the local backend's document scheme.
bool resolves_relative(std::string_view scheme) {
    static constexpr std::array<std::string_view, 9> kSchemes = {"",   "http", "https", "ftp",  "file",
                                                                 "ws", "wss",  "sftp",  "local"};
    return std::find(kSchemes.begin(), kSchemes.end(), scheme) != kSchemes.end();
}

} // namespace

UrlParts split_url(std::string_view input) {
    // urlsplit first drops leading C0 controls and spaces and removes tabs and newlines anywhere.
    size_t first = 0;
    while (first < input.size() && static_cast<unsigned char>(input[first]) <= 0x20) {
        ++first;
    }
    std::string url;
    for (char c : input.substr(first)) {
        if (c != '\t' && c != '\n' && c != '\r') {
            url.push_back(c);
        }
    }
    UrlParts parts;
    std::string_view rest = url;
    const size_t colon = rest.find(':');
    if (colon != std::string_view::npos && colon > 0 && is_ascii_alpha(rest[0]) &&
        std::all_of(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(colon), is_scheme_char)) {
        parts.scheme = ascii_lower(rest.substr(0, colon));
        rest.remove_prefix(colon + 1);
    }
    if (rest.substr(0, 2) == "//") {
        const size_t end = rest.find_first_of("/?#", 2);
        parts.netloc = std::string(rest.substr(2, end == std::string_view::npos ? std::string_view::npos : end - 2));
        parts.has_netloc = true;
        rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
    }
    if (const size_t hash = rest.find('#'); hash != std::string_view::npos) {
        parts.fragment = std::string(rest.substr(hash + 1));
        rest = rest.substr(0, hash);
    }
    if (const size_t question = rest.find('?'); question != std::string_view::npos) {
        parts.query = std::string(rest.substr(question + 1));
        rest = rest.substr(0, question);
    }
    parts.path = std::string(rest);
    return parts;
}

std::string join_url_parts(const UrlParts& parts) {
    std::string url = parts.path;
    if (!parts.netloc.empty() ||
        (!parts.scheme.empty() && resolves_relative(parts.scheme) && url.substr(0, 2) != "//")) {
        if (!url.empty() && url[0] != '/') {
            url = "/" + url;
        }
        url = "//" + parts.netloc + url;
    }
    if (!parts.scheme.empty()) {
        url = parts.scheme + ":" + url;
    }
    if (!parts.query.empty()) {
        url += "?" + parts.query;
    }
    if (!parts.fragment.empty()) {
        url += "#" + parts.fragment;
    }
    return url;
}

std::string resolve_url(std::string_view base, std::string_view reference) {
    if (base.empty()) {
        return std::string(reference);
    }
    if (reference.empty()) {
        return std::string(base);
    }
    const UrlParts base_parts = split_url(base);
    UrlParts parts = split_url(reference);
    if (parts.scheme.empty()) {
        parts.scheme = base_parts.scheme;
    }
    if (parts.scheme != base_parts.scheme || !resolves_relative(parts.scheme)) {
        return std::string(reference);
    }
    if (!parts.netloc.empty()) {
        return join_url_parts(parts);
    }
    parts.netloc = base_parts.netloc;
    if (parts.path.empty()) {
        parts.path = base_parts.path;
        if (parts.query.empty()) {
            parts.query = base_parts.query;
        }
        return join_url_parts(parts);
    }

    const auto split_path = [](std::string_view path) {
        std::vector<std::string> segments;
        size_t start = 0;
        while (true) {
            const size_t slash = path.find('/', start);
            segments.emplace_back(path.substr(start, slash == std::string_view::npos ? slash : slash - start));
            if (slash == std::string_view::npos) {
                break;
            }
            start = slash + 1;
        }
        return segments;
    };
    std::vector<std::string> segments;
    if (parts.path[0] == '/') {
        segments = split_path(parts.path);
    } else {
        segments = split_path(base_parts.path);
        if (!segments.back().empty()) {
            segments.pop_back();
        }
        for (std::string& segment : split_path(parts.path)) {
            segments.push_back(std::move(segment));
        }
        // Like urljoin, empty segments between the first and the last are dropped.
        if (segments.size() > 2) {
            std::vector<std::string> kept = {segments.front()};
            for (size_t i = 1; i + 1 < segments.size(); ++i) {
                if (!segments[i].empty()) {
                    kept.push_back(segments[i]);
                }
            }
            kept.push_back(segments.back());
            segments = std::move(kept);
        }
    }
    std::vector<std::string> resolved;
    for (const std::string& segment : segments) {
        if (segment == "..") {
            if (!resolved.empty()) {
                resolved.pop_back();
            }
        } else if (segment != ".") {
            resolved.push_back(segment);
        }
    }
    if (segments.back() == "." || segments.back() == "..") {
        resolved.emplace_back();
    }
    std::string path;
    for (size_t i = 0; i < resolved.size(); ++i) {
        path += (i == 0 ? "" : "/") + resolved[i];
    }
    parts.path = path.empty() ? "/" : path;
    return join_url_parts(parts);
}

std::string domain_of(std::string_view url) {
    // The reference assumes http for text that does not mention it, so "ftp://host/x" has the domain "ftp:".
    // Our own local:// documents are named by their collection instead.
    if (url.find("http") == std::string_view::npos && scheme_of(url) != "local") {
        return split_url("http://" + std::string(url)).netloc;
    }
    return split_url(url).netloc;
}

std::string scheme_of(std::string_view url) { return split_url(url).scheme; }

std::string percent_encode(std::string_view text, std::string_view safe) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (is_ascii_alpha(c) || is_ascii_digit(c) || c == '_' || c == '.' || c == '-' || c == '~' ||
            (byte < 0x80 && safe.find(c) != std::string_view::npos)) {
            out.push_back(c);
        } else {
            out.push_back('%');
            out.push_back(kHex[byte >> 4]);
            out.push_back(kHex[byte & 0xF]);
        }
    }
    return out;
}

std::string percent_decode(std::string_view text) {
    if (text.find('%') == std::string_view::npos) {
        return std::string(text);
    }
    const auto hex_value = [](char c) -> int {
        if (is_ascii_digit(c)) {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        return -1;
    };
    std::string bytes;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 && hex_value(text[i + 2]) >= 0) {
            bytes.push_back(static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2])));
            i += 2;
        } else {
            bytes.push_back(text[i]);
        }
    }
    return browser_text::sanitize_utf8(bytes);
}

std::string arxiv_to_ar5iv(std::string_view url) {
    std::string out;
    size_t pos = 0;
    while (pos < url.size()) {
        // The regex's "." stands for any character but a newline; URLs have no non-ASCII ones here.
        if (url.substr(pos, 5) == "arxiv" && pos + 9 <= url.size() && url.substr(pos + 6, 3) == "org" &&
            url[pos + 5] != '\n') {
            out += "ar5iv.org";
            pos += 9;
            continue;
        }
        out.push_back(url[pos]);
        ++pos;
    }
    return out;
}

} // namespace tllm::tools::browser_url
