// Parallel, resumable, verified download of a set of files into a directory.
//
// Each file is split into ranges fetched by a shared pool of connections (so big files use several and small
// files download side by side). Bytes land in "<file>.part" at their offsets; a small record per file under
// the state directory says which bytes of each range are on disk, so a later run asks only for the rest. A
// finished file is checked against its SHA-256 when the hub publishes one, then renamed into place.
#pragma once

#include "core/result.h"
#include "hub/http.h"
#include "hub/hub_api.h"
#include "hub/progress.h"

#include <chrono>
#include <string>
#include <vector>

namespace tllm::hub {

struct TransferFile {
    RemoteFile remote;
    std::string url;
};

struct TransferOptions {
    int connections = 8;
    int64_t chunk_bytes = 64ll << 20;            // range size; a file is split into ceil(size / chunk_bytes) ranges
    int max_attempts = 5;                        // per range, for transient failures (5xx, reset, timeout)
    std::chrono::milliseconds retry_delay{1000}; // doubles with every attempt, at most 30 s
    std::string bearer_token;
    std::string ca_bundle; // for HttpRequest::ca_bundle
    ProgressReporter::Style progress = ProgressReporter::Style::kNone;
    std::string label; // names the download in progress lines
    // Appended to errors: what to do about a 401/403, and about an unreachable host.
    std::string auth_hint;
    std::string unreachable_hint;
};

// Downloads every file missing from `snapshot_dir` (files verified by an earlier run are skipped). On error,
// partial files and their records stay for the next run, except files that failed verification.
Status transfer_files(const std::vector<TransferFile>& files,
                      const std::string& snapshot_dir,
                      const std::string& state_dir,
                      const TransferOptions& options);

// A clear error for a failed request: `what` names the thing requested ("the file list of X", "file Y").
Error describe_http_failure(const HttpResponse& response, const std::string& what, const TransferOptions& options);

} // namespace tllm::hub
