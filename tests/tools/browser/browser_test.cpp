// The browser's page stack and display, over an in-memory backend. The expected replies are those of the
// reference SimpleBrowserTool for the same pages and calls (its search/open/find/show_page logic run with a
// one-token-per-character count, which we plug in here too): cursors, headers, scrollbars, line numbers,
// find pages, and the error texts the model reads.
#include "tools/browser/browser.h"
#include "tools/browser/html_to_text.h"
#include "tools/browser/search_results.h"

#include <gtest/gtest.h>
#include <map>

namespace tllm::tools {
namespace {

const char* const kFactsHtml = R"~(<html><head><title>ignored</title></head><body>
<h1>Cat facts</h1>
<p>Cats sleep for twelve to sixteen hours a day, which is why you so often find them curled up in a warm and sunny spot near a window.</p>
<p>A group of cats is called a clowder. See <a href="/more">more facts</a> or the <a href="https://other.example/y">other site</a>.</p>
<ul><li>Whiskers sense the air.</li><li>Cats purr at 25 Hz.</li></ul>
<h2>Sleep</h2>
<p>Kittens sleep even more than adult cats do.</p>
<p>Old cats sleep most of the day.</p>
<p>Line nine.</p><p>Line ten.</p><p>Line eleven.</p><p>Line twelve.</p>
<p>The end: sleep well.</p>
</body></html>)~";

class FakeBackend final : public BrowserBackend {
  public:
    explicit FakeBackend(int* fetches) : fetches_(fetches) {}

    Result<PageContents> search(std::string_view query, int max_results) override {
        last_max_results = max_results;
        if (query == "fail") {
            return make_error(ErrorCode::kNetwork, "Exa API error 429: rate limit");
        }
        return make_search_results_page(query, {{"Cat facts", "https://cats.example/facts", "Cats sleep a lot."},
                                                {"Dog page", "https://dogs.example/x", "Not cats."}});
    }

    Result<PageContents> fetch(std::string_view url) override {
        ++*fetches_;
        static const std::map<std::string, std::pair<std::string, std::string>, std::less<>> kPages = {
            {"https://cats.example/facts", {kFactsHtml, "Cat facts"}},
            {"https://cats.example/more", {"<p>More: cats have <b>32</b> muscles in each ear.</p>", "More cat facts"}},
            {"https://dogs.example/x", {"<p>Dogs bark.</p>", "Dog page"}}};
        const auto it = kPages.find(url);
        if (it == kPages.end()) {
            return make_error(ErrorCode::kNetwork, "the server answered HTTP 404");
        }
        return process_html(it->second.first, DocumentSource{it->first, it->second.second, true});
    }

    std::string source() const override { return "web"; }

    int last_max_results = 0;

  private:
    int* fetches_;
};

size_t count_characters(std::string_view text) {
    size_t count = 0;
    for (char byte : text) {
        count += (static_cast<unsigned char>(byte) & 0xC0) != 0x80;
    }
    return count;
}

class BrowserTest : public ::testing::Test {
  protected:
    BrowserTest() : browser(make_backend(), BrowserOptions{300, 20, &count_characters}) {}

    std::unique_ptr<BrowserBackend> make_backend() {
        auto backend = std::make_unique<FakeBackend>(&fetches);
        fake = backend.get();
        return backend;
    }

    std::string reply(const Result<std::string>& result) { return result.ok() ? *result : result.error().message(); }

    int fetches = 0;
    FakeBackend* fake = nullptr;
    Browser browser;
};

const char* const kSearchDisplay =
    "[0] cats\n**viewing lines [0 - 5] of 5**\n\nL0: \nL1: URL: \nL2: # Search Results\nL3: \n"
    "L4:   * 【0†Cat facts†cats.example】 Cats sleep a lot.\n"
    "L5:   * 【1†Dog page†dogs.example】 Not cats.";

TEST_F(BrowserTest, DescriptionEndsWithTheBackendSource) {
    EXPECT_EQ(browser.description(),
              "Tool for browsing.\nThe `cursor` appears in brackets before each browsing display: `[{cursor}]`.\n"
              "Cite information from the tool using the following format:\n"
              "`【{cursor}†L{line_start}(-L{line_end})?】`, for example: `【6†L9-L11】` or `【8†L3】`.\n"
              "Do not quote more than 10 words directly from the tool output.\nsources=web");
    EXPECT_EQ(browser.description_source_line(), "sources=web");
}

TEST_F(BrowserTest, SearchShowsResultsAndAsksForTwentyWhateverTopn) {
    EXPECT_EQ(reply(browser.search({"cats", 3, std::nullopt})), kSearchDisplay);
    EXPECT_EQ(fake->last_max_results, 20);
    EXPECT_EQ(reply(browser.search({"fail", 10, std::nullopt})),
              "Error during search for `fail`: Exa API error 429: rate limit");
    EXPECT_EQ(browser.page_count(), 1u); // a failed search adds no page
}

TEST_F(BrowserTest, OpenScrollFindAndFollowFindResults) {
    ASSERT_EQ(reply(browser.search({"cats", 10, std::nullopt})), kSearchDisplay);
    EXPECT_EQ(reply(browser.open(OpenArgs::link(0))),
              "[1] Cat facts (https://cats.example/facts)\n**viewing lines [0 - 8] of 27**\n\nL0: \n"
              "L1: URL: https://cats.example/facts\nL2: # Cat facts\nL3: \n"
              "L4: Cats sleep for twelve to sixteen hours a day, which is why you so often find \n"
              "L5: them curled up in a warm and sunny spot near a window.\nL6: \n"
              "L7: A group of cats is called a clowder. See 【0†more facts】 or the 【1†other \n"
              "L8: site†other.example】.");
    OpenArgs scroll;
    scroll.loc = 10;
    scroll.num_lines = 3;
    EXPECT_EQ(reply(browser.open(scroll)), "[2] Cat facts (https://cats.example/facts)\n"
                                           "**viewing lines [10 - 12] of 27**\n\n"
                                           "L10:   * Whiskers sense the air.\nL11:   * Cats purr at 25 Hz.\nL12: ");
    EXPECT_EQ(reply(browser.find({"SLEEP", -1})),
              "[3] Find results for text: `sleep` in `Cat facts` (https://cats.example/facts/find?pattern=sleep)\n"
              "**viewing lines [0 - 9] of 19**\n\nL0: # 【0†match at L4】\n"
              "L1: Cats sleep for twelve to sixteen hours a day, which is why you so often find \n"
              "L2: them curled up in a warm and sunny spot near a window.\nL3: \n"
              "L4: A group of cats is called a clowder. See more facts or the other \nL5: \n"
              "L6: # 【1†match at L13】\nL7: ## Sleep\nL8: \nL9: Kittens sleep even more than adult cats do.");
    // A find result opens its page four lines above the match.
    EXPECT_EQ(reply(browser.open(OpenArgs::link(2))),
              "[4] Cat facts (https://cats.example/facts)\n**viewing lines [13 - 27] of 27**\n\nL13: ## Sleep\n"
              "L14: \nL15: Kittens sleep even more than adult cats do.\nL16: \nL17: Old cats sleep most of the day.\n"
              "L18: \nL19: Line nine.\nL20: \nL21: Line ten.\nL22: \nL23: Line eleven.\nL24: \nL25: Line twelve.\n"
              "L26: \nL27: The end: sleep well.");
    EXPECT_EQ(fetches, 1); // every later view of the page came from the stack or the cache
}

TEST_F(BrowserTest, ErrorsTheModelReads) {
    EXPECT_EQ(reply(browser.open(OpenArgs::link(0))), "No pages to access!");
    EXPECT_EQ(reply(browser.find({"x", -1})), "No pages to access!");
    ASSERT_TRUE(browser.search({"cats", 10, std::nullopt}).ok());
    ASSERT_TRUE(browser.open(OpenArgs::link(0)).ok());
    EXPECT_EQ(reply(browser.open(OpenArgs::link(99))), "Invalid link id `99`.");
    OpenArgs far_cursor;
    far_cursor.cursor = 17;
    EXPECT_EQ(reply(browser.open(far_cursor)), "Cursor `17` is out of range. Available cursor indices: [0 - 1].");
    OpenArgs far_line;
    far_line.loc = 1000;
    EXPECT_EQ(reply(browser.open(far_line)), "Invalid location parameter: `1000`. Cannot exceed page maximum of 27.");
    EXPECT_EQ(browser.page_count(), 2u); // the page pushed for the bad location was dropped again
    EXPECT_EQ(reply(browser.open(OpenArgs::url("https://cats.example/missing"))),
              "Error fetching URL `https://cats.example/missing`: the server answered HTTP 404");
    ASSERT_TRUE(browser.find({"sleep", -1}).ok());
    EXPECT_EQ(reply(browser.find({"x", -1})), "Cannot run `find` on search results page or find results page");
    EXPECT_EQ(reply(browser.find({"zebra", 1})),
              "[3] Find results for text: `zebra` in `Cat facts` (https://cats.example/facts/find?pattern=zebra)\n"
              "**viewing lines [0 - 0] of 0**\n\nL0: No `find` results for pattern: `zebra`");
}

TEST_F(BrowserTest, OldCursorsStayValidAfterNewPages) {
    ASSERT_TRUE(browser.search({"cats", 10, std::nullopt}).ok());
    ASSERT_TRUE(browser.open(OpenArgs::link(0)).ok());
    ASSERT_TRUE(browser.find({"sleep", -1}).ok());
    OpenArgs from_search;
    from_search.cursor = 0;
    from_search.id = int64_t{1};
    EXPECT_EQ(reply(browser.open(from_search)),
              "[3] Dog page (https://dogs.example/x)\n**viewing lines [0 - 2] of 2**\n\nL0: \n"
              "L1: URL: https://dogs.example/x\nL2: Dogs bark.");
    OpenArgs from_facts;
    from_facts.cursor = 1;
    from_facts.id = int64_t{0};
    EXPECT_EQ(reply(browser.open(from_facts)),
              "[4] More cat facts (https://cats.example/more)\n**viewing lines [0 - 2] of 2**\n\nL0: \n"
              "L1: URL: https://cats.example/more\nL2: More: cats have 32 muscles in each ear.");
    OpenArgs from_end;
    from_end.cursor = -4; // Python indexing, as in the reference
    from_end.num_lines = 1;
    EXPECT_EQ(reply(browser.open(from_end)),
              "[5] Cat facts (https://cats.example/facts)\n**viewing lines [0 - 0] of 27**\n\nL0: ");
    // Opening a URL by name fetches it again (a refresh); following a link reuses the fetched page.
    ASSERT_TRUE(browser.open(OpenArgs::url("https://cats.example/facts")).ok());
    EXPECT_EQ(fetches, 4);
}

TEST_F(BrowserTest, CitationsBecomeLinksToTheCitedPage) {
    ASSERT_TRUE(browser.search({"cats", 10, std::nullopt}).ok());
    ASSERT_TRUE(browser.open(OpenArgs::link(0)).ok());
    EXPECT_FALSE(browser.open(OpenArgs::link(1)).ok()); // other.example is not served: no page is added
    const NormalizedCitations normalized = browser.normalize_citations_with_links(
        "Cats sleep 【1†L4-L5】 a lot. Results 【0†L4】 and 【9†L1】 stay. Partial 【1†L");
    EXPECT_EQ(normalized.text, "Cats sleep  ([cats.example](https://cats.example/facts))  a lot. Results 【0†L4】 and "
                               "【9†L1】 stay. Partial 【1†L");
    ASSERT_EQ(normalized.citations.size(), 1u);
    EXPECT_EQ(normalized.citations[0].url, "https://cats.example/facts");
    EXPECT_EQ(normalized.citations[0].title, "cats.example");
    EXPECT_EQ(normalized.text.substr(normalized.citations[0].start,
                                     normalized.citations[0].end - normalized.citations[0].start),
              " ([cats.example](https://cats.example/facts)) ");
    EXPECT_TRUE(normalized.has_partial_citation);
    EXPECT_EQ(browser.normalize_citations_with_links("Partial 【1†L", true).text, "Partial ");
    EXPECT_EQ(browser.normalize_citations("【1†L2】"), " ([cats.example](https://cats.example/facts)) ");
}

TEST_F(BrowserTest, CallParsesArgumentsLikeTheReference) {
    EXPECT_EQ(browser.call("search", R"({"query": "cats", "topn": 5, "source": "web"})"), kSearchDisplay);
    // Defaults from the declaration; strings that are numbers count as numbers; unknown keys are ignored.
    EXPECT_EQ(browser.call("browser.open", R"({"id": "0", "extra": true})").substr(0, 42),
              "[1] Cat facts (https://cats.example/facts)");
    EXPECT_EQ(browser.call("open", R"({"loc": 10, "num_lines": 1.0})"),
              "[2] Cat facts (https://cats.example/facts)\n**viewing lines [10 - 10] of 27**\n\n"
              "L10:   * Whiskers sense the air.");
    EXPECT_EQ(browser.call("open", ""), "[3] Cat facts (https://cats.example/facts)\n"
                                        "**viewing lines [0 - 8] of 27**\n\nL0: \nL1: URL: https://cats.example/facts\n"
                                        "L2: # Cat facts\nL3: \nL4: Cats sleep for twelve to sixteen hours a day, "
                                        "which is why you so often find \nL5: them curled up in a warm and sunny "
                                        "spot near a window.\nL6: \nL7: A group of cats is called a clowder. See "
                                        "【0†more facts】 or the 【1†other \nL8: site†other.example】.");
    EXPECT_EQ(browser.call("open", R"({"id": 4.5})"), "Invalid link id `4.5`.");
    EXPECT_EQ(browser.call("open", R"({"cursor": "top"})"), "`cursor` should be an integer, not `str`");
    EXPECT_EQ(browser.call("find", R"({"pattern": "purr", "cursor": 1})").substr(0, 60),
              "[4] Find results for text: `purr` in `Cat facts` (https://ca");
    EXPECT_EQ(browser.call("open", "{not json"), R"({"error": "Invalid function arguments"})");
    EXPECT_EQ(browser.call("open", "[1, 2]"), R"({"error": "Invalid function arguments"})");
    EXPECT_EQ(browser.call("click", "{}"), R"({"error": "Unknown function: click"})");
    EXPECT_EQ(browser.call("search", "{}"), R"({"error": "search() needs a `query` string"})");
    EXPECT_EQ(browser.call("open", R"({"loc": "x"})"), R"({"error": "`loc` should be an integer"})");
    EXPECT_EQ(browser.page_count(), 5u);
}

} // namespace
} // namespace tllm::tools
