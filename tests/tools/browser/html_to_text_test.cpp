// HTML -> text against the reference pipeline. Every expected text below is what gpt-oss's process_html gives
// for the same input (lxml + html2text with the reference's settings), so these pin the exact text the model
// was trained to read: list indents, escapes, link ids and domains, and even html2text's trailing spaces.
#include "tools/browser/html_to_text.h"
#include "tools/browser/search_results.h"

#include <gtest/gtest.h>

namespace tllm::tools {
namespace {

PageContents convert(std::string_view html, std::string_view url = "") {
    return process_html(html, DocumentSource{url, "", false});
}

TEST(HtmlToText, NestedListsIndentTwoSpacesPerLevel) {
    const PageContents page = convert(R"~(<ul><li>one</li><li>two<ul><li>nested a</li><li>nested b</li></ul></li>)~"
                                      R"~(</ul><ol start="3"><li>three</li><li>four</li></ol><p>after</p>)~");
    EXPECT_EQ(page.text, "* one \n  * two \n    * nested a \n    * nested b \n\n  3. three \n  4. four \n\nafter");
}

TEST(HtmlToText, TableRowsBecomeLinesAndCellsWords) {
    const PageContents page = convert("<table><tr><th>Name</th><th>Value</th></tr><tr><td>alpha</td><td>1</td></tr>"
                                      "<tr><td>beta</td><td>2</td></tr></table>");
    EXPECT_EQ(page.text, "Name Value   \nalpha 1   \nbeta 2");
}

TEST(HtmlToText, ScriptStyleAndHeadAreNotShown) {
    const PageContents page =
        convert("<html><head><title>T</title><style>p { color: red }</style><script>var hidden = 1;</script></head>"
                "<body><p>Visible<script>document.write('no')</script> text</p><style>.x{}</style><p>More</p>"
                "</body></html>");
    EXPECT_EQ(page.text, "Visible  text\n\nMore");
}

TEST(HtmlToText, NoscriptSvgAndTemplatesAreNotShown) {
    // Not in the reference (which shows them): their text is fallback or markup, never the page's content. It
    // still spaces the tags around it as the reference's regex would ("Start " before the hidden "Enable").
    const PageContents page = convert("<p>Start</p><noscript>Enable JavaScript</noscript><svg><title>icon</title>"
                                      "<text>label</text></svg><template><p>later</p></template><p>End</p>");
    EXPECT_EQ(page.text, "Start \n\nEnd");
}

TEST(HtmlToText, EntitiesAreDecoded) {
    const PageContents page =
        convert("<p>Fish &amp; chips &lt;tag&gt; &copy; caf&eacute; &#8364;5 a&nbsp;b &quot;q&quot;</p>");
    EXPECT_EQ(page.text, "Fish & chips <tag> © café €5 a b \"q\"");
}

TEST(HtmlToText, LinksResolveAgainstThePageUrl) {
    const PageContents page = convert(
        R"~(<p><a href="d.html">sibling</a> <a href="../up.html">parent</a> <a href="/root">root</a> )~"
        R"~(<a href="//cdn.other.net/lib">protocol</a> <a href="?page=2">query</a> <a href="#section">fragment</a> )~"
        R"~(<a href="https://www.example.org/x">elsewhere</a> <a href="mailto:me@example.com">mail</a> )~"
        R"~(<a href="/root">again</a></p>)~",
        "https://example.com/a/b/c.html?q=1");
    // Same-site links leave the domain out; the repeated /root link keeps its first id; fragments and mail
    // addresses are plain text.
    EXPECT_EQ(page.text, "【0†sibling】 【1†parent】 【2†root】 【3†protocol†cdn.other.net】 【4†query】 fragment "
                         "【5†elsewhere†www.example.org】 mail 【2†again】");
    EXPECT_EQ(page.links,
              (std::vector<std::string>{"https://example.com/a/b/d.html", "https://example.com/a/up.html",
                                        "https://example.com/root", "https://cdn.other.net/lib",
                                        "https://example.com/a/b/c.html?page=2", "https://www.example.org/x"}));
}

TEST(HtmlToText, PreBlocksKeepTheirLayoutIndented) {
    const PageContents page = convert("<p>Code:</p><pre>def f(x):\n    return x * 2\n\nprint(f(2))</pre>"
                                      "<p>Inline <code>f(2)</code> call.</p>");
    EXPECT_EQ(page.text, "Code:\n\n    def f(x):\n        return x * 2\n\n    print(f(2))\n\nInline `f(2)` call.");
}

TEST(HtmlToText, HeadingsParagraphsBreaksAndQuotes) {
    const PageContents page =
        convert("<h1>Title</h1><p>First para<br>second line</p><hr><h3>Third level</h3><blockquote><p>Quoted one</p>"
                "<p>Quoted two</p></blockquote><div>A div</div>");
    EXPECT_EQ(page.text, "# Title \n\nFirst para   \nsecond line \n\n* * *\n\n### Third level \n\n> Quoted one \n> \n"
                         "> Quoted two \n\nA div");
}

TEST(HtmlToText, MarkdownLookalikesAreEscapedLikeHtml2Text) {
    // The reference means to switch html2text's escaping off, but patches a name html2text no longer calls.
    const PageContents page =
        convert("<p>1. not a list</p><p>- not a bullet</p><p>+ plus</p><p>a \\ backslash \\* star</p>");
    EXPECT_EQ(page.text, "1\\. not a list\n\n\\- not a bullet\n\n\\+ plus \n\na \\ backslash \\\\* star");
}

TEST(HtmlToText, ImagesBecomeNumberedPlaceholders) {
    const PageContents page = convert(R"~(<p><img src="a.png" alt="A cat"> <img src="b.png" title="Titled"> )~"
                                      R"~(<img src="c.png"> <a href="/home"><img src="logo.png" alt="Logo"></a></p>)~",
                                      "https://example.com/");
    // A link around an image only has no text, so it is no link: the image stays, numbered.
    EXPECT_EQ(page.text, "[Image 0: A cat] [Image 1: Titled] [Image 2] [Image 3: Logo]");
    EXPECT_TRUE(page.links.empty());
}

TEST(HtmlToText, SupSubAndAdjacentInlineElements) {
    const PageContents page =
        convert("<p>E = mc<sup>2</sup>, H<sub>2</sub>O, x<sup>n-1</sup>, <span>glued</span><span>words</span></p>");
    EXPECT_EQ(page.text, "E = mc^{2}, H_{2}O, x^{n-1}, glued words");
}

TEST(HtmlToText, ArxivLinksPointToAr5iv) {
    const PageContents page = convert(R"(<p>Paper: <a href="https://arxiv.org/abs/1706.03762">Attention</a></p>)",
                                      "https://blog.example/post");
    EXPECT_EQ(page.text, "Paper: 【0†Attention†arxiv.org】");
    EXPECT_EQ(page.links, std::vector<std::string>{"https://ar5iv.org/abs/1706.03762"});
}

TEST(HtmlToText, LinkBracketsAndEmojiInTextAreReplaced) {
    const PageContents page = convert("<p>Keep 【this】 safe ◼ but drop 😀 and zero\u200bwidth</p>");
    EXPECT_EQ(page.text, "Keep 〖this〗 safe ◾ but drop and zerowidth");
}

TEST(HtmlToText, DefinitionListsAndStrikethrough) {
    const PageContents page = convert("<dl><dt>Term</dt><dd>Definition</dd></dl><p>It is <del>not</del> fine.</p>");
    EXPECT_EQ(page.text, "Term \n    Definition \n\nIt is ~~not~~ fine.");
}

TEST(HtmlToText, TitleAndUrlHeader) {
    const std::string html = "<html><head><title>\n  My   Page\n</title></head><body><p>Hi</p></body></html>";
    const PageContents page = process_html(html, DocumentSource{"https://site.org/x", "", true});
    EXPECT_EQ(page.text, "\nURL: https://site.org/x\nHi");
    EXPECT_EQ(page.title, "My Page"); // one line, as the search APIs' titles the model knows
    EXPECT_EQ(process_html(html, DocumentSource{"https://site.org/x", "Given", true}).title, "Given");
    EXPECT_EQ(process_html("<p>no title</p>", DocumentSource{"https://site.org/x", "", true}).title, "site.org");
}

TEST(HtmlToText, InvalidUtf8AndDeepNestingAreSurvived) {
    const PageContents page = convert("<p>bad \xff\xfe bytes \xe2\x82</p>");
    EXPECT_EQ(page.text, "bad \uFFFD\uFFFD bytes \uFFFD");
    // 200k nested elements: flattened past depth 512 as browsers do, so gumbo (whose scope checks walk the open
    // elements) stays fast, and its tree is released without walking it.
    std::string deep;
    for (int i = 0; i < 200000; ++i) {
        deep += "<div><span>";
    }
    deep += "deep text";
    EXPECT_EQ(convert(deep).text, "deep text");
}

TEST(SearchResultsPage, ListsHitsWithLinkIdsAndDomains) {
    const PageContents page =
        make_search_results_page("my query", {{"Title A", "http://a.com/x", "Summary a."},
                                              {"Title B", "https://b.org/y?q=1", "1. summary - b"}});
    // The reference's page for the same hits: its HTML template through process_html with display_urls.
    EXPECT_EQ(
        page.text,
        "\nURL: \n# Search Results\n\n  * 【0†Title A†a.com】 Summary a.\n  * 【1†Title B†b.org】 1. summary - b");
    EXPECT_EQ(page.title, "my query");
    EXPECT_EQ(page.url, "");
    EXPECT_EQ(page.links, (std::vector<std::string>{"http://a.com/x", "https://b.org/y?q=1"}));
    EXPECT_EQ(make_search_results_page("nothing", {}).text, "\nURL: \n# Search Results");
}

TEST(Markdown, LinksImagesAndReferencesBecomeBrowserText) {
    const std::string markdown = "# Guide\n\nSee [the docs](https://docs.example.com/start \"Start\") and "
                                 "[a local page](other.md).\n![diagram](img/d.png) <https://x.org/raw>\n\n\n\n"
                                 "Read [the spec][spec].\n\n[spec]: https://spec.example.org/v1\n";
    const PageContents page = process_markdown(markdown, DocumentSource{"https://docs.example.com/guide.md", "", true});
    EXPECT_EQ(page.text,
              "\nURL: https://docs.example.com/guide.md\n# Guide\n\nSee 【0†the docs】 and 【1†a local page】.\n"
              "[Image 0: diagram] 【2†https://x.org/raw†x.org】\n\nRead 【3†the spec†spec.example.org】.");
    EXPECT_EQ(page.links,
              (std::vector<std::string>{"https://docs.example.com/start", "https://docs.example.com/other.md",
                                        "https://x.org/raw", "https://spec.example.org/v1"}));
    EXPECT_EQ(page.title, "docs.example.com");
}

TEST(PlainText, KeepsLinesAndCollapsesBlankRuns) {
    const PageContents page = process_plain_text("line one\r\nline two\n\n\n\n  indented\t tab\n   \n",
                                                 DocumentSource{"https://t.org/a.txt", "", true});
    EXPECT_EQ(page.text, "\nURL: https://t.org/a.txt\nline one\nline two\n\n  indented\t tab");
    EXPECT_TRUE(page.links.empty());
}

} // namespace
} // namespace tllm::tools
