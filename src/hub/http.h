// HTTP GET over libcurl for the hub downloads: one reusable connection per HttpSession (one per worker
// thread), redirects followed here rather than by curl so that the bearer token provably stays with the host
// it was meant for, and every failure sorted into what a caller does about it (retry, report, give up).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>

namespace tllm::hub {

struct HttpRequest {
    std::string url;
    // Sent as "Authorization: Bearer <token>" to the host of `url` only, never to a host a redirect names.
    std::string bearer_token;
    // Inclusive first byte; the request asks for [range_start, end of file] when set.
    std::optional<int64_t> range_start;
    std::optional<int64_t> range_end; // inclusive last byte; needs range_start
    std::string ca_bundle; // CA certificates file for HTTPS (HubEndpoints::ca_bundle); "" = libcurl's default
    long connect_timeout_s = 15;
    // A transfer slower than 1 byte/s for this long counts as a timeout (a stalled connection).
    long stall_timeout_s = 60;
};

enum class HttpFailure {
    kNone,
    kUnreachable, // DNS or TCP connect failed: the host cannot be reached at all
    kTransient,   // reset, timeout, cut short, 5xx, 429: worth retrying
    kHttpStatus,  // a 4xx answer (other than 408/429): retrying gives the same answer
    kAborted,     // the caller's callback stopped the transfer
    kOther,       // a local or protocol error (bad URL, TLS certificate, too many redirects)
};

struct HttpResponse {
    HttpFailure failure = HttpFailure::kNone;
    long status = 0;                            // of the final response, 0 when none arrived
    std::string url;                            // the final URL after redirects
    std::string host;                           // host of `url`, for messages
    std::string message;                        // curl's description of a failure
    std::string error_body;                     // the start of the body of a non-2xx answer
    std::map<std::string, std::string> headers; // of the final response, names in lower case
    bool ok() const { return failure == HttpFailure::kNone; }
    bool retryable() const { return failure == HttpFailure::kTransient; }
    std::string header(const std::string& lowercase_name) const;
    // "HTTP 404 from host" / "connection refused (host)" for messages.
    std::string describe() const;
};

struct HttpBodyHandler {
    // Called once, with the final 2xx answer's status and headers, before any of its body; false aborts.
    std::function<bool(long status, const std::map<std::string, std::string>& headers)> on_response;
    // The body in pieces; false aborts (e.g. a write failed).
    std::function<bool(std::span<const char> data)> on_data;
};

class HttpSession {
  public:
    HttpSession();
    ~HttpSession();
    HttpSession(const HttpSession&) = delete;
    HttpSession& operator=(const HttpSession&) = delete;

    HttpResponse get(const HttpRequest& request, const HttpBodyHandler& handler);
    // The whole body as text (for listings); bodies over `max_bytes` fail as kOther.
    HttpResponse get_text(const HttpRequest& request, std::string& body, size_t max_bytes = 64u << 20);

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Resolves a Location header against the URL that sent it; "" when either does not parse.
std::string resolve_redirect(const std::string& base, const std::string& location);
// scheme://host:port with the scheme's default port filled in; "" when the URL does not parse.
std::string url_origin(const std::string& url);
std::string url_host(const std::string& url);

} // namespace tllm::hub
