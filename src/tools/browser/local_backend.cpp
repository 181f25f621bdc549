// Offline browsing over a folder of documents: BM25 search over their text, results laid out like the web
// backends' page, documents opened by local:// URL. Paths that leave the folder (.., symlinks) are refused.
#include "core/log.h"
#include "tools/browser/display.h"
#include "tools/browser/html_to_text.h"
#include "tools/browser/http_fetch.h"
#include "tools/browser/search_results.h"
#include "tools/browser/text_util.h"
#include "tools/browser/url.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <unordered_map>

namespace tllm::tools {

namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxDocuments = 50'000;
constexpr size_t kSnippetCharacters = 240;

enum class DocumentFormat { kHtml, kMarkdown, kText };

std::optional<DocumentFormat> format_of(const fs::path& path) {
    const std::string extension = browser_text::to_lower(path.extension().string());
    if (extension == ".html" || extension == ".htm") {
        return DocumentFormat::kHtml;
    }
    if (extension == ".md" || extension == ".markdown") {
        return DocumentFormat::kMarkdown;
    }
    if (extension == ".txt") {
        return DocumentFormat::kText;
    }
    return std::nullopt;
}

Result<std::string> read_file(const fs::path& path, size_t max_bytes) {
    std::ifstream file(path, std::ios::binary);
    if (!file) {
        return make_error(ErrorCode::kIoError, "cannot open {}", path.string());
    }
    std::string data(max_bytes, '\0');
    file.read(data.data(), static_cast<std::streamsize>(max_bytes));
    data.resize(static_cast<size_t>(file.gcount()));
    return data;
}

// Lower-case words: runs of letters and digits.
std::vector<std::string> words_of(std::string_view text) {
    std::vector<std::string> words;
    std::string current;
    size_t pos = 0;
    while (pos <= text.size()) {
        const char32_t c = pos < text.size() ? browser_text::next_code_point(text, pos) : (++pos, U' ');
        if (browser_text::is_word(c) && c != '_') {
            browser_text::append_utf8(current, browser_text::to_lower(c));
        } else if (!current.empty()) {
            words.push_back(std::move(current));
            current.clear();
        }
    }
    return words;
}

// The title a document gives itself: <title> for HTML, its first "# " heading for Markdown, else the file name.
std::string markdown_title(std::string_view text, const fs::path& path) {
    size_t start = 0;
    while (start < text.size()) {
        const size_t end = std::min(text.find('\n', start), text.size());
        const std::string_view line = browser_text::strip(text.substr(start, end - start));
        if (line.starts_with("# ")) {
            return std::string(browser_text::strip(line.substr(2)));
        }
        start = end + 1;
    }
    return path.filename().string();
}

bool is_inside(const fs::path& root, const fs::path& candidate) {
    const auto [root_end, candidate_it] = std::mismatch(root.begin(), root.end(), candidate.begin(), candidate.end());
    return root_end == root.end();
}

struct IndexedDocument {
    fs::path relative_path;
    DocumentFormat format;
    std::string url;
    std::string title;
    std::string text; // as shown, without link markup: for snippets
    std::unordered_map<std::string, int> term_counts;
    size_t length = 0;
};

class LocalBackend final : public BrowserBackend {
  public:
    LocalBackend(fs::path root, FetchLimits limits, std::string source)
        : root_(std::move(root)), limits_(std::move(limits)), source_(std::move(source)) {}

    Status index() {
        std::error_code error;
        fs::recursive_directory_iterator it(root_, fs::directory_options::skip_permission_denied, error);
        if (error) {
            return make_error(ErrorCode::kIoError, "cannot list {}: {}", root_.string(), error.message());
        }
        for (; it != fs::recursive_directory_iterator(); it.increment(error)) {
            if (error) {
                return make_error(ErrorCode::kIoError, "cannot list {}: {}", root_.string(), error.message());
            }
            if (documents_.size() == kMaxDocuments) {
                TLLM_LOG_WARN("browser: {} holds more than {} documents; the rest are not searched", root_.string(),
                              kMaxDocuments);
                break;
            }
            const std::optional<DocumentFormat> format = format_of(it->path());
            if (!format || !fs::is_regular_file(it->path(), error) || !resolve_inside(it->path())) {
                continue;
            }
            add_document(fs::relative(it->path(), root_), *format);
        }
        for (const IndexedDocument& document : documents_) {
            total_length_ += document.length;
            for (const auto& [term, count] : document.term_counts) {
                ++document_frequency_[term];
            }
        }
        return {};
    }

    Result<PageContents> search(std::string_view query, int max_results) override {
        const std::vector<std::string> terms = words_of(query);
        const double average_length =
            documents_.empty() ? 1.0 : std::max(1.0, static_cast<double>(total_length_) / documents_.size());
        std::vector<std::pair<double, size_t>> scored;
        for (size_t i = 0; i < documents_.size(); ++i) {
            const double score = bm25(documents_[i], terms, average_length);
            if (score > 0) {
                scored.emplace_back(score, i);
            }
        }
        std::sort(scored.begin(), scored.end(), [&](const auto& a, const auto& b) {
            return a.first != b.first ? a.first > b.first
                                      : documents_[a.second].relative_path < documents_[b.second].relative_path;
        });
        std::vector<SearchHit> hits;
        for (size_t i = 0; i < scored.size() && static_cast<int>(i) < max_results; ++i) {
            const IndexedDocument& document = documents_[scored[i].second];
            hits.push_back({document.title, document.url, snippet(document, terms)});
        }
        return make_search_results_page(query, hits);
    }

    Result<PageContents> fetch(std::string_view requested_url) override {
        const bool view_source = requested_url.starts_with(kViewSourcePrefix);
        const std::string_view url = view_source ? requested_url.substr(kViewSourcePrefix.size()) : requested_url;
        const browser_url::UrlParts parts = browser_url::split_url(url);
        if (parts.scheme == "http" || parts.scheme == "https") {
            return browser_http::fetch_web_page(requested_url, limits_);
        }
        if (parts.scheme != "local") {
            return make_error(ErrorCode::kUnsupported,
                              "unsupported URL scheme `{}`: open local://{}/... documents or http(s) URLs",
                              parts.scheme, source_);
        }
        if (parts.netloc != source_) {
            return make_error(ErrorCode::kNotFound, "no document collection `{}` (this one is `{}`)", parts.netloc,
                              source_);
        }
        TLLM_ASSIGN_OR_RETURN(const fs::path path, document_path(browser_url::percent_decode(parts.path)));
        const std::optional<DocumentFormat> format = format_of(path);
        if (!format) {
            return make_error(ErrorCode::kUnsupported, "not a document this browser shows: {}", url);
        }
        TLLM_ASSIGN_OR_RETURN(const std::string data, read_file(path, limits_.max_page_bytes));
        const std::string page_url = document_url(fs::relative(path, root_));
        if (view_source) {
            return process_source(data, DocumentSource{page_url, "", true});
        }
        switch (*format) {
        case DocumentFormat::kHtml:
            return process_html(data, DocumentSource{page_url, "", true});
        case DocumentFormat::kMarkdown:
            return process_markdown(data, DocumentSource{page_url, markdown_title(data, path), true});
        case DocumentFormat::kText:
            return process_plain_text(data, DocumentSource{page_url, path.filename().string(), true});
        }
        return make_error(ErrorCode::kInternal, "unknown document format");
    }

    std::string source() const override { return source_; }

  private:
    std::string document_url(const fs::path& relative) const {
        return "local://" + source_ + "/" + browser_url::percent_encode(relative.generic_string(), "/");
    }

    // The real path of a document inside the folder, or nullopt when it (or a symlink on the way) leaves it.
    std::optional<fs::path> resolve_inside(const fs::path& path) const {
        std::error_code error;
        const fs::path real = fs::weakly_canonical(path, error);
        if (error || !is_inside(root_, real)) {
            return std::nullopt;
        }
        return real;
    }

    Result<fs::path> document_path(const std::string& url_path) const {
        const fs::path relative = fs::path(url_path).relative_path();
        for (const fs::path& part : relative) {
            if (part == "..") {
                return make_error(ErrorCode::kInvalidArgument, "`..` is not allowed in document paths");
            }
        }
        const std::optional<fs::path> real = resolve_inside(root_ / relative);
        std::error_code error;
        if (!real) {
            return make_error(ErrorCode::kInvalidArgument, "{} leads outside the document folder", url_path);
        }
        if (!fs::is_regular_file(*real, error)) {
            return make_error(ErrorCode::kNotFound, "no document {}", url_path);
        }
        return *real;
    }

    void add_document(const fs::path& relative, DocumentFormat format) {
        auto data = read_file(root_ / relative, limits_.max_page_bytes);
        if (!data.ok()) {
            TLLM_LOG_WARN("browser: skipping {}: {}", relative.string(), data.error().message());
            return;
        }
        IndexedDocument document;
        document.relative_path = relative;
        document.format = format;
        document.url = document_url(relative);
        const DocumentSource source{document.url, "", false};
        PageContents page = format == DocumentFormat::kHtml       ? process_html(*data, source)
                            : format == DocumentFormat::kMarkdown ? process_markdown(*data, source)
                                                                  : process_plain_text(*data, source);
        document.title = format == DocumentFormat::kHtml       ? page.title
                         : format == DocumentFormat::kMarkdown ? markdown_title(*data, relative)
                                                               : relative.filename().string();
        if (document.title.empty() || document.title == source_) {
            document.title = relative.filename().string();
        }
        document.text = strip_links(page.text);
        for (const std::string& word : words_of(document.text)) {
            ++document.term_counts[word];
            ++document.length;
        }
        // A word of the title counts as much as three in the text: titles name what a document is about.
        for (const std::string& word : words_of(document.title)) {
            document.term_counts[word] += 3;
            document.length += 3;
        }
        documents_.push_back(std::move(document));
    }

    double bm25(const IndexedDocument& document, const std::vector<std::string>& terms, double average_length) const {
        constexpr double kTermSaturation = 1.2;
        constexpr double kLengthNormalization = 0.75;
        const auto total = static_cast<double>(documents_.size());
        double score = 0;
        for (const std::string& term : terms) {
            const auto count = document.term_counts.find(term);
            if (count == document.term_counts.end()) {
                continue;
            }
            const double frequency = document_frequency_.at(term);
            const double idf = std::log(1.0 + (total - frequency + 0.5) / (frequency + 0.5));
            const double tf = count->second;
            score +=
                idf * tf * (kTermSaturation + 1) /
                (tf + kTermSaturation * (1 - kLengthNormalization +
                                         kLengthNormalization * static_cast<double>(document.length) / average_length));
        }
        return score;
    }

    // The passage around the first line that holds a query term.
    static std::string snippet(const IndexedDocument& document, const std::vector<std::string>& terms) {
        std::string_view text = document.text;
        size_t start = 0;
        while (start < text.size()) {
            const size_t end = std::min(text.find('\n', start), text.size());
            const std::vector<std::string> line_words = words_of(text.substr(start, end - start));
            const bool hit = std::any_of(terms.begin(), terms.end(), [&](const std::string& term) {
                return std::find(line_words.begin(), line_words.end(), term) != line_words.end();
            });
            if (hit) {
                break;
            }
            start = end + 1;
        }
        if (start >= text.size()) {
            start = 0;
        }
        const std::string passage = browser_text::merge_whitespace(
            browser_text::cut_at_char_boundary(text.substr(start), kSnippetCharacters * 4));
        return browser_text::truncate_with_ellipsis(browser_text::strip(passage), kSnippetCharacters);
    }

    fs::path root_;
    FetchLimits limits_;
    std::string source_;
    std::vector<IndexedDocument> documents_;
    std::unordered_map<std::string, int> document_frequency_;
    size_t total_length_ = 0;
};

} // namespace

Result<std::unique_ptr<BrowserBackend>>
make_local_backend(const std::string& directory, FetchLimits limits, std::string source) {
    std::error_code error;
    const fs::path root = fs::canonical(directory, error);
    if (error || !fs::is_directory(root, error)) {
        return make_error(ErrorCode::kNotFound, "the browser's document folder {} does not exist", directory);
    }
    if (source.empty()) {
        for (char c : root.filename().string()) {
            const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                               c == '_' || c == '-';
            source += plain ? c : '-';
        }
        if (source.empty()) {
            source = "local";
        }
    }
    if (source.find_first_of("/?#:@ ") != std::string::npos) {
        return make_error(ErrorCode::kInvalidArgument, "`{}` cannot name a document collection", source);
    }
    auto backend = std::make_unique<LocalBackend>(root, std::move(limits), std::move(source));
    TLLM_RETURN_IF_ERROR(backend->index());
    return std::unique_ptr<BrowserBackend>(std::move(backend));
}

} // namespace tllm::tools
