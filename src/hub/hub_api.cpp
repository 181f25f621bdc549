#include "hub/hub_api.h"

#include "core/ca_bundle.h"

#include <fnmatch.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

namespace tllm::hub {
namespace {

using nlohmann::json;

std::string strip_trailing_slashes(std::string text) {
    while (!text.empty() && text.back() == '/') {
        text.pop_back();
    }
    return text;
}

std::string trim(std::string text) {
    size_t first = text.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) {
        return "";
    }
    size_t last = text.find_last_not_of(" \t\r\n");
    return text.substr(first, last - first + 1);
}

bool is_hex_sha256(const std::string& text) {
    if (text.size() != 64) {
        return false;
    }
    for (char c : text) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

// Listings come from the network: a hash in upper case is still the hash, anything else is no hash at all
// (so a malformed value never turns into a spurious verification failure).
std::string normalized_sha256(const json& value) {
    if (!value.is_string()) {
        return "";
    }
    std::string text = value.get<std::string>();
    for (char& c : text) {
        if (c >= 'A' && c <= 'F') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    return is_hex_sha256(text) ? text : "";
}

int64_t size_field(const json& value) {
    if (value.is_number_unsigned()) {
        uint64_t size = value.get<uint64_t>();
        return size <= static_cast<uint64_t>(INT64_MAX) ? static_cast<int64_t>(size) : -1;
    }
    if (value.is_number_integer()) {
        int64_t size = value.get<int64_t>();
        return size >= 0 ? size : -1;
    }
    return -1;
}

const json* member(const json& object, const char* name) {
    if (!object.is_object()) {
        return nullptr;
    }
    auto found = object.find(name);
    return found != object.end() ? &*found : nullptr;
}

std::string string_member(const json& object, const char* name) {
    const json* value = member(object, name);
    return value != nullptr && value->is_string() ? value->get<std::string>() : std::string();
}

// Both hubs list a path at most once; a listing that repeats one is not something to download from.
Status add_file(RepoListing& listing, std::set<std::string>& seen, RemoteFile file) {
    if (!is_safe_relative_path(file.path)) {
        return make_error(ErrorCode::kCorruptFile, "file listing: unsafe path \"{}\"", file.path);
    }
    if (!seen.insert(file.path).second) {
        return make_error(ErrorCode::kCorruptFile, "file listing: \"{}\" appears twice", file.path);
    }
    listing.files.push_back(std::move(file));
    return {};
}

} // namespace

const char* source_name(Source source) { return source == Source::kModelScope ? "modelscope" : "huggingface"; }

const char* default_revision(Source source) { return source == Source::kModelScope ? "master" : "main"; }

HubEndpoints HubEndpoints::from_environment(const Environment& environment) {
    HubEndpoints endpoints;
    if (!environment.hf_endpoint.empty()) {
        endpoints.huggingface = strip_trailing_slashes(environment.hf_endpoint);
    }
    endpoints.huggingface_token = environment.hf_token;
    if (endpoints.huggingface_token.empty() && !environment.hf_home.empty()) {
        std::ifstream token_file(environment.hf_home + "/token");
        std::string token;
        if (token_file && std::getline(token_file, token)) {
            endpoints.huggingface_token = trim(token);
        }
    }
    if (!environment.modelscope_domain.empty()) {
        std::string domain = strip_trailing_slashes(environment.modelscope_domain);
        endpoints.modelscope = domain.find("://") != std::string::npos ? domain : "https://" + domain;
    }
    endpoints.ca_bundle = find_ca_bundle(environment.ca_bundle);
    return endpoints;
}

std::string RemoteFile::identity() const { return fmt::format("size={};sha256={};version={}", size, sha256, version); }

Result<RepoListing> parse_huggingface_listing(std::string_view text) {
    json root = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!root.is_object()) {
        return make_error(ErrorCode::kCorruptFile, "Hugging Face file listing is not a JSON object");
    }
    const json* siblings = member(root, "siblings");
    if (siblings == nullptr || !siblings->is_array()) {
        return make_error(ErrorCode::kCorruptFile, "Hugging Face file listing has no \"siblings\" array");
    }
    RepoListing listing;
    listing.commit = string_member(root, "sha");
    std::set<std::string> seen;
    for (const json& sibling : *siblings) {
        const json* name = member(sibling, "rfilename");
        if (name == nullptr || !name->is_string()) {
            return make_error(ErrorCode::kCorruptFile, "Hugging Face file listing: an entry has no \"rfilename\"");
        }
        RemoteFile file;
        file.path = name->get<std::string>();
        file.version = string_member(sibling, "blobId");
        if (const json* size = member(sibling, "size")) {
            file.size = size_field(*size);
        }
        // For LFS files "size" is the content's size as well, but "lfs.size" is what the hash covers.
        if (const json* lfs = member(sibling, "lfs"); lfs != nullptr && lfs->is_object()) {
            if (const json* sha = member(*lfs, "sha256")) {
                file.sha256 = normalized_sha256(*sha);
            }
            if (const json* size = member(*lfs, "size"); size != nullptr && size_field(*size) >= 0) {
                file.size = size_field(*size);
            }
        }
        TLLM_RETURN_IF_ERROR(add_file(listing, seen, std::move(file)));
    }
    return listing;
}

Result<RepoListing> parse_modelscope_listing(std::string_view text) {
    json root = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!root.is_object()) {
        return make_error(ErrorCode::kCorruptFile, "ModelScope file listing is not a JSON object");
    }
    const json* code = member(root, "Code");
    if (code != nullptr && !(code->is_number_integer() && code->get<int64_t>() == 200)) {
        std::string message = string_member(root, "Message");
        return make_error(ErrorCode::kNotFound, "ModelScope answered code {}: {}", code->dump(),
                          message.empty() ? "(no message)" : message);
    }
    const json* data = member(root, "Data");
    const json* files = data != nullptr ? member(*data, "Files") : nullptr;
    if (files == nullptr || !files->is_array()) {
        return make_error(ErrorCode::kCorruptFile, "ModelScope file listing has no \"Data.Files\" array");
    }
    RepoListing listing;
    std::set<std::string> seen;
    for (const json& entry : *files) {
        if (!entry.is_object()) {
            return make_error(ErrorCode::kCorruptFile, "ModelScope file listing: an entry is not an object");
        }
        if (string_member(entry, "Type") == "tree") {
            continue; // a directory: its files are listed themselves (Recursive=True)
        }
        const json* path = member(entry, "Path");
        if (path == nullptr || !path->is_string()) {
            return make_error(ErrorCode::kCorruptFile, "ModelScope file listing: an entry has no \"Path\"");
        }
        RemoteFile file;
        file.path = path->get<std::string>();
        if (const json* size = member(entry, "Size")) {
            file.size = size_field(*size);
        }
        if (const json* sha = member(entry, "Sha256")) {
            file.sha256 = normalized_sha256(*sha);
        }
        file.version = string_member(entry, "Revision");
        TLLM_RETURN_IF_ERROR(add_file(listing, seen, std::move(file)));
    }
    return listing;
}

std::string
listing_url(Source source, const HubEndpoints& endpoints, const std::string& repo, const std::string& revision) {
    if (source == Source::kHuggingFace) {
        return fmt::format("{}/api/models/{}/revision/{}?blobs=true", endpoints.huggingface, repo,
                           percent_encode(revision, /*keep_slash=*/false));
    }
    return fmt::format("{}/api/v1/models/{}/repo/files?Revision={}&Recursive=True", endpoints.modelscope, repo,
                       percent_encode(revision, /*keep_slash=*/false));
}

std::string file_url(Source source,
                     const HubEndpoints& endpoints,
                     const std::string& repo,
                     const std::string& revision,
                     const std::string& path) {
    if (source == Source::kHuggingFace) {
        return fmt::format("{}/{}/resolve/{}/{}", endpoints.huggingface, repo,
                           percent_encode(revision, /*keep_slash=*/false), percent_encode(path, /*keep_slash=*/true));
    }
    return fmt::format("{}/api/v1/models/{}/repo?Revision={}&FilePath={}", endpoints.modelscope, repo,
                       percent_encode(revision, /*keep_slash=*/false), percent_encode(path, /*keep_slash=*/false));
}

bool is_valid_repo_id(std::string_view repo) {
    size_t slash = repo.find('/');
    if (slash == std::string_view::npos || repo.find('/', slash + 1) != std::string_view::npos) {
        return false;
    }
    for (std::string_view part : {repo.substr(0, slash), repo.substr(slash + 1)}) {
        if (part.empty() || part == "." || part == "..") {
            return false;
        }
        for (char c : part) {
            bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                           c == '_' || c == '.';
            if (!allowed) {
                return false;
            }
        }
    }
    return true;
}

bool is_safe_relative_path(std::string_view path) {
    if (path.empty() || path.size() > 4096) {
        return false;
    }
    size_t start = 0;
    while (true) {
        size_t slash = path.find('/', start);
        std::string_view part = path.substr(start, slash == std::string_view::npos ? slash : slash - start);
        if (part.empty() || part == "." || part == "..") {
            return false;
        }
        for (char c : part) {
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '\\') {
                return false;
            }
        }
        if (slash == std::string_view::npos) {
            return true;
        }
        start = slash + 1;
    }
}

bool glob_match(const std::string& pattern, const std::string& path) {
    return ::fnmatch(pattern.c_str(), path.c_str(), 0) == 0;
}

std::string percent_encode(std::string_view text, bool keep_slash) {
    std::string encoded;
    for (char c : text) {
        bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                          c == '_' || c == '.' || c == '~' || (keep_slash && c == '/');
        if (unreserved) {
            encoded += c;
        } else {
            encoded += fmt::format("%{:02X}", static_cast<unsigned char>(c));
        }
    }
    return encoded;
}

} // namespace tllm::hub
