// Opening an http(s) URL directly: the content type decides how the body is shown, and anything that is not
// text is refused with a message the model can act on.
#include "core/log.h"
#include "tools/browser/html_to_text.h"
#include "tools/browser/http_fetch.h"
#include "tools/browser/text_util.h"
#include "tools/browser/url.h"

#include <algorithm>

namespace tllm::tools::browser_http {

namespace {

enum class DocumentKind { kHtml, kMarkdown, kText, kUnsupported };

std::string lower_ascii(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
    }
    return out;
}

// "text/html; charset=UTF-8" -> "text/html" and "utf-8".
std::pair<std::string, std::string> split_content_type(std::string_view header) {
    const size_t semicolon = header.find(';');
    std::string media_type = lower_ascii(browser_text::strip(header.substr(0, semicolon)));
    std::string charset;
    if (semicolon != std::string_view::npos) {
        const std::string parameters = lower_ascii(header.substr(semicolon + 1));
        if (const size_t at = parameters.find("charset="); at != std::string::npos) {
            charset = parameters.substr(at + 8);
            charset = charset.substr(0, charset.find(';'));
            charset.erase(std::remove(charset.begin(), charset.end(), '"'), charset.end());
            charset = std::string(browser_text::strip(charset));
        }
    }
    return {media_type, charset};
}

bool looks_binary(std::string_view body) {
    const std::string_view head = body.substr(0, 4096);
    return head.find('\0') != std::string_view::npos;
}

DocumentKind classify(const std::string& media_type, std::string_view body) {
    if (media_type == "text/html" || media_type == "application/xhtml+xml") {
        return DocumentKind::kHtml;
    }
    if (media_type == "text/markdown" || media_type == "text/x-markdown") {
        return DocumentKind::kMarkdown;
    }
    const bool text_like = media_type.starts_with("text/") || media_type == "application/json" ||
                           media_type == "application/xml" || media_type == "application/javascript" ||
                           media_type == "application/x-yaml" || media_type == "application/yaml" ||
                           media_type == "application/x-sh" || media_type.ends_with("+xml") ||
                           media_type.ends_with("+json");
    if (text_like) {
        return looks_binary(body) ? DocumentKind::kUnsupported : DocumentKind::kText;
    }
    if (media_type.empty() && !looks_binary(body)) {
        // No content type: sniff the start, as browsers do.
        const std::string head = lower_ascii(browser_text::strip(body.substr(0, 512)));
        return head.starts_with("<") ? DocumentKind::kHtml : DocumentKind::kText;
    }
    return DocumentKind::kUnsupported;
}

// Latin-1 and Windows-1252 are the legacy charsets still common on the web; the rest is read as UTF-8.
std::string to_utf8(std::string_view body, const std::string& charset) {
    if (charset != "iso-8859-1" && charset != "latin1" && charset != "windows-1252" && charset != "us-ascii") {
        return std::string(body);
    }
    static constexpr char16_t kWindows1252High[32] = {0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
                                                      0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD,
                                                      0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                                                      0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178};
    std::string out;
    out.reserve(body.size());
    for (char byte : body) {
        const auto value = static_cast<unsigned char>(byte);
        const char32_t code_point = (value >= 0x80 && value < 0xA0) ? kWindows1252High[value - 0x80] : value;
        browser_text::append_utf8(out, code_point);
    }
    return out;
}

// The model sometimes writes "example.com/page" without a scheme; such text can only mean https.
std::string with_scheme(std::string_view url) {
    if (!browser_url::scheme_of(url).empty()) {
        return std::string(url);
    }
    const std::string_view host = url.substr(0, url.find_first_of("/?#"));
    const bool looks_like_host = host.find('.') != std::string_view::npos && host.find(' ') == std::string_view::npos;
    return looks_like_host ? "https://" + std::string(url) : std::string(url);
}

} // namespace

Result<PageContents> fetch_web_page(std::string_view requested_url, const FetchLimits& limits) {
    const bool view_source = requested_url.starts_with(kViewSourcePrefix);
    const std::string url = with_scheme(view_source ? requested_url.substr(kViewSourcePrefix.size()) : requested_url);
    const std::string scheme = browser_url::scheme_of(url);
    if (scheme.empty()) {
        return make_error(ErrorCode::kInvalidArgument, "`{}` is not a URL (expected http:// or https://)",
                          browser_text::truncate_with_ellipsis(url, 200));
    }
    if (scheme != "http" && scheme != "https") {
        return make_error(ErrorCode::kUnsupported,
                          "unsupported URL scheme `{}`: only http and https URLs can be opened", scheme);
    }
    HttpRequest request;
    request.url = url;
    request.max_body_bytes = limits.max_page_bytes;
    request.headers = {"Accept: text/html,application/xhtml+xml,text/plain;q=0.9,text/*;q=0.8,*/*;q=0.5"};
    TLLM_ASSIGN_OR_RETURN(HttpResponse response, perform(request, limits));
    if (response.status < 200 || response.status >= 300) {
        return make_error(ErrorCode::kNetwork, "the server answered HTTP {}", response.status);
    }
    if (response.body_was_cut) {
        TLLM_LOG_WARN("browser: {} is larger than {} bytes; showing its start", url, limits.max_page_bytes);
    }
    const auto [media_type, charset] = split_content_type(response.content_type);
    const DocumentKind kind = classify(media_type, response.body);
    if (kind == DocumentKind::kUnsupported) {
        return make_error(ErrorCode::kUnsupported,
                          "cannot show content of type `{}`: only HTML and text pages can be opened",
                          media_type.empty() ? "binary data" : media_type);
    }
    const std::string body = to_utf8(response.body, charset);
    const std::string page_url = response.final_url.empty() ? url : response.final_url;
    const DocumentSource source{page_url, "", true};
    if (view_source) {
        return process_source(body, source);
    }
    switch (kind) {
    case DocumentKind::kHtml:
        return process_html(body, source);
    case DocumentKind::kMarkdown:
        return process_markdown(body, source);
    default:
        return process_plain_text(body, source);
    }
}

} // namespace tllm::tools::browser_http
