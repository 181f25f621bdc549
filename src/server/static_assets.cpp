#include "server/static_assets.h"

#include <httplib.h>

namespace tllm::server {
namespace {

// The page talks only to its own server and loads nothing from elsewhere: images in the model's Markdown cannot
// fetch anything (or leak the conversation), and it works offline.
constexpr const char* kPagePolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src data:; "
                                    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

std::string content_type(std::string_view path) {
    struct Type {
        std::string_view extension;
        const char* type;
    };
    static constexpr Type kTypes[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".txt", "text/plain; charset=utf-8"},
        {".woff2", "font/woff2"},
    };
    for (const Type& type : kTypes) {
        if (path.ends_with(type.extension)) {
            return type.type;
        }
    }
    return "application/octet-stream";
}

// Whether an If-None-Match header ("*", or a list of strong or weak tags) names `etag`.
bool matches(std::string_view header, std::string_view etag) {
    while (!header.empty()) {
        const size_t comma = header.find(',');
        std::string_view tag = header.substr(0, comma);
        header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
        while (!tag.empty() && tag.front() == ' ') {
            tag.remove_prefix(1);
        }
        while (!tag.empty() && tag.back() == ' ') {
            tag.remove_suffix(1);
        }
        if (tag.starts_with("W/")) {
            tag.remove_prefix(2);
        }
        if (tag == "*" || tag == etag) {
            return true;
        }
    }
    return false;
}

} // namespace

bool is_page_path(std::string_view path) { return path == "/" || path.starts_with("/assets/"); }

std::optional<StaticAnswer>
static_answer(std::span<const EmbeddedFile> files, std::string_view path, std::string_view if_none_match) {
    std::string_view name;
    if (path == "/") {
        name = "index.html";
    } else if (path.starts_with("/assets/")) {
        name = path.substr(1);
    } else {
        return std::nullopt;
    }
    for (const EmbeddedFile& file : files) {
        if (file.path != name) {
            continue;
        }
        StaticAnswer answer;
        answer.content_type = content_type(name);
        answer.etag = "\"" + std::string(file.sha256.substr(0, 32)) + "\"";
        // The page is checked again on every visit (a cheap 304), so a new build's page is seen at once; its assets
        // are named by their content's hash, so a name always means the same bytes and browsers may keep them.
        answer.cache_control = name == "index.html" ? "no-cache" : "public, max-age=31536000, immutable";
        if (matches(if_none_match, answer.etag)) {
            answer.status = 304;
        } else {
            answer.body = file.bytes();
        }
        return answer;
    }
    return std::nullopt;
}

void serve_page(httplib::Server& http, std::span<const EmbeddedFile> files) {
    auto handler = [files](const httplib::Request& req, httplib::Response& res) {
        std::optional<StaticAnswer> answer = static_answer(files, req.path, req.get_header_value("If-None-Match"));
        if (!answer) {
            res.status = 404; // the error handler writes the error object
            return;
        }
        res.status = answer->status;
        res.set_header("ETag", answer->etag);
        res.set_header("Cache-Control", answer->cache_control);
        res.set_header("X-Content-Type-Options", "nosniff");
        if (req.path == "/") {
            res.set_header("Content-Security-Policy", kPagePolicy);
            res.set_header("Referrer-Policy", "no-referrer");
        }
        if (answer->status == 200) {
            res.set_content(answer->body.data(), answer->body.size(), answer->content_type);
        }
    };
    http.Get("/", handler);
    http.Get("/assets/[A-Za-z0-9._-]+", handler);
}

} // namespace tllm::server
