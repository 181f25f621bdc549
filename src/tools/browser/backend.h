// Where the browser's pages come from: a search service (Exa, You.com) or a local folder of documents. Every
// backend opens http(s) URLs itself, fetching them directly under the limits below.
#pragma once

#include "core/result.h"
#include "tools/browser/page.h"

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace tllm::tools {

// The reference asks the backend for "view-source:" + url when the model passes view_source.
inline constexpr std::string_view kViewSourcePrefix = "view-source:";

struct FetchLimits {
    size_t max_page_bytes = 2u << 20; // a longer page is cut here (its start is still worth reading)
    size_t max_api_response_bytes = 16u << 20;
    std::chrono::milliseconds connect_timeout{10'000};
    std::chrono::milliseconds total_timeout{30'000};
    int max_redirects = 5;
    // Pages on loopback, private (RFC 1918, ULA), link-local or unspecified addresses are refused unless this is
    // set, so that a prompt injected into a web page cannot make the model read the user's own network.
    bool allow_private_addresses = false;
    std::string user_agent = "Mozilla/5.0 (compatible; tritonllm-browser/0.1)";
    std::string ca_bundle; // CA certificates file for HTTPS; "" = libcurl's default
};

class BrowserBackend {
  public:
    virtual ~BrowserBackend() = default;
    // A results page (url "", title = the query) listing up to `max_results` hits as 【id†title†domain】 links.
    virtual Result<PageContents> search(std::string_view query, int max_results) = 0;
    // The page at `url`; "view-source:" + url gives the document's source text instead.
    virtual Result<PageContents> fetch(std::string_view url) = 0;
    // The description's `sources=` value: "web" for the search services.
    virtual std::string source() const = 0;
};

// Exa (https://exa.ai): POST {base_url}/search with header x-api-key. With `fetch_with_contents_api`, pages come
// from POST {base_url}/contents as in the reference; otherwise they are fetched directly.
Result<std::unique_ptr<BrowserBackend>> make_exa_backend(std::string api_key,
                                                         std::string base_url = "https://api.exa.ai",
                                                         FetchLimits limits = {},
                                                         bool fetch_with_contents_api = false);

// You.com: GET {base_url}/v1/search, and POST {base_url}/v1/contents when `fetch_with_contents_api`.
Result<std::unique_ptr<BrowserBackend>> make_youcom_backend(std::string api_key,
                                                            std::string base_url = "https://api.ydc-index.io",
                                                            FetchLimits limits = {},
                                                            bool fetch_with_contents_api = false);

// A folder of .html/.htm/.md/.markdown/.txt files (searched recursively, symlinks leaving it ignored), ranked by
// BM25. Its documents have URLs local://{source}/{relative path}, and `source` is also the description's
// `sources=` value: by default the folder's name (characters other than letters, digits, '.', '_' and '-'
// become '-'; "local" when nothing is left).
Result<std::unique_ptr<BrowserBackend>>
make_local_backend(const std::string& directory, FetchLimits limits = {}, std::string source = "");

} // namespace tllm::tools
