// gumbo's tree -> the reference's cleaned event stream (links and images replaced, unwanted elements dropped).
#include "core/check.h"
#include "tools/browser/html_events.h"
#include "tools/browser/text_util.h"
#include "tools/browser/url.h"

#include <cstddef>
#include <cstdlib>
#include <fmt/format.h>
#include <gumbo.h>
#include <string>
#include <unordered_map>

namespace tllm::tools::html_detail {

namespace {

// gumbo frees its tree recursively, which overflows the stack on pathological nesting. We own its memory
// instead: every block it allocates carries a header linking it into a list, and the arena releases whatever
// is still linked at once, so the tree is never walked to be freed.
class GumboArena {
  public:
    GumboArena() = default;
    GumboArena(const GumboArena&) = delete;
    GumboArena& operator=(const GumboArena&) = delete;
    ~GumboArena() {
        while (head_ != nullptr) {
            Header* next = head_->next;
            std::free(head_);
            head_ = next;
        }
    }

    static void* allocate(void* arena_pointer, size_t size) {
        auto* arena = static_cast<GumboArena*>(arena_pointer);
        auto* header = static_cast<Header*>(std::malloc(sizeof(Header) + size));
        TLLM_CHECK(header != nullptr, "out of memory while parsing HTML");
        header->previous = nullptr;
        header->next = arena->head_;
        if (arena->head_ != nullptr) {
            arena->head_->previous = header;
        }
        arena->head_ = header;
        return header + 1;
    }

    static void deallocate(void* arena_pointer, void* block) {
        if (block == nullptr) {
            return;
        }
        auto* arena = static_cast<GumboArena*>(arena_pointer);
        Header* header = static_cast<Header*>(block) - 1;
        (header->previous != nullptr ? header->previous->next : arena->head_) = header->next;
        if (header->next != nullptr) {
            header->next->previous = header->previous;
        }
        std::free(header);
    }

  private:
    // Sized to keep the blocks handed to gumbo aligned for any type.
    struct alignas(alignof(std::max_align_t)) Header {
        Header* previous;
        Header* next;
    };
    Header* head_ = nullptr;
};

std::string tag_name(const GumboElement& element) {
    if (element.tag != GUMBO_TAG_UNKNOWN) {
        return gumbo_normalized_tagname(element.tag);
    }
    GumboStringPiece piece = element.original_tag;
    gumbo_tag_from_original_text(&piece);
    std::string name(piece.data == nullptr ? "" : std::string_view(piece.data, piece.length));
    for (char& c : name) {
        c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
    }
    return name;
}

const char* attribute_value(const GumboElement& element, const char* name) {
    const GumboAttribute* attribute = gumbo_get_attribute(&element.attributes, name);
    return attribute == nullptr ? nullptr : attribute->value;
}

bool is_text_node(const GumboNode& node) {
    return node.type == GUMBO_NODE_TEXT || node.type == GUMBO_NODE_WHITESPACE || node.type == GUMBO_NODE_CDATA;
}

bool is_dropped_element(const GumboElement& element) {
    if (element.tag_namespace != GUMBO_NAMESPACE_HTML) {
        return true; // the <svg> and <math> subtrees
    }
    switch (element.tag) {
    case GUMBO_TAG_HEAD:
    case GUMBO_TAG_SCRIPT:
    case GUMBO_TAG_STYLE:
    case GUMBO_TAG_NOSCRIPT:
    case GUMBO_TAG_TEMPLATE:
    case GUMBO_TAG_IFRAME:
    case GUMBO_TAG_SVG:
    case GUMBO_TAG_MATH:
        return true;
    default:
        return false;
    }
}

// lxml's `" ".join(node.itertext())`: every text node under `root`, joined with spaces.
std::string joined_subtree_text(const GumboNode& root) {
    std::string text;
    bool first = true;
    std::vector<const GumboNode*> pending = {&root};
    while (!pending.empty()) {
        const GumboNode* node = pending.back();
        pending.pop_back();
        if (is_text_node(*node)) {
            text += first ? "" : " ";
            text += node->v.text.text;
            first = false;
        } else if (node->type == GUMBO_NODE_ELEMENT) {
            const GumboVector& children = node->v.element.children;
            for (unsigned i = children.length; i > 0; --i) {
                pending.push_back(static_cast<const GumboNode*>(children.data[i - 1]));
            }
        }
    }
    return text;
}

std::optional<std::string> first_title_text(const GumboNode& root) {
    std::vector<const GumboNode*> pending = {&root};
    while (!pending.empty()) {
        const GumboNode* node = pending.back();
        pending.pop_back();
        if (node->type != GUMBO_NODE_ELEMENT && node->type != GUMBO_NODE_DOCUMENT) {
            continue;
        }
        const GumboVector& children =
            node->type == GUMBO_NODE_DOCUMENT ? node->v.document.children : node->v.element.children;
        if (node->type == GUMBO_NODE_ELEMENT && node->v.element.tag == GUMBO_TAG_TITLE) {
            // lxml's `.text`: the text before the first child element.
            std::string text;
            for (unsigned i = 0; i < children.length; ++i) {
                const auto* child = static_cast<const GumboNode*>(children.data[i]);
                if (!is_text_node(*child)) {
                    break;
                }
                text += child->v.text.text;
            }
            return text;
        }
        for (unsigned i = children.length; i > 0; --i) {
            pending.push_back(static_cast<const GumboNode*>(children.data[i - 1]));
        }
    }
    return std::nullopt;
}

class EventBuilder {
  public:
    explicit EventBuilder(std::string_view page_url)
        : page_url_(page_url), page_domain_(browser_url::domain_of(page_url)) {}

    void build(const GumboNode& root) {
        struct Frame {
            const GumboNode* node;
            unsigned next_child;
            bool emitted_start;
        };
        std::vector<Frame> stack;
        const auto push_children_of = [&](const GumboNode* node, bool emitted_start) {
            stack.push_back({node, 0, emitted_start});
        };
        push_children_of(&root, false);
        while (!stack.empty()) {
            Frame& frame = stack.back();
            const GumboVector& children = frame.node->type == GUMBO_NODE_DOCUMENT ? frame.node->v.document.children
                                                                                  : frame.node->v.element.children;
            if (frame.next_child == children.length) {
                if (frame.emitted_start) {
                    add_tag(HtmlEventKind::kEndTag, tag_name(frame.node->v.element), std::nullopt);
                }
                stack.pop_back();
                continue;
            }
            const auto* child = static_cast<const GumboNode*>(children.data[frame.next_child++]);
            if (is_text_node(*child)) {
                add_text(child->v.text.text);
            } else if (child->type == GUMBO_NODE_COMMENT) {
                events_.push_back({HtmlEventKind::kComment, "", "", std::nullopt});
            } else if (child->type == GUMBO_NODE_ELEMENT && is_dropped_element(child->v.element)) {
                add_hidden_subtree(*child);
            } else if (child->type == GUMBO_NODE_ELEMENT && !replace_element(*child)) {
                const GumboElement& element = child->v.element;
                std::string name = tag_name(element);
                std::optional<std::string> attribute;
                const char* wanted = (name == "ol" || name == "ul") ? "start" : (name == "abbr" ? "title" : nullptr);
                if (wanted != nullptr && attribute_value(element, wanted) != nullptr) {
                    attribute = attribute_value(element, wanted);
                }
                add_tag(HtmlEventKind::kStartTag, std::move(name), std::move(attribute));
                push_children_of(child, true);
            }
        }
    }

    HtmlDocument take() { return HtmlDocument{std::move(events_), std::move(links_), std::nullopt}; }

  private:
    // Replaces links and images by their text form, as the reference's _clean_links and replace_images do;
    // true when `node` was consumed.
    bool replace_element(const GumboNode& node) {
        const GumboElement& element = node.v.element;
        if (element.tag == GUMBO_TAG_IMG) {
            const char* alt = attribute_value(element, "alt");
            const char* name = alt != nullptr ? alt : attribute_value(element, "title");
            add_text(name != nullptr && name[0] != '\0' ? fmt::format("[Image {}: {}]", image_count_, name)
                                                        : fmt::format("[Image {}]", image_count_));
            ++image_count_;
            return true;
        }
        if (element.tag != GUMBO_TAG_A) {
            return false;
        }
        const char* href_value = attribute_value(element, "href");
        if (href_value == nullptr) {
            return false;
        }
        // Browsers ignore the whitespace around an href; urljoin would not, so strip it first.
        const std::string href(browser_text::strip(href_value));
        if (href.starts_with("mailto:") || href.starts_with("javascript:")) {
            return false;
        }
        std::string text = browser_text::merge_whitespace(joined_subtree_text(node));
        for (size_t pos = text.find("†"); pos != std::string::npos; pos = text.find("†", pos)) {
            text.replace(pos, std::string_view("†").size(), "‡");
        }
        if (text.empty()) {
            return false; // probably an image: left for replace_images
        }
        if (href.starts_with("#")) {
            add_text(text);
            return true;
        }
        std::string link = browser_url::resolve_url(page_url_, href);
        const std::string domain = browser_url::domain_of(link);
        if (domain.empty()) {
            return false;
        }
        link = browser_url::arxiv_to_ar5iv(link);
        auto [it, inserted] = link_ids_.try_emplace(link, links_.size());
        if (inserted) {
            links_.push_back(link);
        }
        add_text(domain == page_domain_ ? fmt::format("【{}†{}】", it->second, text)
                                        : fmt::format("【{}†{}†{}】", it->second, text, domain));
        return true;
    }

    // Adjacent text merges into one event, as it is one text node (and one html2text data chunk) in lxml.
    void add_text(std::string_view text) {
        if (text.empty()) {
            return;
        }
        if (!events_.empty() && events_.back().kind == HtmlEventKind::kText) {
            events_.back().text += text;
        } else {
            events_.push_back({HtmlEventKind::kText, "", std::string(text), std::nullopt});
        }
    }

    // A dropped element still separates and spaces the text around it as its serialised tags and text would.
    // <math> is the exception: the reference removes it from the tree before serialising.
    void add_hidden_subtree(const GumboNode& root) {
        events_.push_back({HtmlEventKind::kComment, "", "", std::nullopt});
        if (root.v.element.tag == GUMBO_TAG_MATH) {
            return;
        }
        std::vector<const GumboNode*> pending = {&root};
        while (!pending.empty()) {
            const GumboNode* node = pending.back();
            pending.pop_back();
            if (is_text_node(*node)) {
                events_.push_back({HtmlEventKind::kHiddenText, "", node->v.text.text, std::nullopt});
            } else if (node->type == GUMBO_NODE_ELEMENT) {
                events_.push_back({HtmlEventKind::kComment, "", "", std::nullopt});
                const GumboVector& children = node->v.element.children;
                for (unsigned i = children.length; i > 0; --i) {
                    pending.push_back(static_cast<const GumboNode*>(children.data[i - 1]));
                }
            }
        }
        events_.push_back({HtmlEventKind::kComment, "", "", std::nullopt});
    }

    void add_tag(HtmlEventKind kind, std::string name, std::optional<std::string> attribute) {
        events_.push_back({kind, std::move(name), "", std::move(attribute)});
    }

    std::string page_url_;
    std::string page_domain_;
    std::vector<HtmlEvent> events_;
    std::vector<std::string> links_;
    std::unordered_map<std::string, size_t> link_ids_;
    int image_count_ = 0;
};

} // namespace

HtmlDocument parse_html_document(std::string_view raw_html, std::string_view page_url) {
    const std::string html = limit_nesting_depth(raw_html);
    GumboArena arena;
    GumboOptions options = kGumboDefaultOptions;
    options.allocator = &GumboArena::allocate;
    options.deallocator = &GumboArena::deallocate;
    options.userdata = &arena;
    options.max_errors = 0; // we never read parse errors; don't spend memory recording them
    // Never passed to gumbo_destroy_output: the arena frees everything (see GumboArena).
    GumboOutput* output = gumbo_parse_with_options(&options, html.data(), html.size());
    TLLM_CHECK(output != nullptr, "gumbo returned no tree");

    EventBuilder builder(page_url);
    builder.build(*output->document);
    HtmlDocument document = builder.take();
    document.title_element_text = first_title_text(*output->document);
    return document;
}

} // namespace tllm::tools::html_detail
