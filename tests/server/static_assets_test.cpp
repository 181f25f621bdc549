// The chat page's files (web/, embedded at build time) as the server answers them: the page at `/` names its script
// and style sheet, each comes with its Content-Type, an ETag that a second request can revalidate (304) and its
// caching rule; the page needs no API key while the API does.
#include "server/static_assets.h"
#include "server_fixture.h"

#include <regex>

namespace tllm::server {
namespace {

TEST(StaticAssetsTest, EveryFileIsAnsweredAndRevalidated) {
    const std::span<const EmbeddedFile> files = embedded_web_assets();
    ASSERT_FALSE(files.empty());
    bool page = false;
    for (const EmbeddedFile& file : files) {
        const std::string path = file.path == "index.html" ? "/" : "/" + std::string(file.path);
        page = page || path == "/";
        const std::optional<StaticAnswer> answer = static_answer(files, path, "");
        ASSERT_TRUE(answer.has_value()) << path;
        EXPECT_EQ(answer->status, 200);
        EXPECT_EQ(answer->body, file.bytes());
        EXPECT_EQ(answer->body.size(), file.size);
        EXPECT_EQ(answer->etag.size(), 34u) << "32 hex digits in quotes";
        // Weak and listed tags name the same bytes; another tag does not.
        EXPECT_EQ(static_answer(files, path, answer->etag)->status, 304);
        EXPECT_TRUE(static_answer(files, path, answer->etag)->body.empty());
        EXPECT_EQ(static_answer(files, path, "\"other\", W/" + answer->etag)->status, 304);
        EXPECT_EQ(static_answer(files, path, "*")->status, 304);
        EXPECT_EQ(static_answer(files, path, "\"other\"")->status, 200);
    }
    EXPECT_TRUE(page);
    EXPECT_FALSE(static_answer(files, "/assets/none.js", "").has_value());
    EXPECT_FALSE(static_answer(files, "/index.html", "").has_value()) << "the page is served at / only";
    EXPECT_TRUE(is_page_path("/"));
    EXPECT_TRUE(is_page_path("/assets/app.js"));
    EXPECT_FALSE(is_page_path("/v1/models"));
}

TEST_F(HttpServerTest, ServesThePageAndItsAssetsWithoutTheKey) {
    start("sekrit");
    httplib::Result page = client_->Get("/");
    ASSERT_TRUE(page);
    ASSERT_EQ(page->status, 200);
    EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
    EXPECT_EQ(page->get_header_value("Cache-Control"), "no-cache");
    EXPECT_NE(page->get_header_value("Content-Security-Policy").find("connect-src 'self'"), std::string::npos);
    EXPECT_EQ(page->get_header_value("X-Content-Type-Options"), "nosniff");
    const std::string etag = page->get_header_value("ETag");
    ASSERT_FALSE(etag.empty());

    httplib::Result again = client_->Get("/", {{"If-None-Match", etag}});
    ASSERT_TRUE(again);
    EXPECT_EQ(again->status, 304);
    EXPECT_TRUE(again->body.empty());

    // The page names its script and style sheet by their content's hash; both are served, to be kept for good.
    const std::regex asset(R"re((?:src|href)="(assets/app-[A-Za-z0-9]+\.(js|css))")re");
    int found = 0;
    for (std::sregex_iterator it(page->body.begin(), page->body.end(), asset), end; it != end; ++it, ++found) {
        httplib::Result file = client_->Get("/" + (*it)[1].str());
        ASSERT_TRUE(file);
        EXPECT_EQ(file->status, 200) << (*it)[1];
        EXPECT_EQ(file->get_header_value("Content-Type"),
                  (*it)[2] == "js" ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8");
        EXPECT_EQ(file->get_header_value("Cache-Control"), "public, max-age=31536000, immutable");
        EXPECT_FALSE(file->body.empty());
    }
    EXPECT_EQ(found, 2);

    httplib::Result missing = client_->Get("/assets/none.js");
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 404);
    EXPECT_TRUE(Json::parse(missing->body).contains("error"));

    httplib::Result api = client_->Get("/v1/models");
    ASSERT_TRUE(api);
    EXPECT_EQ(api->status, 401) << "the API still needs the key";
}

} // namespace
} // namespace tllm::server
