#include "hub/http.h"

#include "core/check.h"

#include <algorithm>
#include <curl/curl.h>
#include <fmt/format.h>
#include <mutex>

namespace tllm::hub {
namespace {

constexpr int kMaxRedirects = 10;
constexpr size_t kMaxErrorBody = 16 << 10;

struct CurlEasyDeleter {
    void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct CurlSlistDeleter {
    void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
struct CurlUrlDeleter {
    void operator()(CURLU* url) const { curl_url_cleanup(url); }
};
struct CurlFreeDeleter {
    void operator()(char* text) const { curl_free(text); }
};
using CurlUrl = std::unique_ptr<CURLU, CurlUrlDeleter>;
using CurlString = std::unique_ptr<char, CurlFreeDeleter>;

void initialize_curl_once() {
    // curl_global_init is not thread-safe and must precede every other curl call.
    static std::once_flag once;
    std::call_once(once, [] { TLLM_CHECK(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK, "curl_global_init"); });
}

CurlUrl parse_url(const std::string& url) {
    CurlUrl handle(curl_url());
    if (handle == nullptr || curl_url_set(handle.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
        return nullptr;
    }
    return handle;
}

std::string url_part(CURLU* url, CURLUPart part, unsigned flags) {
    char* text = nullptr;
    if (curl_url_get(url, part, &text, flags) != CURLUE_OK || text == nullptr) {
        return "";
    }
    CurlString owned(text);
    return std::string(owned.get());
}

bool is_redirect(long status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

HttpFailure classify_curl_error(CURLcode code) {
    switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        return HttpFailure::kUnreachable;
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_WEIRD_SERVER_REPLY:
        return HttpFailure::kTransient;
    default:
        return HttpFailure::kOther;
    }
}

// One request/response exchange (no redirect following): the state curl's callbacks fill in.
struct Exchange {
    const HttpBodyHandler* handler = nullptr;
    long status = 0;
    std::map<std::string, std::string> headers;
    bool body_started = false;
    bool aborted = false;
    std::string error_body;

    bool start_body() {
        body_started = true;
        if (status >= 200 && status < 300 && handler->on_response && !handler->on_response(status, headers)) {
            aborted = true;
        }
        return !aborted;
    }
};

size_t on_header_line(char* data, size_t size, size_t count, void* user) {
    auto& exchange = *static_cast<Exchange*>(user);
    std::string line(data, size * count);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
        line.pop_back();
    }
    if (line.rfind("HTTP/", 0) == 0) {
        // A new status line (after "100 Continue", or a proxy's CONNECT answer): headers start over.
        exchange.headers.clear();
        size_t space = line.find(' ');
        exchange.status = space == std::string::npos ? 0 : std::strtol(line.c_str() + space + 1, nullptr, 10);
        return size * count;
    }
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        size_t value_start = line.find_first_not_of(" \t", colon + 1);
        exchange.headers[name] = value_start == std::string::npos ? "" : line.substr(value_start);
    }
    return size * count;
}

size_t on_body_data(char* data, size_t size, size_t count, void* user) {
    auto& exchange = *static_cast<Exchange*>(user);
    size_t bytes = size * count;
    if (!exchange.body_started && !exchange.start_body()) {
        return 0; // any count other than `bytes` makes curl stop with CURLE_WRITE_ERROR
    }
    if (exchange.status >= 200 && exchange.status < 300) {
        if (exchange.handler->on_data && !exchange.handler->on_data(std::span<const char>(data, bytes))) {
            exchange.aborted = true;
            return 0;
        }
    } else if (!is_redirect(exchange.status) && exchange.error_body.size() < kMaxErrorBody) {
        exchange.error_body.append(data, std::min(bytes, kMaxErrorBody - exchange.error_body.size()));
    }
    return bytes;
}

} // namespace

struct HttpSession::Impl {
    std::unique_ptr<CURL, CurlEasyDeleter> curl;
};

HttpSession::HttpSession() : impl_(std::make_unique<Impl>()) {
    initialize_curl_once();
    impl_->curl.reset(curl_easy_init());
    TLLM_CHECK(impl_->curl != nullptr, "curl_easy_init failed");
}

HttpSession::~HttpSession() = default;

HttpResponse HttpSession::get(const HttpRequest& request, const HttpBodyHandler& handler) {
    CURL* curl = impl_->curl.get();
    HttpResponse response;
    response.url = request.url;
    const std::string token_origin = url_origin(request.url);
    std::string range;
    if (request.range_start) {
        range = request.range_end ? fmt::format("{}-{}", *request.range_start, *request.range_end)
                                  : fmt::format("{}-", *request.range_start);
    }
    for (int hop = 0; hop <= kMaxRedirects; ++hop) {
        response.host = url_host(response.url);
        Exchange exchange;
        exchange.handler = &handler;
        std::unique_ptr<curl_slist, CurlSlistDeleter> header_list;
        if (!request.bearer_token.empty() && url_origin(response.url) == token_origin) {
            std::string authorization = "Authorization: Bearer " + request.bearer_token;
            header_list.reset(curl_slist_append(nullptr, authorization.c_str()));
        }
        char error_text[CURL_ERROR_SIZE] = {};
        // Reset keeps the connection cache, so workers reuse their connection from range to range.
        curl_easy_reset(curl);
        curl_easy_setopt(curl, CURLOPT_URL, response.url.c_str());
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_USERAGENT, "tritonllm/0.1");
        if (!request.ca_bundle.empty()) {
            curl_easy_setopt(curl, CURLOPT_CAINFO, request.ca_bundle.c_str());
        }
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, request.connect_timeout_s);
        curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, request.stall_timeout_s);
        curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_text);
        curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header_line);
        curl_easy_setopt(curl, CURLOPT_HEADERDATA, &exchange);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body_data);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &exchange);
        if (header_list != nullptr) {
            curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list.get());
        }
        if (!range.empty()) {
            curl_easy_setopt(curl, CURLOPT_RANGE, range.c_str());
        }
        CURLcode code = curl_easy_perform(curl);
        long status = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        response.status = status;
        response.headers = exchange.headers;
        response.error_body = exchange.error_body;
        if (code == CURLE_OK && status >= 200 && status < 300 && !exchange.body_started) {
            exchange.start_body(); // an empty body still gets its on_response
        }
        if (exchange.aborted) {
            response.failure = HttpFailure::kAborted;
            response.message = "stopped by the caller";
            return response;
        }
        if (code != CURLE_OK) {
            response.failure = classify_curl_error(code);
            curl_off_t connect_time = 0;
            if (code == CURLE_OPERATION_TIMEDOUT &&
                curl_easy_getinfo(curl, CURLINFO_CONNECT_TIME_T, &connect_time) == CURLE_OK && connect_time == 0) {
                response.failure = HttpFailure::kUnreachable; // the connection itself never came up
            }
            response.message = error_text[0] != '\0' ? error_text : curl_easy_strerror(code);
            return response;
        }
        if (is_redirect(status)) {
            std::string next = resolve_redirect(response.url, response.header("location"));
            if (next.empty()) {
                response.failure = HttpFailure::kOther;
                response.message = fmt::format("bad redirect to \"{}\"", response.header("location"));
                return response;
            }
            response.url = next;
            continue;
        }
        if (status < 200 || status >= 300) {
            bool transient = status >= 500 || status == 408 || status == 429;
            response.failure = transient ? HttpFailure::kTransient : HttpFailure::kHttpStatus;
            response.message = fmt::format("HTTP {}", status);
        }
        return response;
    }
    response.failure = HttpFailure::kOther;
    response.message = fmt::format("more than {} redirects", kMaxRedirects);
    return response;
}

HttpResponse HttpSession::get_text(const HttpRequest& request, std::string& body, size_t max_bytes) {
    body.clear();
    bool too_large = false;
    HttpBodyHandler handler;
    handler.on_response = [&](long, const std::map<std::string, std::string>&) {
        body.clear(); // a retried exchange within a redirect chain starts over
        return true;
    };
    handler.on_data = [&](std::span<const char> data) {
        if (body.size() + data.size() > max_bytes) {
            too_large = true;
            return false;
        }
        body.append(data.data(), data.size());
        return true;
    };
    HttpResponse response = get(request, handler);
    if (too_large) {
        response.failure = HttpFailure::kOther;
        response.message = fmt::format("answer larger than {} bytes", max_bytes);
    }
    return response;
}

std::string HttpResponse::header(const std::string& lowercase_name) const {
    auto found = headers.find(lowercase_name);
    return found != headers.end() ? found->second : std::string();
}

std::string HttpResponse::describe() const {
    if (failure == HttpFailure::kHttpStatus || (failure == HttpFailure::kTransient && status >= 400)) {
        return fmt::format("HTTP {} from {}", status, host);
    }
    return fmt::format("{} ({})", message, host);
}

std::string resolve_redirect(const std::string& base, const std::string& location) {
    if (location.empty()) {
        return "";
    }
    CurlUrl url = parse_url(base);
    // Setting a URL on a handle that holds one resolves it relative to the old one.
    if (url == nullptr || curl_url_set(url.get(), CURLUPART_URL, location.c_str(), 0) != CURLUE_OK) {
        return "";
    }
    return url_part(url.get(), CURLUPART_URL, 0);
}

std::string url_origin(const std::string& url) {
    CurlUrl parsed = parse_url(url);
    if (parsed == nullptr) {
        return "";
    }
    std::string scheme = url_part(parsed.get(), CURLUPART_SCHEME, 0);
    std::string host = url_part(parsed.get(), CURLUPART_HOST, 0);
    std::string port = url_part(parsed.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
    std::transform(host.begin(), host.end(), host.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return scheme + "://" + host + ":" + port;
}

std::string url_host(const std::string& url) {
    CurlUrl parsed = parse_url(url);
    if (parsed == nullptr) {
        return url;
    }
    std::string host = url_part(parsed.get(), CURLUPART_HOST, 0);
    std::string port = url_part(parsed.get(), CURLUPART_PORT, 0);
    return port.empty() ? host : host + ":" + port;
}

} // namespace tllm::hub
