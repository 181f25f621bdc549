// URL handling with the semantics of Python's urllib.parse, which the reference browser uses to resolve links
// (urljoin), name their domains (netloc) and write find-page URLs (quote/unquote).
#pragma once

#include <string>
#include <string_view>

namespace tllm::tools::browser_url {

struct UrlParts {
    std::string scheme; // lower case, "" when the URL has none
    std::string netloc; // the authority exactly as written ("user@host:port")
    std::string path;
    std::string query;
    std::string fragment;
    bool has_netloc = false; // "//" was present (an empty authority still counts, as in file:///x)
};

// urllib.parse.urlsplit.
UrlParts split_url(std::string_view url);
// urllib.parse.urlunsplit.
std::string join_url_parts(const UrlParts& parts);
// urllib.parse.urljoin(base, reference): relative, protocol-relative, query-only and fragment references,
// with dot segments removed. Our own local:// scheme resolves like http.
std::string resolve_url(std::string_view base, std::string_view reference);

// The reference's get_domain: the netloc, with "http://" assumed when the text has no scheme.
std::string domain_of(std::string_view url);
// Lower-case scheme, "" when none.
std::string scheme_of(std::string_view url);

// urllib.parse.quote(text, safe="/") over the UTF-8 bytes.
std::string percent_encode(std::string_view text, std::string_view safe = "/");
// urllib.parse.unquote: %XX decoded, malformed escapes kept, invalid UTF-8 replaced.
std::string percent_decode(std::string_view text);

// The reference rewrites arxiv.org links to ar5iv.org (which serves papers as HTML); like its regex, the dot
// matches any character.
std::string arxiv_to_ar5iv(std::string_view url);

} // namespace tllm::tools::browser_url
