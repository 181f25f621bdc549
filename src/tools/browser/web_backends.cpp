// The search services: Exa and You.com, asked exactly as the reference asks them (same endpoints, bodies and
// header), their hits laid out as the reference's search results page.
#include "tools/browser/html_to_text.h"
#include "tools/browser/http_fetch.h"
#include "tools/browser/search_results.h"
#include "tools/browser/text_util.h"
#include "tools/browser/url.h"

#include <nlohmann/json.hpp>

namespace tllm::tools {

namespace {

std::string escape_html(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '\'':
            out += "&#39;";
            break;
        case '"':
            out += "&quot;";
            break;
        default:
            out += c;
        }
    }
    return out;
}

std::string json_string_field(const nlohmann::json& object, const char* name) {
    if (!object.is_object()) {
        return "";
    }
    const auto it = object.find(name);
    return (it != object.end() && it->is_string()) ? it->get<std::string>() : "";
}

// A JSON search API behind an API key. The key goes in x-api-key, as both services expect.
class SearchApi {
  public:
    SearchApi(std::string provider, std::string api_key, std::string base_url, FetchLimits limits)
        : provider_(std::move(provider)), api_key_(std::move(api_key)), base_url_(std::move(base_url)),
          limits_(std::move(limits)) {
        while (!base_url_.empty() && base_url_.back() == '/') {
            base_url_.pop_back();
        }
    }

    // POST when `body` is given, else GET `path_and_query`.
    Result<nlohmann::json> call(const std::string& path_and_query, const nlohmann::json* body) const {
        browser_http::HttpRequest request;
        request.url = base_url_ + path_and_query;
        request.headers = {"x-api-key: " + api_key_, "Accept: application/json"};
        if (body != nullptr) {
            // The query is the model's text: never let a stray invalid byte make dump() throw.
            request.post_body = body->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
            request.headers.push_back("Content-Type: application/json");
        }
        request.max_body_bytes = limits_.max_api_response_bytes;
        request.cut_oversized_body = false;
        request.check_addresses = false; // the API's address is the operator's choice, not the model's
        auto response = browser_http::perform(request, limits_);
        if (!response.ok()) {
            return response.error().with_context(provider_ + " API");
        }
        if (response->status != 200) {
            return Error(ErrorCode::kNetwork,
                         browser_http::describe_api_status(provider_, response->status, response->body));
        }
        nlohmann::json parsed = nlohmann::json::parse(response->body, nullptr, false);
        if (parsed.is_discarded()) {
            return make_error(ErrorCode::kNetwork, "{} API returned a response that is not JSON", provider_);
        }
        return parsed;
    }

    const FetchLimits& limits() const { return limits_; }

  private:
    std::string provider_;
    std::string api_key_;
    std::string base_url_;
    FetchLimits limits_;
};

Result<PageContents>
page_from_contents_api(std::string_view requested_url, const std::string& html, const std::string& title) {
    const bool view_source = requested_url.starts_with(kViewSourcePrefix);
    const std::string_view url = view_source ? requested_url.substr(kViewSourcePrefix.size()) : requested_url;
    const DocumentSource source{url, title, true};
    return view_source ? process_source(html, source) : process_html(html, source);
}

std::string strip_view_source(std::string_view url) {
    return std::string(url.starts_with(kViewSourcePrefix) ? url.substr(kViewSourcePrefix.size()) : url);
}

class ExaBackend final : public BrowserBackend {
  public:
    ExaBackend(std::string api_key, std::string base_url, FetchLimits limits, bool use_contents_api)
        : api_("Exa", std::move(api_key), std::move(base_url), std::move(limits)), use_contents_api_(use_contents_api) {
    }

    Result<PageContents> search(std::string_view query, int max_results) override {
        const nlohmann::json body = {
            {"query", query}, {"numResults", max_results}, {"contents", {{"text", true}, {"summary", true}}}};
        TLLM_ASSIGN_OR_RETURN(nlohmann::json data, api_.call("/search", &body));
        std::vector<SearchHit> hits;
        if (data.contains("results") && data["results"].is_array()) {
            for (const nlohmann::json& result : data["results"]) {
                hits.push_back({json_string_field(result, "title"), json_string_field(result, "url"),
                                json_string_field(result, "summary")});
            }
        }
        return make_search_results_page(query, hits);
    }

    Result<PageContents> fetch(std::string_view url) override {
        if (!use_contents_api_) {
            return browser_http::fetch_web_page(url, api_.limits());
        }
        const std::string plain_url = strip_view_source(url);
        const nlohmann::json body = {{"urls", {plain_url}}, {"text", {{"includeHtmlTags", true}}}};
        TLLM_ASSIGN_OR_RETURN(nlohmann::json data, api_.call("/contents", &body));
        if (!data.contains("results") || !data["results"].is_array() || data["results"].empty()) {
            return make_error(ErrorCode::kNetwork, "No contents returned for {}", plain_url);
        }
        const nlohmann::json& first = data["results"][0];
        return page_from_contents_api(url, json_string_field(first, "text"), json_string_field(first, "title"));
    }

    std::string source() const override { return "web"; }

  private:
    SearchApi api_;
    bool use_contents_api_;
};

class YouComBackend final : public BrowserBackend {
  public:
    YouComBackend(std::string api_key, std::string base_url, FetchLimits limits, bool use_contents_api)
        : api_("You.com", std::move(api_key), std::move(base_url), std::move(limits)),
          use_contents_api_(use_contents_api) {}

    Result<PageContents> search(std::string_view query, int max_results) override {
        const std::string path =
            fmt::format("/v1/search?query={}&count={}", browser_url::percent_encode(query, ""), max_results);
        TLLM_ASSIGN_OR_RETURN(nlohmann::json data, api_.call(path, nullptr));
        std::vector<SearchHit> hits;
        const nlohmann::json* results = data.contains("results") ? &data["results"] : nullptr;
        if (results != nullptr && results->is_object()) {
            // Web results carry a list of snippets, news results a description; web come first.
            for (const char* section : {"web", "news"}) {
                if (!results->contains(section) || !(*results)[section].is_array()) {
                    continue;
                }
                for (const nlohmann::json& result : (*results)[section]) {
                    std::string summary;
                    if (result.contains("snippets") && result["snippets"].is_array()) {
                        for (const nlohmann::json& snippet : result["snippets"]) {
                            if (snippet.is_string()) {
                                summary += (summary.empty() ? "" : " ") + snippet.get<std::string>();
                            }
                        }
                    }
                    if (summary.empty()) {
                        summary = json_string_field(result, "description");
                    }
                    hits.push_back({json_string_field(result, "title"), json_string_field(result, "url"), summary});
                }
            }
        }
        return make_search_results_page(query, hits);
    }

    Result<PageContents> fetch(std::string_view url) override {
        if (!use_contents_api_) {
            return browser_http::fetch_web_page(url, api_.limits());
        }
        const std::string plain_url = strip_view_source(url);
        const nlohmann::json body = {{"urls", {plain_url}}, {"livecrawl_formats", "html"}};
        TLLM_ASSIGN_OR_RETURN(nlohmann::json data, api_.call("/v1/contents", &body));
        if (!data.is_array() || data.empty()) {
            return make_error(ErrorCode::kNetwork, "No contents returned for {}", plain_url);
        }
        if (!data[0].is_object() || !data[0].contains("html")) {
            return make_error(ErrorCode::kNetwork, "No HTML returned for {}", plain_url);
        }
        return page_from_contents_api(url, json_string_field(data[0], "html"), json_string_field(data[0], "title"));
    }

    std::string source() const override { return "web"; }

  private:
    SearchApi api_;
    bool use_contents_api_;
};

Status check_api_key(std::string_view key, std::string_view provider, std::string_view variable) {
    if (browser_text::strip(key).empty()) {
        return make_error(ErrorCode::kInvalidArgument, "the {} browser backend needs an API key: set {}", provider,
                          variable);
    }
    return {};
}

} // namespace

PageContents make_search_results_page(std::string_view query, const std::vector<SearchHit>& hits) {
    std::string items;
    for (const SearchHit& hit : hits) {
        items += fmt::format("<li><a href='{}'>{}</a> {}</li>", escape_html(hit.url), escape_html(hit.title),
                             escape_html(hit.summary));
    }
    const std::string html = "\n<html><body>\n<h1>Search Results</h1>\n<ul>\n" + items + "\n</ul>\n</body></html>\n";
    return process_html(html, DocumentSource{"", query, true});
}

Result<std::unique_ptr<BrowserBackend>>
make_exa_backend(std::string api_key, std::string base_url, FetchLimits limits, bool fetch_with_contents_api) {
    TLLM_RETURN_IF_ERROR(check_api_key(api_key, "Exa", "EXA_API_KEY"));
    return std::unique_ptr<BrowserBackend>(std::make_unique<ExaBackend>(std::move(api_key), std::move(base_url),
                                                                        std::move(limits), fetch_with_contents_api));
}

Result<std::unique_ptr<BrowserBackend>>
make_youcom_backend(std::string api_key, std::string base_url, FetchLimits limits, bool fetch_with_contents_api) {
    TLLM_RETURN_IF_ERROR(check_api_key(api_key, "You.com", "YDC_API_KEY"));
    return std::unique_ptr<BrowserBackend>(std::make_unique<YouComBackend>(std::move(api_key), std::move(base_url),
                                                                           std::move(limits), fetch_with_contents_api));
}

} // namespace tllm::tools
