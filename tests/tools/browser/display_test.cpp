// The page layout helpers against the Python the reference runs: textwrap.wrap(width=80,
// replace_whitespace=False, drop_whitespace=False), its link-stripping regexes, urllib's urljoin/quote/unquote,
// and its find-in-page format. Expected values are Python's outputs for the same inputs.
#include "tools/browser/display.h"
#include "tools/browser/url.h"

#include <gtest/gtest.h>

namespace tllm::tools {
namespace {

using Lines = std::vector<std::string>;

TEST(WrapLines, BreaksProseAtEightyColumnsKeepingWhitespace) {
    std::string text;
    for (int i = 0; i < 4; ++i) {
        text += "The quick brown fox jumps over the lazy dog. ";
    }
    EXPECT_EQ(wrap_lines(text),
              (Lines{"The quick brown fox jumps over the lazy dog. The quick brown fox jumps over the ",
                     "lazy dog. The quick brown fox jumps over the lazy dog. The quick brown fox jumps",
                     " over the lazy dog. "}));
    EXPECT_EQ(wrap_lines("    leading spaces are kept and so is the spacing    between words when the line is "
                         "wrapped at the limit ok"),
              (Lines{"    leading spaces are kept and so is the spacing    between words when the line",
                     " is wrapped at the limit ok"}));
}

TEST(WrapLines, CutsLongWordsAfterAHyphenOrAtTheWidth) {
    EXPECT_EQ(wrap_lines("See https://en.wikipedia.org/wiki/"
                         "Some-very-long-article-title-with-many-hyphenated-words-in-it-for-testing ok"),
              (Lines{"See https://en.wikipedia.org/wiki/Some-very-long-article-title-with-many-",
                     "hyphenated-words-in-it-for-testing ok"}));
    EXPECT_EQ(wrap_lines(std::string(200, 'x')),
              (Lines{std::string(80, 'x'), std::string(80, 'x'), std::string(40, 'x')}));
    EXPECT_EQ(wrap_lines("An em-dash--like this one--and well-known co-operative re-entry words wrap at hyphens "
                         "when they must be cut."),
              (Lines{"An em-dash--like this one--and well-known co-operative re-entry words wrap at ",
                     "hyphens when they must be cut."}));
}

TEST(WrapLines, ExpandsTabsAndKeepsEmptyLines) {
    EXPECT_EQ(wrap_lines("\tindented\twith\ttabs and a long tail of words that keeps going well past the eighty "
                         "column mark here"),
              (Lines{"        indented        with    tabs and a long tail of words that keeps going ",
                     "well past the eighty column mark here"}));
    EXPECT_EQ(wrap_lines("a\n\nb\n"), (Lines{"a", "", "b", ""}));
    // Widths count characters, not bytes: 40 + 1 + 45 characters (131 bytes) wrap into two lines.
    std::string line(40, 'a');
    line += ' ';
    for (int i = 0; i < 45; ++i) {
        line += "é";
    }
    EXPECT_EQ(wrap_lines(line).size(), 2u);
}

TEST(NumberLines, PrefixesEachLineWithItsIndex) { EXPECT_EQ(number_lines({"a", "b", "c", "d"}, 1, 3), "L1: b\nL2: c"); }

TEST(StripLinks, RemovesLinkMarkupIncludingCutOffEnds) {
    EXPECT_EQ(strip_links("see 【3†the page†example.com】 and 【4†this】"), "see the page and this");
    // A line that starts inside a link and one that ends inside another, as wrapped lines do.
    EXPECT_EQ(strip_links("tail†example.com】 middle 【7†head of"), " middle head of");
    EXPECT_EQ(strip_links("nothing 【but】 brackets"), "nothing 【but】 brackets");
    EXPECT_EQ(strip_links("ends with 【12"), "ends with ");
}

TEST(BracketLinks, FindsCitationsAndPartialOnes) {
    const std::vector<BracketLink> links = find_bracket_links("a 【6†L9-L11】 b 【8†L3】 【x†y】");
    ASSERT_EQ(links.size(), 2u);
    EXPECT_EQ(links[0].number, "6");
    EXPECT_EQ(links[0].content, "L9-L11");
    EXPECT_EQ(links[1].number, "8");
    const std::optional<PartialBracketLink> partial = find_partial_final_link("done 【2†L4】 and 【3†L1");
    ASSERT_TRUE(partial.has_value());
    EXPECT_EQ(partial->content, "L1");
    EXPECT_FALSE(find_partial_final_link("done 【2†L4】.").has_value());
}

TEST(FindInPage, ListsMatchesWithFourLinesEach) {
    PageContents page;
    page.url = "https://site.org/p";
    page.title = "Page";
    page.text = "alpha\nBeta one\nx\ny\nz\nbeta two 【0†link†a.com】\nend";
    const PageContents found = find_in_page("beta", page);
    EXPECT_EQ(found.text, "# 【0†match at L1】\nBeta one\nx\ny\nz\n\n# 【1†match at L5】\nbeta two link\nend");
    EXPECT_EQ(found.url, "https://site.org/p/find?pattern=beta");
    EXPECT_EQ(found.title, "Find results for text: `beta` in `Page`");
    EXPECT_EQ(found.links, (Lines{"https://site.org/p", "https://site.org/p"}));
    ASSERT_TRUE(found.snippets.has_value());
    EXPECT_EQ((*found.snippets)[1].line_index, 5);

    const PageContents none = find_in_page("gamma ray", page);
    EXPECT_EQ(none.text, "No `find` results for pattern: `gamma ray`");
    EXPECT_EQ(none.url, "https://site.org/p/find?pattern=gamma%20ray");
    EXPECT_TRUE(none.links.empty());
}

TEST(FindInPage, StopsAtFiftyMatches) {
    PageContents page;
    for (int i = 0; i < 300; ++i) {
        page.text += "match\n";
    }
    const PageContents found = find_in_page("match", page);
    EXPECT_EQ(found.links.size(), 50u);
    EXPECT_NE(found.text.find("# 【49†match at L196】"), std::string::npos);
}

TEST(Viewport, ShowsLinesUntilTheTokenBudgetRunsOut) {
    const Lines lines = {"aaaa", "bbbb", "cccc", "dddd"}; // numbered: "L0: aaaa" = 8 characters each
    const TokenCounter characters = [](std::string_view text) { return text.size(); };
    // The reference shows the line holding the token at index `view_tokens`: with one token per character,
    // character 20 lies in the third numbered line (offsets 18..25).
    EXPECT_EQ(viewport_end(lines, 0, -1, 20, characters), 3u);
    EXPECT_EQ(viewport_end(lines, 0, -1, 17, characters), 2u);
    EXPECT_EQ(viewport_end(lines, 0, -1, 1000, characters), 4u);
    EXPECT_EQ(viewport_end(lines, 2, -1, 9, characters), 4u); // "L2: cccc\nL3: dddd": character 9 is in L3
    EXPECT_EQ(viewport_end(lines, 1, 2, 1, characters), 3u);  // num_lines wins
    EXPECT_EQ(viewport_end(lines, 3, 10, 1, characters), 4u);
}

TEST(Viewport, EstimateCountsAboutFourAsciiCharactersPerToken) {
    EXPECT_EQ(estimate_tokens(""), 0u);
    EXPECT_EQ(estimate_tokens("abcdefgh"), 2u);
    EXPECT_EQ(estimate_tokens("日本語"), 3u);
}

TEST(Urls, ResolveLikeUrljoin) {
    using browser_url::resolve_url;
    EXPECT_EQ(resolve_url("https://a.com/b/c/d.html?x=1#f", "../e.html"), "https://a.com/b/e.html");
    EXPECT_EQ(resolve_url("https://a.com/b/c/", "./g/./h/../i"), "https://a.com/b/c/g/i");
    EXPECT_EQ(resolve_url("https://a.com/b", "//cdn.net/x"), "https://cdn.net/x");
    EXPECT_EQ(resolve_url("https://a.com/b?q=1", "?q=2"), "https://a.com/b?q=2");
    EXPECT_EQ(resolve_url("https://a.com/b?q=1", "#top"), "https://a.com/b?q=1#top");
    EXPECT_EQ(resolve_url("https://a.com/b/c", "/../../x"), "https://a.com/x");
    EXPECT_EQ(resolve_url("https://a.com", "y"), "https://a.com/y");
    EXPECT_EQ(resolve_url("http://a.com/b/c", "https://other.org"), "https://other.org");
    EXPECT_EQ(resolve_url("", "rel/x"), "rel/x");
    EXPECT_EQ(resolve_url("https://a.com/a//b/c", "d"), "https://a.com/a/b/d");
    EXPECT_EQ(resolve_url("local://docs/sub/p.md", "../q.md"), "local://docs/q.md"); // ours resolves like http
}

TEST(Urls, DomainsQuoteAndUnquote) {
    EXPECT_EQ(browser_url::domain_of("https://user@Example.com:8080/x"), "user@Example.com:8080");
    EXPECT_EQ(browser_url::domain_of("example.com/path"), "example.com");
    EXPECT_EQ(browser_url::domain_of("ftp://files.org/x"), "ftp:"); // the reference's http:// guess
    EXPECT_EQ(browser_url::domain_of("local://docs/a.md"), "docs");
    EXPECT_EQ(browser_url::percent_encode("a b/c?d=é&x"), "a%20b/c%3Fd%3D%C3%A9%26x");
    EXPECT_EQ(browser_url::percent_decode("%E2%80%A0x%zz%41"), "†x%zzA");
    EXPECT_EQ(browser_url::arxiv_to_ar5iv("https://arxiv.org/pdf/1"), "https://ar5iv.org/pdf/1");
}

} // namespace
} // namespace tllm::tools
