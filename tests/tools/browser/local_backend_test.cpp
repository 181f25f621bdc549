// The offline backend over a folder of documents: ranking, the results page, opening documents and their
// links, and refusing every way out of the folder.
#include "../../common/temp_dir.h"
#include "loopback_server.h"
#include "tools/browser/backend.h"
#include "tools/browser/browser.h"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>

namespace tllm::tools {
namespace {

namespace fs = std::filesystem;

void write_file(const fs::path& path, const std::string& content) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << content;
}

class LocalBackend : public ::testing::Test {
  protected:
    LocalBackend() {
        write_file(
            docs / "penguins.html",
            "<html><head><title>Penguins of Antarctica</title></head><body><h1>Penguins</h1>"
            "<p>Emperor penguins breed in the Antarctic winter. Penguins cannot fly.</p>"
            "<p>See also <a href=\"birds/flight.md\">flight</a> and <a href=\"https://example.org/\">the web</a>."
            "</p></body></html>");
        write_file(docs / "birds/flight.md", "# How birds fly\n\nMost birds fly; penguins swim instead.\n\n"
                                             "Back to [penguins](../penguins.html).\n");
        write_file(docs / "notes/cooking.txt", "Cooking notes\n\nBoil water. Add pasta.\n");
        write_file(docs / "ignored.pdf", "%PDF-1.4 penguins penguins penguins");
        write_file(outside / "secret.txt", "penguin secret outside the folder");
        fs::create_symlink(outside / "secret.txt", docs / "leak.txt");
        fs::create_symlink(outside, docs / "escape");
    }

    std::unique_ptr<BrowserBackend> backend() {
        FetchLimits limits;
        limits.allow_private_addresses = true;
        auto made = make_local_backend(docs.string(), limits);
        EXPECT_TRUE(made.ok()) << made.error().to_string();
        return std::move(made).value();
    }

    testing::TempDir dir;
    fs::path docs = dir / "docs";
    fs::path outside = dir / "outside";
};

TEST_F(LocalBackend, SearchRanksByTheQueryAndListsResultsLikeTheWeb) {
    Browser browser(backend());
    EXPECT_EQ(browser.description_source_line(), "sources=docs"); // the folder's name
    // The page about penguins (in its title and twice in its text) outranks the one that mentions them once;
    // the cooking notes, the PDF and everything behind the symlinks are not results.
    EXPECT_EQ(browser.call("search", R"({"query": "Penguins"})"),
              "[0] Penguins\n**viewing lines [0 - 7] of 7**\n\nL0: \nL1: URL: \nL2: # Search Results\nL3: \n"
              "L4:   * 【0†Penguins of Antarctica†docs】 # Penguins Emperor penguins breed in the \n"
              "L5: Antarctic winter. Penguins cannot fly. See also flight and the web.\n"
              "L6:   * 【1†How birds fly†docs】 Most birds fly; penguins swim instead. Back to \n"
              "L7: penguins.");
    EXPECT_EQ(browser.page(0).links,
              (std::vector<std::string>{"local://docs/penguins.html", "local://docs/birds/flight.md"}));
    EXPECT_NE(
        browser.call("search", R"({"query": "pasta water"})").find("【0†cooking.txt†docs】 Boil water. Add pasta."),
        std::string::npos);
    EXPECT_EQ(browser.call("search", R"({"query": "secret"})"),
              "[2] secret\n**viewing lines [0 - 2] of 2**\n\nL0: \nL1: URL: \nL2: # Search Results");
}

TEST_F(LocalBackend, OpensDocumentsAndFollowsTheirLinks) {
    Browser browser(backend());
    ASSERT_TRUE(browser.search({"penguins", 10, std::nullopt}).ok());
    EXPECT_EQ(browser.call("open", R"({"id": 0})"),
              "[1] Penguins of Antarctica (local://docs/penguins.html)\n**viewing lines [0 - 6] of 6**\n\nL0: \n"
              "L1: URL: local://docs/penguins.html\nL2: # Penguins \nL3: \n"
              "L4: Emperor penguins breed in the Antarctic winter. Penguins cannot fly.\nL5: \n"
              "L6: See also 【0†flight】 and 【1†the web†example.org】.");
    EXPECT_EQ(browser.call("open", R"({"id": 0})"),
              "[2] How birds fly (local://docs/birds/flight.md)\n**viewing lines [0 - 6] of 6**\n\nL0: \n"
              "L1: URL: local://docs/birds/flight.md\nL2: # How birds fly\nL3: \n"
              "L4: Most birds fly; penguins swim instead.\nL5: \nL6: Back to 【0†penguins】.");
    EXPECT_EQ(browser.call("open", R"({"id": "local://docs/notes/cooking.txt"})"),
              "[3] cooking.txt (local://docs/notes/cooking.txt)\n**viewing lines [0 - 4] of 4**\n\nL0: \n"
              "L1: URL: local://docs/notes/cooking.txt\nL2: Cooking notes\nL3: \nL4: Boil water. Add pasta.");
}

TEST_F(LocalBackend, PathsOutsideTheFolderAreRefused) {
    auto local = backend();
    for (const char* url : {"local://docs/../outside/secret.txt", "local://docs/%2E%2E/outside/secret.txt",
                            "local://docs/escape/secret.txt", "local://docs/leak.txt"}) {
        const auto page = local->fetch(url);
        ASSERT_FALSE(page.ok()) << url;
        EXPECT_TRUE(page.error().message().find("outside the document folder") != std::string::npos ||
                    page.error().message() == "`..` is not allowed in document paths")
            << page.error().message();
    }
    EXPECT_EQ(local->fetch("local://docs/none.md").error().message(), "no document /none.md");
    EXPECT_EQ(local->fetch("local://other/penguins.html").error().message(),
              "no document collection `other` (this one is `docs`)");
    EXPECT_EQ(local->fetch("file:///etc/passwd").error().message(),
              "unsupported URL scheme `file`: open local://docs/... documents or http(s) URLs");
    EXPECT_EQ(local->fetch("local://docs/ignored.pdf").error().message(),
              "not a document this browser shows: local://docs/ignored.pdf");
}

TEST_F(LocalBackend, ViewSourceAndWebPages) {
    auto local = backend();
    auto source = local->fetch("view-source:local://docs/birds/flight.md");
    ASSERT_TRUE(source.ok());
    EXPECT_EQ(source->text, "\nURL: local://docs/birds/flight.md\n# How birds fly\n\nMost birds fly; penguins swim "
                            "instead.\n\nBack to [penguins](../penguins.html).\n");
    testing::LoopbackServer web([](httplib::Server& server) {
        server.Get("/page", [](const httplib::Request&, httplib::Response& response) {
            response.set_content("<p>From the web.</p>", "text/html");
        });
    });
    auto page = local->fetch(web.url("/page"));
    ASSERT_TRUE(page.ok()) << page.error().to_string();
    EXPECT_EQ(page->text, "\nURL: " + web.url("/page") + "\nFrom the web.");
}

TEST(LocalBackendCreation, NeedsAnExistingFolder) {
    const auto missing = make_local_backend("/nonexistent/browser-docs");
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().message(), "the browser's document folder /nonexistent/browser-docs does not exist");
}

} // namespace
} // namespace tllm::tools
