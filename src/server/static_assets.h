// The chat page `tritonllm serve` serves at `/` (web/): files bundled at build time and embedded in the binary
// (cmake/web_assets.cmake), answered from memory with their Content-Type, an ETag and caching rules. The page holds
// no secret and asks for the API key itself, so its files are served without one.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace httplib {
class Server;
} // namespace httplib

namespace tllm::server {

struct EmbeddedFile {
    std::string_view path; // relative to the bundle: "index.html", "assets/app-HASH.js"
    const unsigned char* data;
    size_t size;
    std::string_view sha256; // hex, of the bytes
    std::string_view bytes() const { return {reinterpret_cast<const char*>(data), size}; }
};

// The page's files (the generated web_assets.cpp).
std::span<const EmbeddedFile> embedded_web_assets();

// A file's answer for GET: 200 with the body, or 304 when `if_none_match` names its ETag.
struct StaticAnswer {
    int status = 200;
    std::string_view body; // empty for 304
    std::string content_type;
    std::string etag;
    std::string cache_control;
};

// The answer for `path` ("/" or "/assets/NAME") among `files`; nullopt when none serves it.
std::optional<StaticAnswer>
static_answer(std::span<const EmbeddedFile> files, std::string_view path, std::string_view if_none_match);

// Whether `path` is one of the page's (served without the API key).
bool is_page_path(std::string_view path);

// Registers GET `/` and `/assets/...` on `http`, answered from `files` (which must outlive it).
void serve_page(httplib::Server& http, std::span<const EmbeddedFile> files);

} // namespace tllm::server
