// Model download: "20b", "120b" or any "owner/name" repository from ModelScope or Hugging Face into the
// local cache, once. Later calls find the completed download without touching the network.
//
// Cache layout, under DownloadOptions::cache_dir:
//   models/<source>/<owner>/<name>/<revision>/        the repository's files at their repo paths
//   models/<source>/<owner>/<name>/<revision>.lock    flock'ed while a process downloads into it
//   models/<source>/<owner>/<name>/<revision>.state/  per-file resume records and completion markers
#pragma once

#include "core/result.h"
#include "hub/hub_api.h"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tllm::hub {

struct DownloadOptions {
    Source source = Source::kModelScope;
    std::string revision; // "" = the hub's default branch: ModelScope "master", Hugging Face "main"
    // Globs over repo paths (fnmatch, '*' crosses '/'). Empty: the whole repository, or "original/*" (all the
    // engine reads) for 20b / 120b.
    std::vector<std::string> include;
    std::string cache_dir; // required; the CLI passes Environment::cache_dir unless --cache-dir is given
    int connections = 8;   // parallel connections, over ranges of big files and over files
    bool progress = true;  // a bar on stderr when it is a terminal, else a log line now and then

    // Transfer tuning; the defaults suit real downloads, tests shrink them.
    int64_t chunk_bytes = 64ll << 20;
    int max_attempts = 5;
    std::chrono::milliseconds retry_delay{1000};
};

// What a model name stands for on a hub.
struct ModelRequest {
    std::string repo;                 // "openai-mirror/gpt-oss-20b"
    std::vector<std::string> include; // empty = everything
    std::string model_subdir;         // where config.json + *.safetensors sit inside the download ("" = find it)
};

// "20b" / "120b" (also "gpt-oss-20b" / "gpt-oss-120b") map to the source's gpt-oss repository and its original/
// folder; anything else must be an "owner/name" repository id. options.include, when given, replaces the default.
Result<ModelRequest> resolve_model_name(const std::string& name_or_repo, const DownloadOptions& options);

// Downloads what is missing (resuming partial files) and returns the local directory that holds config.json and
// the *.safetensors files. Two processes asking for the same download take turns: the second waits for the
// first, then finds the files complete.
Result<std::string>
ensure_model(const std::string& name_or_repo, const DownloadOptions& options, const HubEndpoints& endpoints);

// Local only: that directory when a completed download of exactly this request is in the cache, else nullopt.
std::optional<std::string> find_cached_model(const std::string& name_or_repo, const DownloadOptions& options);

} // namespace tllm::hub
