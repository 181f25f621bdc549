#include "hub/hub.h"

#include "core/hash.h"
#include "core/log.h"
#include "hub/http.h"
#include "hub/local_files.h"
#include "hub/transfer.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sys/stat.h>
#include <thread>

namespace tllm::hub {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct CachePaths {
    std::string snapshot; // the repository's files
    std::string lock;
    std::string state;
    std::string marker; // completion marker of this include set
};

std::string effective_revision(const DownloadOptions& options) {
    return options.revision.empty() ? default_revision(options.source) : options.revision;
}

CachePaths cache_paths(const ModelRequest& request, const DownloadOptions& options) {
    // The repo id is validated and the revision percent-encoded, so neither can leave the cache directory.
    fs::path repo_dir = fs::path(options.cache_dir) / "models" / source_name(options.source) / request.repo;
    std::string revision = percent_encode(effective_revision(options), /*keep_slash=*/false);
    std::vector<std::string> patterns = request.include;
    std::sort(patterns.begin(), patterns.end());
    Hasher128 hasher;
    hasher.add(static_cast<uint64_t>(patterns.size()));
    for (const std::string& pattern : patterns) {
        hasher.add(std::string_view(pattern));
    }
    CachePaths paths;
    paths.snapshot = (repo_dir / revision).string();
    paths.lock = (repo_dir / (revision + ".lock")).string();
    paths.state = (repo_dir / (revision + ".state")).string();
    paths.marker = (fs::path(paths.state) / ("complete-" + hasher.finish().hex() + ".json")).string();
    return paths;
}

// The directory of config.json: the request's own subdirectory, else the shallowest one among the files.
std::string model_directory(const ModelRequest& request, const std::vector<RemoteFile>& files) {
    if (!request.model_subdir.empty()) {
        return request.model_subdir;
    }
    std::optional<std::string> best;
    for (const RemoteFile& file : files) {
        fs::path path(file.path);
        if (path.filename() != "config.json") {
            continue;
        }
        std::string directory = path.parent_path().string();
        auto depth = [](const std::string& p) { return p.empty() ? 0 : std::count(p.begin(), p.end(), '/') + 1; };
        if (!best || depth(directory) < depth(*best) || (depth(directory) == depth(*best) && directory < *best)) {
            best = directory;
        }
    }
    return best.value_or("");
}

std::string join(const std::string& base, const std::string& relative) {
    return relative.empty() ? base : (fs::path(base) / relative).string();
}

std::optional<std::string> read_marker(const CachePaths& paths) {
    auto text = read_small_file(paths.marker);
    if (!text.ok()) {
        return std::nullopt;
    }
    json marker = json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (!marker.is_object() || !marker.contains("files") || !marker["files"].is_array() ||
        !marker.contains("model_dir") || !marker["model_dir"].is_string()) {
        return std::nullopt;
    }
    // A marker is a promise about files a user can delete: trust it only while they are all there, whole.
    for (const json& file : marker["files"]) {
        if (!file.is_object() || !file.contains("path") || !file["path"].is_string() || !file.contains("size") ||
            !file["size"].is_number_integer()) {
            return std::nullopt;
        }
        std::string path = file["path"].get<std::string>();
        if (!is_safe_relative_path(path)) {
            return std::nullopt;
        }
        struct stat info {};
        std::string local = join(paths.snapshot, path);
        if (::stat(local.c_str(), &info) != 0 || static_cast<int64_t>(info.st_size) != file["size"].get<int64_t>()) {
            return std::nullopt;
        }
    }
    std::string model_dir = marker["model_dir"].get<std::string>();
    if (!model_dir.empty() && !is_safe_relative_path(model_dir)) {
        return std::nullopt;
    }
    return join(paths.snapshot, model_dir);
}

Status write_marker(const ModelRequest& request,
                    const DownloadOptions& options,
                    const CachePaths& paths,
                    const RepoListing& listing,
                    const std::vector<RemoteFile>& files,
                    const std::string& model_dir) {
    json entries = json::array();
    for (const RemoteFile& file : files) {
        struct stat info {};
        std::string local = join(paths.snapshot, file.path);
        int64_t size = ::stat(local.c_str(), &info) == 0 ? static_cast<int64_t>(info.st_size) : file.size;
        entries.push_back({{"path", file.path}, {"size", size}, {"sha256", file.sha256}});
    }
    json marker = {{"source", source_name(options.source)},
                   {"repo", request.repo},
                   {"revision", effective_revision(options)},
                   {"commit", listing.commit},
                   {"include", request.include},
                   {"model_dir", model_dir},
                   {"files", std::move(entries)}};
    return write_file_atomically(paths.marker, marker.dump(2) + "\n");
}

std::string other_source_flag(Source source) {
    return source == Source::kModelScope ? "--source huggingface" : "--source modelscope";
}

TransferOptions
transfer_options(const ModelRequest& request, const DownloadOptions& options, const HubEndpoints& endpoints) {
    TransferOptions transfer;
    transfer.connections = options.connections;
    transfer.chunk_bytes = options.chunk_bytes;
    transfer.max_attempts = std::max(options.max_attempts, 1);
    transfer.retry_delay = options.retry_delay;
    transfer.progress = ProgressReporter::default_style(options.progress);
    transfer.label = request.repo;
    transfer.ca_bundle = endpoints.ca_bundle;
    if (options.source == Source::kHuggingFace) {
        transfer.bearer_token = endpoints.huggingface_token;
        transfer.auth_hint = endpoints.huggingface_token.empty()
                                 ? "no token was sent: set HF_TOKEN to a token that can read " + request.repo
                                 : "HF_TOKEN was refused: it is invalid, or it cannot read " + request.repo +
                                       " (gated repositories need their terms accepted on the website)";
        transfer.unreachable_hint = "check the network, or try " + other_source_flag(options.source) +
                                    ", a local model directory, or HF_ENDPOINT pointing at a reachable mirror";
    } else {
        transfer.auth_hint = "the repository is private or gated on ModelScope; try --source huggingface";
        transfer.unreachable_hint = "check the network, or try " + other_source_flag(options.source) +
                                    ", a local model directory, or MODELSCOPE_DOMAIN pointing at a reachable mirror";
    }
    return transfer;
}

Result<RepoListing> fetch_listing(const ModelRequest& request,
                                  const DownloadOptions& options,
                                  const HubEndpoints& endpoints,
                                  const TransferOptions& transfer) {
    HttpRequest http;
    http.url = listing_url(options.source, endpoints, request.repo, effective_revision(options));
    http.bearer_token = transfer.bearer_token;
    http.ca_bundle = transfer.ca_bundle;
    std::string what = fmt::format("the file list of {} at {}", request.repo, effective_revision(options));
    HttpSession session;
    std::string body;
    for (int attempt = 1;; ++attempt) {
        HttpResponse response = session.get_text(http, body);
        if (response.ok()) {
            break;
        }
        if (!response.retryable() || attempt >= transfer.max_attempts) {
            return describe_http_failure(response, what, transfer);
        }
        auto delay = transfer.retry_delay * (1 << std::min(attempt - 1, 5));
        TLLM_LOG_WARN("{}: {}; retrying in {} ms", what, response.describe(), delay.count());
        std::this_thread::sleep_for(delay);
    }
    auto listing =
        options.source == Source::kHuggingFace ? parse_huggingface_listing(body) : parse_modelscope_listing(body);
    if (!listing.ok()) {
        return listing.error().with_context(what);
    }
    return listing;
}

Result<std::vector<RemoteFile>> select_files(const ModelRequest& request, const RepoListing& listing) {
    std::vector<RemoteFile> selected;
    std::set<std::string> paths;
    for (const RemoteFile& file : listing.files) {
        paths.insert(file.path);
        bool wanted = request.include.empty() ||
                      std::any_of(request.include.begin(), request.include.end(),
                                  [&](const std::string& pattern) { return glob_match(pattern, file.path); });
        if (wanted) {
            selected.push_back(file);
        }
    }
    for (const RemoteFile& file : selected) {
        if (paths.count(file.path + ".part") != 0) {
            return make_error(ErrorCode::kUnsupported,
                              "{} has both {} and {}.part, which the download's partial "
                              "files would confuse",
                              request.repo, file.path, file.path);
        }
    }
    if (selected.empty()) {
        std::string patterns;
        for (const std::string& pattern : request.include) {
            patterns += (patterns.empty() ? "" : ", ") + pattern;
        }
        return make_error(ErrorCode::kNotFound, "no file of {} matches {}", request.repo,
                          patterns.empty() ? "(the repository is empty)" : patterns);
    }
    return selected;
}

} // namespace

Result<ModelRequest> resolve_model_name(const std::string& name_or_repo, const DownloadOptions& options) {
    ModelRequest request;
    std::string size;
    if (name_or_repo == "20b" || name_or_repo == "gpt-oss-20b") {
        size = "20b";
    } else if (name_or_repo == "120b" || name_or_repo == "gpt-oss-120b") {
        size = "120b";
    }
    if (!size.empty()) {
        request.repo = (options.source == Source::kModelScope ? "openai-mirror/gpt-oss-" : "openai/gpt-oss-") + size;
        // Only the original/ checkpoint, as TritonLLM's allow_patterns=["original/*"]: the engine reads nothing
        // else, and the repository's other weights would double the download.
        request.include = {"original/*"};
        request.model_subdir = "original";
    } else if (is_valid_repo_id(name_or_repo)) {
        request.repo = name_or_repo;
    } else {
        return make_error(ErrorCode::kInvalidArgument,
                          "\"{}\" is neither 20b, 120b nor a repository id of the form owner/name", name_or_repo);
    }
    if (!options.include.empty()) {
        request.include = options.include;
        request.model_subdir.clear();
    }
    return request;
}

std::optional<std::string> find_cached_model(const std::string& name_or_repo, const DownloadOptions& options) {
    auto request = resolve_model_name(name_or_repo, options);
    if (!request.ok() || options.cache_dir.empty()) {
        return std::nullopt;
    }
    return read_marker(cache_paths(*request, options));
}

Result<std::string>
ensure_model(const std::string& name_or_repo, const DownloadOptions& options, const HubEndpoints& endpoints) {
    TLLM_ASSIGN_OR_RETURN(ModelRequest request, resolve_model_name(name_or_repo, options));
    if (options.cache_dir.empty()) {
        return make_error(ErrorCode::kInvalidArgument,
                          "no cache directory: set TRITONLLM_CACHE_DIR (or HOME), or pass --cache-dir");
    }
    CachePaths paths = cache_paths(request, options);
    if (auto cached = read_marker(paths)) {
        return *cached;
    }
    TLLM_RETURN_IF_ERROR(make_directories(fs::path(paths.lock).parent_path().string()));
    TLLM_ASSIGN_OR_RETURN(auto lock, FileLock::acquire(paths.lock, [&] {
                              TLLM_LOG_INFO("another tritonllm process is downloading {} into {}; waiting for it",
                                            request.repo, paths.snapshot);
                          }));
    // The process we waited for may have finished the very download we were about to start.
    if (auto cached = read_marker(paths)) {
        return *cached;
    }
    TransferOptions transfer = transfer_options(request, options, endpoints);
    TLLM_ASSIGN_OR_RETURN(RepoListing listing, fetch_listing(request, options, endpoints, transfer));
    TLLM_ASSIGN_OR_RETURN(std::vector<RemoteFile> files, select_files(request, listing));
    // Files come from the listed commit where the hub names one, so a push during the download cannot mix
    // two versions of the repository.
    std::string file_revision = listing.commit.empty() ? effective_revision(options) : listing.commit;
    std::vector<TransferFile> transfers;
    int64_t total = 0;
    for (const RemoteFile& file : files) {
        transfers.push_back({file, file_url(options.source, endpoints, request.repo, file_revision, file.path)});
        total += std::max<int64_t>(file.size, 0);
    }
    TLLM_LOG_INFO("{} from {}: {} files, {}", request.repo,
                  url_host(listing_url(options.source, endpoints, request.repo, file_revision)), files.size(),
                  format_bytes(static_cast<double>(total)));
    TLLM_RETURN_IF_ERROR(transfer_files(transfers, paths.snapshot, paths.state, transfer));
    std::string model_dir = model_directory(request, files);
    TLLM_RETURN_IF_ERROR(write_marker(request, options, paths, listing, files, model_dir));
    return join(paths.snapshot, model_dir);
}

} // namespace tllm::hub
