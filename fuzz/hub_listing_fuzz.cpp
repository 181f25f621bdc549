// libFuzzer target: the hubs' file listings (network input) must never crash the parsers, and every path they
// accept must stay inside the download directory. The first byte picks the parser.
#include "core/check.h"
#include "hub/hub_api.h"

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) {
        return 0;
    }
    std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
    auto listing =
        (data[0] & 1) != 0 ? tllm::hub::parse_modelscope_listing(text) : tllm::hub::parse_huggingface_listing(text);
    if (listing.ok()) {
        std::set<std::string> paths;
        for (const tllm::hub::RemoteFile& file : listing->files) {
            TLLM_CHECK(tllm::hub::is_safe_relative_path(file.path), "accepted unsafe path {}", file.path);
            // Independently of is_safe_relative_path: no absolute path, no ".." component.
            TLLM_CHECK(file.path.front() != '/', "accepted absolute path {}", file.path);
            std::string wrapped = "/" + file.path + "/";
            TLLM_CHECK(wrapped.find("/../") == std::string::npos, "accepted .. in {}", file.path);
            TLLM_CHECK(paths.insert(file.path).second, "accepted duplicate path {}", file.path);
            TLLM_CHECK(file.size >= -1, "negative size");
            TLLM_CHECK(file.sha256.empty() || file.sha256.size() == 64, "malformed sha256 {}", file.sha256);
        }
    }
    return 0;
}
