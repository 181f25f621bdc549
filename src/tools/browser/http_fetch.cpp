#include "tools/browser/http_fetch.h"

#include "core/check.h"
#include "tools/browser/text_util.h"

#include <arpa/inet.h>
#include <cstring>
#include <curl/curl.h>
#include <memory>
#include <mutex>

namespace tllm::tools::browser_http {

namespace {

void ensure_curl_initialized() {
    // curl_global_init is not thread-safe and must run once before any other curl call.
    static std::once_flag once;
    std::call_once(once, [] { TLLM_CHECK(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK, "curl_global_init"); });
}

struct CurlDeleter {
    void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct HeaderListDeleter {
    void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

bool is_private_ipv4(const unsigned char* a) {
    return a[0] == 0 || a[0] == 10 || a[0] == 127 || (a[0] == 169 && a[1] == 254) ||
           (a[0] == 172 && (a[1] & 0xF0) == 16) || (a[0] == 192 && a[1] == 168) ||
           (a[0] == 100 && (a[1] & 0xC0) == 64) || a[0] >= 224;
}

// Loopback, unspecified, private, carrier-grade NAT, link-local, multicast and reserved addresses.
bool is_private_address(const char* ip) {
    unsigned char bytes[16];
    if (inet_pton(AF_INET, ip, bytes) == 1) {
        return is_private_ipv4(bytes);
    }
    if (inet_pton(AF_INET6, ip, bytes) != 1) {
        return true; // unparseable: refuse rather than guess
    }
    static constexpr unsigned char kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    if (std::memcmp(bytes, kMappedPrefix, 12) == 0) {
        return is_private_ipv4(bytes + 12);
    }
    static constexpr unsigned char kZero[15] = {};
    const bool unspecified_or_loopback = std::memcmp(bytes, kZero, 15) == 0 && (bytes[15] == 0 || bytes[15] == 1);
    return unspecified_or_loopback || (bytes[0] & 0xFE) == 0xFC || (bytes[0] == 0xFE && (bytes[1] & 0xC0) == 0x80) ||
           bytes[0] == 0xFF;
}

struct TransferState {
    const HttpRequest* request = nullptr;
    bool allow_private = false;
    std::string body;
    bool body_was_cut = false;
    bool body_too_large = false;
    std::string refused_address;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
    auto* state = static_cast<TransferState*>(user);
    const size_t bytes = size * count;
    const size_t room = state->request->max_body_bytes - state->body.size();
    if (bytes <= room) {
        state->body.append(data, bytes);
        return bytes;
    }
    if (state->request->cut_oversized_body) {
        state->body.append(data, room);
        state->body_was_cut = true;
    } else {
        state->body_too_large = true;
    }
    return CURL_WRITEFUNC_ERROR; // stops the transfer
}

int before_request(void* user, char* remote_ip, char* /*local_ip*/, int /*remote_port*/, int /*local_port*/) {
    auto* state = static_cast<TransferState*>(user);
    if (!state->allow_private && is_private_address(remote_ip)) {
        state->refused_address = remote_ip;
        return CURL_PREREQFUNC_ABORT;
    }
    return CURL_PREREQFUNC_OK;
}

std::string seconds(std::chrono::milliseconds duration) {
    return fmt::format("{:g} s", static_cast<double>(duration.count()) / 1000.0);
}

} // namespace

Result<HttpResponse> perform(const HttpRequest& request, const FetchLimits& limits) {
    ensure_curl_initialized();
    std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
    if (!curl) {
        return make_error(ErrorCode::kInternal, "curl_easy_init failed");
    }
    TransferState state;
    state.request = &request;
    state.allow_private = limits.allow_private_addresses || !request.check_addresses;

    std::unique_ptr<curl_slist, HeaderListDeleter> headers;
    for (const std::string& header : request.headers) {
        curl_slist* extended = curl_slist_append(headers.get(), header.c_str());
        if (extended == nullptr) {
            return make_error(ErrorCode::kOutOfMemory, "curl_slist_append failed");
        }
        (void)headers.release();
        headers.reset(extended);
    }
    char error_buffer[CURL_ERROR_SIZE] = {};
    CURL* handle = curl.get();
    curl_easy_setopt(handle, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error_buffer);
    curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(handle, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(handle, CURLOPT_MAXREDIRS, static_cast<long>(limits.max_redirects));
    curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(limits.connect_timeout.count()));
    curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(limits.total_timeout.count()));
    curl_easy_setopt(handle, CURLOPT_ACCEPT_ENCODING, ""); // any encoding curl decodes; the cap applies after
    curl_easy_setopt(handle, CURLOPT_USERAGENT, limits.user_agent.c_str());
    if (!limits.ca_bundle.empty()) {
        curl_easy_setopt(handle, CURLOPT_CAINFO, limits.ca_bundle.c_str());
    }
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, &state);
    curl_easy_setopt(handle, CURLOPT_PREREQFUNCTION, &before_request);
    curl_easy_setopt(handle, CURLOPT_PREREQDATA, &state);
    if (!request.post_body.empty()) {
        curl_easy_setopt(handle, CURLOPT_POSTFIELDS, request.post_body.c_str());
        curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.post_body.size()));
    }

    const CURLcode code = curl_easy_perform(handle);
    if (!state.refused_address.empty()) {
        return make_error(ErrorCode::kNetwork,
                          "refused to connect to {}: it is a private, loopback or reserved address",
                          state.refused_address);
    }
    if (state.body_too_large) {
        return make_error(ErrorCode::kNetwork, "the response is larger than the {} byte limit", request.max_body_bytes);
    }
    if (code != CURLE_OK && !(code == CURLE_WRITE_ERROR && state.body_was_cut)) {
        const std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
        switch (code) {
        case CURLE_OPERATION_TIMEDOUT:
            return make_error(ErrorCode::kNetwork, "timed out (limits: {} to connect, {} in all): {}",
                              seconds(limits.connect_timeout), seconds(limits.total_timeout), detail);
        case CURLE_TOO_MANY_REDIRECTS:
            return make_error(ErrorCode::kNetwork, "too many redirects (more than {})", limits.max_redirects);
        case CURLE_UNSUPPORTED_PROTOCOL:
            return make_error(ErrorCode::kUnsupported, "only http and https URLs can be opened: {}", detail);
        case CURLE_COULDNT_RESOLVE_HOST:
            return make_error(ErrorCode::kNetwork, "could not resolve the host: {}", detail);
        case CURLE_COULDNT_CONNECT:
            return make_error(ErrorCode::kNetwork, "could not connect: {}", detail);
        default:
            return make_error(ErrorCode::kNetwork, "{}", detail);
        }
    }
    HttpResponse response;
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &response.status);
    const char* content_type = nullptr;
    if (curl_easy_getinfo(handle, CURLINFO_CONTENT_TYPE, &content_type) == CURLE_OK && content_type != nullptr) {
        response.content_type = content_type;
    }
    const char* final_url = nullptr;
    if (curl_easy_getinfo(handle, CURLINFO_EFFECTIVE_URL, &final_url) == CURLE_OK && final_url != nullptr) {
        response.final_url = final_url;
    }
    response.body = std::move(state.body);
    response.body_was_cut = state.body_was_cut;
    return response;
}

std::string describe_api_status(std::string_view provider, long status, std::string_view body) {
    const std::string excerpt = browser_text::truncate_with_ellipsis(
        browser_text::merge_whitespace(browser_text::sanitize_utf8(browser_text::cut_at_char_boundary(body, 2000))),
        300);
    std::string what;
    if (status == 401 || status == 403) {
        what = "rejected the API key (check that it is set and valid)";
    } else if (status == 429) {
        what = "rate limit or quota exceeded (try again later)";
    } else if (status >= 500) {
        what = "server error (the service is failing; try again later)";
    } else {
        what = "refused the request";
    }
    return fmt::format("{} API error {}: {}{}{}", provider, status, what, excerpt.empty() ? "" : ": ", excerpt);
}

} // namespace tllm::tools::browser_http
