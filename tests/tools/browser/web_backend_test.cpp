// The web backends against loopback stand-ins for Exa, You.com and the web: the requests must be the ones the
// real APIs take (and the reference sends), results must become a browsable page, pages must be fetched under
// the limits, and every failure must read as something the model or the user can act on.
#include "../../common/tls_server.h"
#include "loopback_server.h"
#include "tools/browser/backend.h"
#include "tools/browser/browser.h"
#include "tools/browser/http_fetch.h"

#include <gtest/gtest.h>
#include <mutex>
#include <nlohmann/json.hpp>

namespace tllm::tools {
namespace {

using nlohmann::json;
using testing::LoopbackServer;

struct RecordedRequest {
    std::string method;
    std::string path;
    std::string api_key;
    std::string content_type;
    std::string body;
    std::multimap<std::string, std::string> params;
};

class Recorder {
  public:
    void add(const httplib::Request& request) {
        std::lock_guard lock(mutex_);
        requests_.push_back({request.method,
                             request.path,
                             request.get_header_value("x-api-key"),
                             request.get_header_value("Content-Type"),
                             request.body,
                             {request.params.begin(), request.params.end()}});
    }
    std::vector<RecordedRequest> requests() {
        std::lock_guard lock(mutex_);
        return requests_;
    }

  private:
    std::mutex mutex_;
    std::vector<RecordedRequest> requests_;
};

std::string reply_text(const Result<std::string>& result) { return result.ok() ? *result : result.error().message(); }

const char* const kArticle = "<html><head><title>Loopback article</title></head><body><h1>Article</h1>"
                             "<p>The answer is 42. See <a href=\"/notes.txt\">the notes</a>.</p></body></html>";

class WebBackends : public ::testing::Test {
  protected:
    WebBackends()
        : web([this](httplib::Server& server) { add_pages(server); }),
          exa([this](httplib::Server& server) { add_exa(server); }),
          youcom([this](httplib::Server& server) { add_youcom(server); }) {
        limits.allow_private_addresses = true; // everything here lives on 127.0.0.1
        limits.connect_timeout = std::chrono::milliseconds(1000);
        limits.total_timeout = std::chrono::milliseconds(1000);
        limits.max_page_bytes = 64 << 10;
    }

    void add_pages(httplib::Server& server) {
        server.Get("/article.html", [this](const httplib::Request& request, httplib::Response& response) {
            pages.add(request);
            response.set_content(kArticle, "text/html; charset=utf-8");
        });
        server.Get("/notes.txt", [](const httplib::Request&, httplib::Response& response) {
            response.set_content("Plain notes.\nSecond line.", "text/plain");
        });
        server.Get("/readme.md", [](const httplib::Request&, httplib::Response& response) {
            response.set_content("# Readme\n\nGo to [the article](/article.html).", "text/markdown");
        });
        server.Get("/latin1.html", [](const httplib::Request&, httplib::Response& response) {
            response.set_content("<p>caf\xe9 cr\xe8me</p>", "text/html; charset=ISO-8859-1");
        });
        server.Get("/big.html", [](const httplib::Request&, httplib::Response& response) {
            std::string html = "<p>FIRST</p>";
            while (html.size() < (200u << 10)) {
                html += "<p>filler filler filler filler filler filler filler filler</p>\n";
            }
            response.set_content(html + "<p>LAST</p>", "text/html");
        });
        server.Get("/image.png", [](const httplib::Request&, httplib::Response& response) {
            response.set_content(std::string("\x89PNG\r\n\x1a\n\0\0\0", 11), "image/png");
        });
        server.Get("/loop",
                   [](const httplib::Request&, httplib::Response& response) { response.set_redirect("/loop"); });
        server.Get("/moved", [](const httplib::Request&, httplib::Response& response) {
            response.set_redirect("/article.html");
        });
        server.Get("/missing", [](const httplib::Request&, httplib::Response& response) { response.status = 404; });
        server.Get("/long.html", [](const httplib::Request&, httplib::Response& response) {
            std::string html = "<html><head><title>Long page</title></head><body>";
            for (int i = 0; i < 40; ++i) {
                html += "<p>Paragraph " + std::to_string(i) + (i == 27 ? " holds the needle." : " is filler.") + "</p>";
            }
            response.set_content(html + "</body></html>", "text/html");
        });
    }

    void add_exa(httplib::Server& server) {
        const auto answer = [this](const httplib::Request& request, httplib::Response& response, const json& body) {
            exa_requests.add(request);
            if (request.get_header_value("x-api-key") != "exa-key") {
                response.status = 401;
                response.set_content(R"({"error": "Invalid API key"})", "application/json");
                return;
            }
            response.set_content(body.dump(), "application/json");
        };
        server.Post("/search", [this, answer](const httplib::Request& request, httplib::Response& response) {
            const json query = json::parse(request.body, nullptr, false);
            if (query.is_object() && query.value("query", "") == "overload") {
                exa_requests.add(request);
                response.status = 429;
                response.set_content(R"({"error": "Too many requests"})", "application/json");
                return;
            }
            if (query.is_object() && query.value("query", "") == "crash") {
                exa_requests.add(request);
                response.status = 503;
                return;
            }
            answer(request, response,
                   {{"results",
                     {{{"title", "Loopback article"}, {"url", web.url("/article.html")}, {"summary", "About 42."}},
                      {{"title", "Notes"}, {"url", web.url("/notes.txt")}, {"summary", "Plain notes."}}}}});
        });
        server.Post("/contents", [answer](const httplib::Request& request, httplib::Response& response) {
            answer(request, response,
                   {{"results", {{{"title", "From contents"}, {"text", "<p>Contents API text about 42.</p>"}}}}});
        });
    }

    void add_youcom(httplib::Server& server) {
        server.Get("/v1/search", [this](const httplib::Request& request, httplib::Response& response) {
            youcom_requests.add(request);
            const json body = {
                {"results",
                 {{"web",
                   {{{"title", "Loopback article"},
                     {"url", web.url("/article.html")},
                     {"snippets", {"First snippet.", "Second snippet."}},
                     {"description", "unused"}}}},
                  {"news", {{{"title", "News item"}, {"url", web.url("/notes.txt")}, {"description", "Breaking."}}}}}}};
            response.set_content(body.dump(), "application/json");
        });
        server.Post("/v1/contents", [this](const httplib::Request& request, httplib::Response& response) {
            youcom_requests.add(request);
            const json body = json::array({{{"url", web.url("/article.html")},
                                            {"title", "You.com contents"},
                                            {"html", "<p>Crawled text about 42.</p>"}}});
            response.set_content(body.dump(), "application/json");
        });
    }

    std::unique_ptr<BrowserBackend> exa_backend(bool use_contents_api = false, const std::string& key = "exa-key") {
        auto backend = make_exa_backend(key, exa.url(), limits, use_contents_api);
        EXPECT_TRUE(backend.ok()) << backend.error().to_string();
        return std::move(backend).value();
    }

    std::string fetch_error(const std::string& url) {
        auto page = browser_http::fetch_web_page(url, limits);
        EXPECT_FALSE(page.ok()) << url;
        return page.ok() ? "" : page.error().message();
    }

    Recorder pages;
    Recorder exa_requests;
    Recorder youcom_requests;
    FetchLimits limits;
    LoopbackServer web;
    LoopbackServer exa;
    LoopbackServer youcom;
};

TEST_F(WebBackends, ExaSearchSendsTheReferenceRequestAndListsTheHits) {
    Browser browser(exa_backend());
    const std::string host = "127.0.0.1:" + std::to_string(web.port());
    EXPECT_EQ(browser.call("search", R"({"query": "what is the answer", "topn": 3})"),
              "[0] what is the answer\n**viewing lines [0 - 5] of 5**\n\nL0: \nL1: URL: \nL2: # Search Results\nL3: \n"
              "L4:   * 【0†Loopback article†" +
                  host +
                  "】 About 42.\n"
                  "L5:   * 【1†Notes†" +
                  host + "】 Plain notes.");
    const std::vector<RecordedRequest> requests = exa_requests.requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0].method, "POST");
    EXPECT_EQ(requests[0].path, "/search");
    EXPECT_EQ(requests[0].api_key, "exa-key");
    EXPECT_EQ(requests[0].content_type, "application/json");
    EXPECT_EQ(
        json::parse(requests[0].body),
        json({{"query", "what is the answer"}, {"numResults", 20}, {"contents", {{"text", true}, {"summary", true}}}}));
    EXPECT_EQ(browser.description_source_line(), "sources=web");
}

TEST_F(WebBackends, OpeningAResultFetchesThePageItself) {
    Browser browser(exa_backend());
    ASSERT_TRUE(browser.search({"answer", 10, std::nullopt}).ok());
    EXPECT_EQ(browser.call("open", R"({"id": 0})"),
              "[1] Loopback article (" + web.url("/article.html") +
                  ")\n**viewing lines [0 - 4] of 4**\n\nL0: \n"
                  "L1: URL: " +
                  web.url("/article.html") + "\nL2: # Article \nL3: \nL4: The answer is 42. See 【0†the notes】.");
    EXPECT_EQ(pages.requests().size(), 1u);
    EXPECT_EQ(exa_requests.requests().size(), 1u); // no /contents call
    // Links on the fetched page resolve against it and open too.
    EXPECT_EQ(browser.call("open", R"({"id": 0})"),
              "[2] 127.0.0.1:" + std::to_string(web.port()) + " (" + web.url("/notes.txt") +
                  ")\n**viewing lines [0 - 3] of 3**\n\nL0: \nL1: URL: " + web.url("/notes.txt") +
                  "\nL2: Plain notes.\nL3: Second line.");
}

TEST_F(WebBackends, ServedPagesScrollFindAndAreCited) {
    Browser browser(exa_backend());
    const std::string url = web.url("/long.html");
    const std::string opened = browser.call("open", json({{"id", url}}).dump());
    // Each paragraph is a line, with a blank line between: paragraph i is on line 2 + 2 i.
    ASSERT_EQ(opened.rfind("[0] Long page (" + url + ")\n", 0), 0u) << opened;
    EXPECT_NE(opened.find("L2: Paragraph 0 is filler."), std::string::npos) << opened;

    // Scrolling: no id, a start line and a line count.
    EXPECT_EQ(browser.call("open", R"({"loc": 56, "num_lines": 3})"),
              "[1] Long page (" + url +
                  ")\n**viewing lines [56 - 58] of 80**\n\nL56: Paragraph 27 holds the needle.\nL57: \nL58: "
                  "Paragraph 28 is filler.");

    const std::string found = browser.call("find", R"({"pattern": "needle", "cursor": 0})");
    EXPECT_NE(found.find("Find results for text: `needle` in `Long page`"), std::string::npos) << found;
    EXPECT_NE(found.find("match at L56"), std::string::npos) << found;
    EXPECT_NE(found.find("Paragraph 27 holds the needle."), std::string::npos) << found;
    // Each match shows four lines from the one that matched (the reference's find).
    EXPECT_NE(found.find("Paragraph 28 is filler."), std::string::npos) << found;
    EXPECT_EQ(found.find("Paragraph 29"), std::string::npos) << found;
    EXPECT_EQ(found.find("Paragraph 26"), std::string::npos) << found;

    // A citation of the opened page becomes a link to it; one of a page never opened stays as written.
    const NormalizedCitations cited = browser.normalize_citations_with_links("Needle 【0†L56】 and 【9†L1】.");
    ASSERT_EQ(cited.citations.size(), 1u) << cited.text;
    EXPECT_EQ(cited.citations[0].url, url);
    EXPECT_NE(cited.text.find(url), std::string::npos) << cited.text;
    EXPECT_NE(cited.text.find("【9†L1】"), std::string::npos) << cited.text;
    EXPECT_TRUE(browser.normalize_citations_with_links("Needle 【0†L5").has_partial_citation);
}

TEST_F(WebBackends, ExaContentsApiWhenAsked) {
    Browser browser(exa_backend(/*use_contents_api=*/true));
    ASSERT_TRUE(browser.search({"answer", 10, std::nullopt}).ok());
    EXPECT_EQ(browser.call("open", R"({"id": 0})"), "[1] From contents (" + web.url("/article.html") +
                                                        ")\n**viewing lines [0 - 2] of 2**\n\nL0: \n"
                                                        "L1: URL: " +
                                                        web.url("/article.html") + "\nL2: Contents API text about 42.");
    const std::vector<RecordedRequest> requests = exa_requests.requests();
    ASSERT_EQ(requests.size(), 2u);
    EXPECT_EQ(requests[1].path, "/contents");
    EXPECT_EQ(json::parse(requests[1].body),
              json({{"urls", {web.url("/article.html")}}, {"text", {{"includeHtmlTags", true}}}}));
    EXPECT_TRUE(pages.requests().empty());
}

TEST_F(WebBackends, YouComSearchAndContents) {
    auto backend = make_youcom_backend("ydc-key", youcom.url(), limits, /*fetch_with_contents_api=*/true);
    ASSERT_TRUE(backend.ok()) << backend.error().to_string();
    Browser browser(std::move(backend).value());
    const std::string host = "127.0.0.1:" + std::to_string(web.port());
    EXPECT_EQ(browser.call("search", R"({"query": "the answer"})"),
              "[0] the answer\n**viewing lines [0 - 5] of 5**\n\nL0: \nL1: URL: \nL2: # Search Results\nL3: \n"
              "L4:   * 【0†Loopback article†" +
                  host +
                  "】 First snippet. Second snippet.\n"
                  "L5:   * 【1†News item†" +
                  host + "】 Breaking.");
    EXPECT_EQ(browser.call("open", R"({"id": 0})"), "[1] You.com contents (" + web.url("/article.html") +
                                                        ")\n**viewing lines [0 - 2] of 2**\n\nL0: \n"
                                                        "L1: URL: " +
                                                        web.url("/article.html") + "\nL2: Crawled text about 42.");
    const std::vector<RecordedRequest> requests = youcom_requests.requests();
    ASSERT_EQ(requests.size(), 2u);
    EXPECT_EQ(requests[0].method, "GET");
    EXPECT_EQ(requests[0].api_key, "ydc-key");
    EXPECT_EQ(requests[0].params, (std::multimap<std::string, std::string>{{"count", "20"}, {"query", "the answer"}}));
    EXPECT_EQ(requests[1].path, "/v1/contents");
    EXPECT_EQ(requests[1].api_key, "ydc-key");
    EXPECT_EQ(json::parse(requests[1].body),
              json({{"urls", {web.url("/article.html")}}, {"livecrawl_formats", "html"}}));
}

TEST_F(WebBackends, ApiFailuresSayWhatToDo) {
    Browser bad_key(exa_backend(false, "wrong-key"));
    EXPECT_EQ(bad_key.call("search", R"({"query": "x"})"),
              "Error during search for `x`: Exa API error 401: rejected the API key (check that it is set and valid): "
              "{\"error\": \"Invalid API key\"}");
    Browser browser(exa_backend());
    EXPECT_EQ(browser.call("search", R"({"query": "overload"})"),
              "Error during search for `overload`: Exa API error 429: rate limit or quota exceeded (try again later): "
              "{\"error\": \"Too many requests\"}");
    EXPECT_EQ(browser.call("search", R"({"query": "crash"})"),
              "Error during search for `crash`: Exa API error 503: server error (the service is failing; try again "
              "later)");
    EXPECT_EQ(browser.page_count(), 0u);

    const auto no_key = make_exa_backend("", exa.url(), limits);
    ASSERT_FALSE(no_key.ok());
    EXPECT_EQ(no_key.error().message(), "the Exa browser backend needs an API key: set EXA_API_KEY");
    const auto no_ydc_key = make_youcom_backend("  ", youcom.url(), limits);
    ASSERT_FALSE(no_ydc_key.ok());
    EXPECT_EQ(no_ydc_key.error().message(), "the You.com browser backend needs an API key: set YDC_API_KEY");
}

TEST_F(WebBackends, PagesOverTheSizeLimitAreCut) {
    auto page = browser_http::fetch_web_page(web.url("/big.html"), limits);
    ASSERT_TRUE(page.ok()) << page.error().to_string();
    EXPECT_NE(page->text.find("FIRST"), std::string::npos);
    EXPECT_EQ(page->text.find("LAST"), std::string::npos);
    EXPECT_LT(page->text.size(), 64u << 10);
}

TEST_F(WebBackends, ServersThatNeverAnswerTimeOut) {
    testing::SilentListener silent;
    const auto started = std::chrono::steady_clock::now();
    const std::string error = fetch_error(silent.url("/"));
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
    EXPECT_TRUE(error.starts_with("timed out (limits: 1 s to connect, 1 s in all)")) << error;
}

TEST_F(WebBackends, RedirectsAreFollowedUpToTheLimit) {
    auto moved = browser_http::fetch_web_page(web.url("/moved"), limits);
    ASSERT_TRUE(moved.ok()) << moved.error().to_string();
    EXPECT_EQ(moved->url, web.url("/article.html")); // links on it resolve against where it really is
    EXPECT_EQ(fetch_error(web.url("/loop")), "too many redirects (more than 5)");
}

TEST_F(WebBackends, OnlyTextOverHttpIsShown) {
    EXPECT_EQ(fetch_error(web.url("/image.png")),
              "cannot show content of type `image/png`: only HTML and text pages can be opened");
    EXPECT_EQ(fetch_error("ftp://127.0.0.1/file"),
              "unsupported URL scheme `ftp`: only http and https URLs can be opened");
    EXPECT_EQ(fetch_error("file:///etc/passwd"),
              "unsupported URL scheme `file`: only http and https URLs can be opened");
    EXPECT_EQ(fetch_error("not a url"), "`not a url` is not a URL (expected http:// or https://)");
    EXPECT_EQ(fetch_error(web.url("/missing")), "the server answered HTTP 404");
    Browser browser(exa_backend());
    EXPECT_EQ(browser.call("open", R"({"id": "file:///etc/passwd"})"),
              "Error fetching URL `file:///etc/passwd`: unsupported URL scheme `file`: only http and https URLs can be "
              "opened");
}

TEST_F(WebBackends, PrivateAddressesAreRefusedUnlessAllowed) {
    limits.allow_private_addresses = false;
    EXPECT_EQ(fetch_error(web.url("/article.html")),
              "refused to connect to 127.0.0.1: it is a private, loopback or reserved address");
    EXPECT_TRUE(pages.requests().empty()); // nothing was sent
    // The search API is the operator's choice, so its address is not checked.
    auto backend = make_exa_backend("exa-key", exa.url(), limits);
    ASSERT_TRUE(backend.ok());
    EXPECT_TRUE((*backend)->search("answer", 20).ok());
}

TEST_F(WebBackends, TextMarkdownCharsetsAndSource) {
    auto markdown = browser_http::fetch_web_page(web.url("/readme.md"), limits);
    ASSERT_TRUE(markdown.ok());
    EXPECT_EQ(markdown->text, "\nURL: " + web.url("/readme.md") + "\n# Readme\n\nGo to 【0†the article】.");
    EXPECT_EQ(markdown->links, std::vector<std::string>{web.url("/article.html")});
    auto latin1 = browser_http::fetch_web_page(web.url("/latin1.html"), limits);
    ASSERT_TRUE(latin1.ok());
    EXPECT_EQ(latin1->text, "\nURL: " + web.url("/latin1.html") + "\ncafé crème");
    auto source = browser_http::fetch_web_page("view-source:" + web.url("/article.html"), limits);
    ASSERT_TRUE(source.ok());
    EXPECT_EQ(source->text, "\nURL: " + web.url("/article.html") + "\n" + kArticle);
    EXPECT_TRUE(source->links.empty());

    Browser browser(exa_backend());
    ASSERT_TRUE(browser.open(OpenArgs::url(web.url("/article.html"))).ok());
    OpenArgs view_source;
    view_source.view_source = true;
    view_source.num_lines = 3;
    EXPECT_EQ(reply_text(browser.open(view_source)),
              "[1] 127.0.0.1:" + std::to_string(web.port()) + " (" + web.url("/article.html") +
                  ")\n**viewing lines [0 - 2] of 3**\n\nL0: \nL1: URL: " + web.url("/article.html") +
                  "\nL2: <html><head><title>Loopback article</title></head><body><h1>Article</h1><p>The ");
}

// HTTPS pages are checked against FetchLimits::ca_bundle (BrowserSettings takes it from SSL_CERT_FILE, else the
// distribution's bundle), and a certificate outside it is refused with a message saying so.
TEST(WebPagesOverHttps, TheConfiguredCaBundleIsTrustedAndNoOtherCertificate) {
    testing::TlsServer server;
    testing::TempDir dir;
    testing::write_self_signed_certificate(dir / "other.pem", dir / "other.key");
    FetchLimits limits;
    limits.allow_private_addresses = true;
    limits.ca_bundle = dir / "other.pem";
    auto refused = browser_http::fetch_web_page(server.url("/hello"), limits);
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.error().message().find("certificate"), std::string::npos) << refused.error().to_string();
    limits.ca_bundle = server.certificate_path();
    auto page = browser_http::fetch_web_page(server.url("/hello"), limits);
    ASSERT_TRUE(page.ok()) << page.error().to_string();
    EXPECT_NE(page->text.find("hello over TLS"), std::string::npos) << page->text;
}

} // namespace
} // namespace tllm::tools
