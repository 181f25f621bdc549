// The two model hubs' HTTP APIs as data: where they live (from the environment, the way huggingface_hub and
// modelscope resolve it), the URLs of their file listings and downloads, and parsers for the listings.
// Nothing here touches the network, so it is tested and fuzzed in isolation.
#pragma once

#include "core/environment.h"
#include "core/result.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tllm::hub {

enum class Source { kModelScope, kHuggingFace };

const char* source_name(Source source);      // "modelscope" / "huggingface"
const char* default_revision(Source source); // ModelScope "master", Hugging Face "main"

struct HubEndpoints {
    std::string huggingface = "https://huggingface.co"; // no trailing slash
    std::string huggingface_token;                      // sent as "Authorization: Bearer", "" = anonymous
    std::string modelscope = "https://www.modelscope.cn";
    std::string ca_bundle; // CA certificates for HTTPS; "" = libcurl's default

    // HF_ENDPOINT, HF_TOKEN (else the token file `hf auth login` writes under HF_HOME), MODELSCOPE_DOMAIN and
    // the CA bundle (SSL_CERT_FILE, CURL_CA_BUNDLE, else the distribution's).
    // A MODELSCOPE_DOMAIN with a scheme ("http://127.0.0.1:8080") is used as given, a bare host gets https://.
    static HubEndpoints from_environment(const Environment& environment);
};

struct RemoteFile {
    std::string path;   // inside the repo, '/'-separated, checked by is_safe_relative_path
    int64_t size = -1;  // -1 when the listing does not say
    std::string sha256; // 64 lowercase hex digits when the hub publishes one, else ""
    // Another identity of the content (git blob id, per-file revision) for files without a sha256, so that a
    // changed remote file is noticed before resuming a partial download of it.
    std::string version;

    // What must match for partial or finished local bytes to count as this file.
    std::string identity() const;
};

struct RepoListing {
    std::string commit; // the revision's commit id where the hub reports it, else ""
    std::vector<RemoteFile> files;
};

// Body of GET {endpoint}/api/models/{repo}/revision/{revision}?blobs=true: {"sha", "siblings": [{"rfilename",
// "size", "blobId", "lfs": {"sha256", "size"}}]}.
Result<RepoListing> parse_huggingface_listing(std::string_view json);
// Body of GET {endpoint}/api/v1/models/{repo}/repo/files?Revision=..&Recursive=True: {"Code": 200, "Data":
// {"Files": [{"Path", "Type": "blob"|"tree", "Size", "Sha256", "Revision"}]}}; "Code" other than 200 is an error.
Result<RepoListing> parse_modelscope_listing(std::string_view json);

std::string
listing_url(Source source, const HubEndpoints& endpoints, const std::string& repo, const std::string& revision);
std::string file_url(Source source,
                     const HubEndpoints& endpoints,
                     const std::string& repo,
                     const std::string& revision,
                     const std::string& path);

// "owner/name" with letters, digits, '-', '_' and '.' (not "." or ".." as a part).
bool is_valid_repo_id(std::string_view repo);
// A relative path that stays inside the directory it is joined to: no leading '/', no empty, "." or ".."
// parts, no backslashes or control characters.
bool is_safe_relative_path(std::string_view path);
// fnmatch(3) without FNM_PATHNAME, as huggingface_hub's allow_patterns: '*' also matches '/'.
bool glob_match(const std::string& pattern, const std::string& path);
// RFC 3986 percent-encoding of everything but unreserved characters (and '/' when keep_slash).
std::string percent_encode(std::string_view text, bool keep_slash);

} // namespace tllm::hub
