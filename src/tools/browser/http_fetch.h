// libcurl requests for the browser: web pages (size-capped, redirect-limited, http(s) only, private addresses
// refused unless allowed) and the search services' JSON APIs.
#pragma once

#include "core/result.h"
#include "tools/browser/backend.h"

#include <string>
#include <vector>

namespace tllm::tools::browser_http {

struct HttpRequest {
    std::string url;
    std::string post_body;            // sent as POST when not empty (JSON APIs), else GET
    std::vector<std::string> headers; // "Name: value"
    size_t max_body_bytes = 2u << 20;
    bool cut_oversized_body = true; // false: a body over the limit is an error
    bool check_addresses = true;    // apply FetchLimits::allow_private_addresses
};

struct HttpResponse {
    long status = 0;
    std::string content_type; // of the final response, "" when absent
    std::string final_url;    // after redirects
    std::string body;
    bool body_was_cut = false;
};

// Transport failures (unreachable, timeout, too many redirects, refused address, oversized body) are errors;
// any HTTP status is a response.
Result<HttpResponse> perform(const HttpRequest& request, const FetchLimits& limits);

// GET `url` and turn it into a page: HTML, Markdown and text-like content types are shown, others refused.
// A "view-source:" prefix shows the document's source text.
Result<PageContents> fetch_web_page(std::string_view url, const FetchLimits& limits);

// An HTTP error status of a search API as a message naming what the user can do about it.
std::string describe_api_status(std::string_view provider, long status, std::string_view body);

} // namespace tllm::tools::browser_http
