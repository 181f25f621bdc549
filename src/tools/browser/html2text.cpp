// The event stream -> text, as the reference's html_to_text gives it: its sup/sub and tag-spacing regexes, then
// html2text 2020+ with ignore_links, ignore_images, ignore_tables, ignore_emphasis, unicode_snob and no wrapping.
// Markdown escaping stays on: the reference's monkey-patch replaces html2text.utils.escape_md_section, but
// html2text calls the copy it imported by name, so the model saw escaped text ("1\. ", "\- ") and so do we.
#include "tools/browser/html_events.h"
#include "tools/browser/text_util.h"

#include <charconv>
#include <utility>

namespace tllm::tools::html_detail {

namespace {

using browser_text::is_space;
using browser_text::is_word;
using browser_text::next_code_point;

char32_t first_code_point(std::string_view text) {
    size_t pos = 0;
    return next_code_point(text, pos);
}

char32_t last_code_point(std::string_view text) {
    size_t start = text.size() - 1;
    while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) {
        --start;
    }
    return next_code_point(text, start);
}

bool all_word_or_dash(std::string_view text) {
    size_t pos = 0;
    while (pos < text.size()) {
        const char32_t c = next_code_point(text, pos);
        if (!is_word(c) && c != '-') {
            return false;
        }
    }
    return !text.empty();
}

// `<sup( [^>]*)?>([\w\-]+)</sup>` -> "^{...}" and the same for <sub> with "_{...}", then adjacent text merged.
std::vector<HtmlEvent> rewrite_sup_sub(std::vector<HtmlEvent> events) {
    for (const auto& [tag, prefix] : {std::pair{"sup", "^{"}, std::pair{"sub", "_{"}}) {
        std::vector<HtmlEvent> rewritten;
        rewritten.reserve(events.size());
        for (size_t i = 0; i < events.size(); ++i) {
            if (i + 2 < events.size() && events[i].kind == HtmlEventKind::kStartTag && events[i].tag == tag &&
                events[i + 1].kind == HtmlEventKind::kText && all_word_or_dash(events[i + 1].text) &&
                events[i + 2].kind == HtmlEventKind::kEndTag && events[i + 2].tag == tag) {
                std::string text = prefix + events[i + 1].text + "}";
                if (!rewritten.empty() && rewritten.back().kind == HtmlEventKind::kText) {
                    rewritten.back().text += text;
                } else {
                    rewritten.push_back({HtmlEventKind::kText, "", std::move(text), std::nullopt});
                }
                i += 2;
                continue;
            }
            if (events[i].kind == HtmlEventKind::kText && !rewritten.empty() &&
                rewritten.back().kind == HtmlEventKind::kText) {
                rewritten.back().text += events[i].text;
                continue;
            }
            rewritten.push_back(std::move(events[i]));
        }
        events = std::move(rewritten);
    }
    return events;
}

// `(?<=\w)((<[^>]*>)+)(?=\w)` -> " \1": a run of tags between two word characters gets a space before it,
// which keeps table cells and inline blocks from running together.
void space_out_tag_runs(std::vector<HtmlEvent>& events) {
    HtmlEvent* previous_text = nullptr;
    bool tags_since_text = false;
    for (HtmlEvent& event : events) {
        if (event.kind != HtmlEventKind::kText && event.kind != HtmlEventKind::kHiddenText) {
            tags_since_text = true;
            continue;
        }
        if (previous_text != nullptr && tags_since_text && is_word(last_code_point(previous_text->text)) &&
            is_word(first_code_point(event.text))) {
            previous_text->text += ' ';
        }
        previous_text = &event;
        tags_since_text = false;
    }
}

int heading_level(std::string_view tag) {
    return (tag.size() == 2 && tag[0] == 'h' && tag[1] >= '1' && tag[1] <= '9') ? tag[1] - '0' : 0;
}

// html2text's list_numbering_start: int(start) - 1, or 0.
int list_numbering_start(const std::optional<std::string>& start) {
    if (!start) {
        return 0;
    }
    std::string_view digits = browser_text::strip(*start);
    if (!digits.empty() && digits[0] == '+') {
        digits.remove_prefix(1);
    }
    int value = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    return (error == std::errc() && end == digits.data() + digits.size() && !digits.empty()) ? value - 1 : 0;
}

// `re.sub(r"\s+", " ", text)`.
std::string collapse_whitespace(std::string_view text) { return browser_text::merge_whitespace(text); }

// A MULTILINE `^(\s*)X` escape: a backslash goes before the X that `matches_at` accepts after leading spaces.
template <typename Matcher> std::string escape_at_line_starts(const std::string& text, Matcher matches_at) {
    std::string out;
    size_t copied = 0;
    size_t pos = 0;
    while (pos < text.size()) {
        if (pos == 0 || text[pos - 1] == '\n') {
            size_t cursor = pos;
            while (cursor < text.size()) {
                size_t next = cursor;
                if (!is_space(next_code_point(text, next))) {
                    break;
                }
                cursor = next;
            }
            if (const size_t mark = matches_at(text, cursor); mark != std::string::npos) {
                out.append(text, copied, mark - copied);
                out += '\\';
                copied = mark;
                pos = mark + 1;
                continue;
            }
        }
        ++pos;
    }
    out.append(text, copied);
    return out;
}

bool space_follows(const std::string& text, size_t pos) {
    if (pos >= text.size()) {
        return false;
    }
    return is_space(next_code_point(text, pos));
}

// html2text's escape_md_section with escape_snob off.
std::string escape_markdown_section(std::string text) {
    static constexpr std::string_view kEscapable = "\\`*_{}[]()#+-.!";
    std::string escaped;
    for (size_t i = 0; i < text.size(); ++i) {
        escaped += text[i];
        if (text[i] == '\\' && i + 1 < text.size() && kEscapable.find(text[i + 1]) != std::string_view::npos) {
            escaped += '\\';
        }
    }
    // "^(\s*\d+)(\.)(?=\s)": a number and a dot that would start an ordered list.
    escaped = escape_at_line_starts(escaped, [](const std::string& s, size_t pos) -> size_t {
        size_t digits_end = pos;
        while (digits_end < s.size() && s[digits_end] >= '0' && s[digits_end] <= '9') {
            ++digits_end;
        }
        return (digits_end > pos && digits_end < s.size() && s[digits_end] == '.' && space_follows(s, digits_end + 1))
                   ? digits_end
                   : std::string::npos;
    });
    // "^(\s*)(\+)(?=\s)" and "^(\s*)(-)(?=\s|-)": bullets.
    escaped = escape_at_line_starts(escaped, [](const std::string& s, size_t pos) -> size_t {
        return (pos < s.size() && s[pos] == '+' && space_follows(s, pos + 1)) ? pos : std::string::npos;
    });
    escaped = escape_at_line_starts(escaped, [](const std::string& s, size_t pos) -> size_t {
        return (pos < s.size() && s[pos] == '-' &&
                (space_follows(s, pos + 1) || (pos + 1 < s.size() && s[pos + 1] == '-')))
                   ? pos
                   : std::string::npos;
    });
    return escaped;
}

class Html2Text {
  public:
    void handle_event(const HtmlEvent& event) {
        switch (event.kind) {
        case HtmlEventKind::kStartTag:
            handle_tag(event.tag, event.attribute, true);
            break;
        case HtmlEventKind::kEndTag:
            handle_tag(event.tag, event.attribute, false);
            break;
        case HtmlEventKind::kText:
            handle_text(event.text);
            break;
        case HtmlEventKind::kHiddenText:
        case HtmlEventKind::kComment:
            break;
        }
    }

    std::string finish() {
        pbr();
        emit("", false, Force::kEnd);
        return std::move(output_);
    }

  private:
    enum class Force { kNone, kForce, kEnd };
    struct ListState {
        bool ordered;
        int number;
    };

    // The serialised HTML escapes &, < and >, and html2text receives each as a separate entity chunk.
    void handle_text(std::string_view text) {
        size_t start = 0;
        for (size_t i = 0; i < text.size(); ++i) {
            if (text[i] == '&' || text[i] == '<' || text[i] == '>') {
                handle_data(std::string(text.substr(start, i - start)), false);
                handle_data(std::string(1, text[i]), true);
                start = i + 1;
            }
        }
        handle_data(std::string(text.substr(start)), false);
    }

    void handle_data(std::string data, bool entity_char) {
        if (data.empty()) {
            return;
        }
        if (stressed_) {
            data = std::string(browser_text::strip(data));
            stressed_ = false;
            preceding_stressed_ = true;
        } else if (preceding_stressed_) {
            const char32_t first = first_code_point(data);
            if (!is_space(first) && first != '.' && first != '!' && first != '?' && heading_level(current_tag_) == 0 &&
                current_tag_ != "a" && current_tag_ != "code" && current_tag_ != "pre") {
                data = " " + data;
            }
            preceding_stressed_ = false;
        }
        if (!code_ && !pre_ && !entity_char) {
            data = escape_markdown_section(std::move(data));
        }
        preceding_data_ = data;
        emit(std::move(data), true);
    }

    void handle_tag(const std::string& tag, const std::optional<std::string>& attribute, bool start) {
        current_tag_ = tag;
        if (const int level = heading_level(tag); level > 0) {
            paragraph();
            if (start) {
                emit(std::string(static_cast<size_t>(level), '#') + " ");
            }
            return;
        }
        if (tag == "p" || tag == "div") {
            paragraph();
        }
        if (tag == "br" && start) {
            emit(blockquote_ > 0 ? "  \n> " : "  \n");
        }
        if (tag == "hr" && start) {
            paragraph();
            emit("* * *");
            paragraph();
        }
        if (tag == "blockquote") {
            if (start) {
                paragraph();
                emit("> ", false, Force::kForce);
                start_ = true;
                ++blockquote_;
            } else {
                --blockquote_;
                paragraph();
            }
        }
        if (tag == "del" || tag == "strike" || tag == "s") {
            const bool glued = !preceding_data_.empty() && !is_space(last_code_point(preceding_data_));
            emit(start && glued ? " ~~" : "~~");
            if (start) {
                stressed_ = true;
            }
        }
        if ((tag == "kbd" || tag == "code" || tag == "tt") && !pre_) {
            emit("`");
            code_ = !code_;
        }
        if (tag == "abbr") {
            if (start) {
                abbr_title_ = attribute;
                abbr_data_ = std::string();
            } else {
                if (abbr_title_ && abbr_data_) {
                    define_abbreviation(*abbr_data_, *abbr_title_);
                }
                abbr_title_.reset();
                abbr_data_.reset();
            }
        }
        if (tag == "q") {
            emit("\"");
            quote_ = !quote_;
        }
        if (tag == "dl" && start) {
            paragraph();
        }
        if (tag == "dt" && !start) {
            pbr();
        }
        if (tag == "dd") {
            if (start) {
                emit("    ");
            } else {
                pbr();
            }
        }
        if (tag == "ol" || tag == "ul") {
            if (lists_.empty() && !last_was_list_) {
                paragraph();
            }
            if (start) {
                lists_.push_back({tag == "ol", list_numbering_start(attribute)});
            } else if (!lists_.empty()) {
                lists_.pop_back();
                if (lists_.empty()) {
                    emit("\n");
                }
            }
            last_was_list_ = true;
        } else {
            last_was_list_ = false;
        }
        if (tag == "li") {
            pbr();
            if (start) {
                ListState standalone{false, 0};
                ListState& list = lists_.empty() ? standalone : lists_.back();
                std::string marker;
                for (size_t i = 0; i < lists_.size(); ++i) {
                    marker += "  ";
                }
                emit(marker);
                if (list.ordered) {
                    ++list.number;
                    emit(std::to_string(list.number) + ". ");
                } else {
                    emit("* ");
                }
                start_ = true;
            }
        }
        if (tag == "tr" && !start) {
            soft_break();
        }
        if (tag == "pre") {
            startpre_ = start;
            pre_ = start;
            paragraph();
        }
    }

    void define_abbreviation(const std::string& abbreviation, const std::string& definition) {
        for (auto& [name, value] : abbreviations_) {
            if (name == abbreviation) {
                value = definition;
                return;
            }
        }
        abbreviations_.emplace_back(abbreviation, definition);
    }

    void pbr() {
        if (pending_newlines_ == 0) {
            pending_newlines_ = 1;
        }
    }
    void paragraph() { pending_newlines_ = 2; }
    void soft_break() {
        pbr();
        break_toggle_ = "  ";
    }

    void write(std::string_view text) {
        output_ += text;
        if (!text.empty()) {
            last_was_newline_ = text.back() == '\n';
        }
    }

    // html2text's o(): pending paragraph breaks, collapsed spaces, blockquote and <pre> prefixes.
    void emit(std::string data, bool pure_data = false, Force force = Force::kNone) {
        if (abbr_data_) {
            *abbr_data_ += data;
        }
        if (pure_data && !pre_) {
            data = collapse_whitespace(data);
            if (!data.empty() && data[0] == ' ') {
                space_ = true;
                data.erase(0, 1);
            }
        }
        if (data.empty() && force == Force::kNone) {
            return;
        }
        if (startpre_ && !data.starts_with("\n") && !data.starts_with("\r\n")) {
            data = "\n" + data;
        }
        std::string prefix(static_cast<size_t>(blockquote_ > 0 ? blockquote_ : 0), '>');
        if (!(force != Force::kNone && !data.empty() && data[0] == '>') && blockquote_ > 0) {
            prefix += ' ';
        }
        if (pre_) {
            if (lists_.empty()) {
                prefix += "    ";
            }
            for (size_t i = 0; i < lists_.size(); ++i) {
                prefix += "    ";
            }
            std::string indented;
            for (char c : data) {
                indented += c;
                if (c == '\n') {
                    indented += prefix;
                }
            }
            data = std::move(indented);
        }
        if (startpre_) {
            startpre_ = false;
            if (!lists_.empty()) {
                data.erase(0, data.find_first_not_of('\n') == std::string::npos ? data.size()
                                                                                : data.find_first_not_of('\n'));
            }
        }
        if (start_) {
            space_ = false;
            pending_newlines_ = 0;
            start_ = false;
        }
        if (force == Force::kEnd) {
            pending_newlines_ = 0;
            write("\n");
            space_ = false;
        }
        if (pending_newlines_ > 0) {
            const std::string line_break = break_toggle_ + "\n" + prefix;
            for (int i = 0; i < pending_newlines_; ++i) {
                write(line_break);
            }
            space_ = false;
            break_toggle_.clear();
        }
        if (space_) {
            if (!last_was_newline_) {
                write(" ");
            }
            space_ = false;
        }
        if (force == Force::kEnd) {
            for (const auto& [abbreviation, definition] : abbreviations_) {
                write("  *[" + abbreviation + "]: " + definition + "\n");
            }
        }
        pending_newlines_ = 0;
        write(data);
    }

    std::string output_;
    int pending_newlines_ = 0;
    bool start_ = true;
    bool space_ = false;
    bool last_was_newline_ = false;
    int blockquote_ = 0;
    bool pre_ = false;
    bool startpre_ = false;
    bool code_ = false;
    bool quote_ = false;
    std::string break_toggle_;
    bool last_was_list_ = false;
    std::vector<ListState> lists_;
    bool stressed_ = false;
    bool preceding_stressed_ = false;
    std::string preceding_data_;
    std::string current_tag_;
    std::optional<std::string> abbr_title_;
    std::optional<std::string> abbr_data_;
    std::vector<std::pair<std::string, std::string>> abbreviations_;
};

// `re.sub(r"^\s+$", "", text, flags=re.MULTILINE)`: whitespace-only lines emptied. \s+ may run over line
// ends, so a run of blank lines loses all but its last line break, exactly as the regex does.
std::string empty_blank_lines(const std::string& text) {
    std::string out;
    size_t pos = 0;
    while (pos < text.size()) {
        if (pos == 0 || text[pos - 1] == '\n') {
            size_t run_end = pos;
            size_t last_line_end = std::string::npos;
            while (run_end < text.size()) {
                size_t next = run_end;
                if (!is_space(next_code_point(text, next))) {
                    break;
                }
                run_end = next;
                if (run_end == text.size() || text[run_end] == '\n') {
                    last_line_end = run_end;
                }
            }
            if (last_line_end != std::string::npos && last_line_end > pos) {
                pos = last_line_end;
                continue;
            }
        }
        out += text[pos];
        ++pos;
    }
    return out;
}

// `re.sub(r"\n(\s*\n)+", "\n\n", text)`.
std::string collapse_newline_runs(const std::string& text) {
    std::string out;
    size_t pos = 0;
    while (pos < text.size()) {
        if (text[pos] == '\n') {
            size_t cursor = pos + 1;
            size_t last_newline = std::string::npos;
            while (cursor < text.size()) {
                size_t next = cursor;
                if (!is_space(next_code_point(text, next))) {
                    break;
                }
                if (text[cursor] == '\n') {
                    last_newline = cursor;
                }
                cursor = next;
            }
            if (last_newline != std::string::npos) {
                out += "\n\n";
                pos = last_newline + 1;
                continue;
            }
        }
        out += text[pos];
        ++pos;
    }
    return out;
}

} // namespace

std::string render_events_as_text(std::vector<HtmlEvent> events) {
    events = rewrite_sup_sub(std::move(events));
    space_out_tag_runs(events);
    Html2Text converter;
    for (const HtmlEvent& event : events) {
        converter.handle_event(event);
    }
    return clean_blank_lines(std::string(browser_text::strip(converter.finish())));
}

std::string clean_blank_lines(const std::string& text) { return collapse_newline_runs(empty_blank_lines(text)); }

} // namespace tllm::tools::html_detail
