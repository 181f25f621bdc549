#include "hub/transfer.h"

#include "core/log.h"
#include "hub/local_files.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace tllm::hub {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// How often a range's progress reaches its record while bytes flow (always on a range's end or failure).
constexpr auto kRecordInterval = std::chrono::seconds(1);

struct ByteRange {
    int64_t start = 0;
    int64_t end = 0;  // exclusive; -1 when the file's size is unknown
    int64_t done = 0; // bytes from `start` that are on disk
};

// One file's download. Workers fetch its ranges concurrently; the one that finishes the last range verifies
// and publishes it.
struct FileJob {
    const TransferFile* file = nullptr;
    std::string destination;
    std::string part_path;
    std::string record_path;
    UniqueFd fd;

    std::mutex mutex; // guards everything below
    std::vector<ByteRange> ranges;
    size_t ranges_left = 0;
    bool restart_whole = false; // the server ignored a Range request: fetch the file again as one stream
    // A failure that dooms the whole file (4xx, disk error, a changed remote file): the other ranges stop.
    // A range that only ran out of retries leaves the others running, so that the next run has less to do.
    bool failed = false;
    std::optional<Error> error; // the file's first error, whichever kind
    Clock::time_point last_record;
};

std::string record_name(const std::string& path) {
    // Percent-encoding '/' (and '%') keeps the mapping from repo paths to flat names one-to-one.
    std::string name;
    for (char c : path) {
        if (c == '/' || c == '%') {
            name += fmt::format("%{:02X}", static_cast<unsigned char>(c));
        } else {
            name += c;
        }
    }
    return name + ".json";
}

int64_t file_size_or(const std::string& path, int64_t missing) {
    struct stat info {};
    return ::stat(path.c_str(), &info) == 0 ? static_cast<int64_t>(info.st_size) : missing;
}

Status save_record(FileJob& job, bool complete) {
    json ranges = json::array();
    for (const ByteRange& range : job.ranges) {
        ranges.push_back({range.start, range.end, range.done});
    }
    json record = {{"identity", job.file->remote.identity()},
                   {"state", complete ? "complete" : "partial"},
                   {"ranges", std::move(ranges)}};
    job.last_record = Clock::now();
    return write_file_atomically(job.record_path, record.dump());
}

struct Record {
    std::string identity;
    std::string state;
    std::vector<ByteRange> ranges;
};

std::optional<Record> load_record(const std::string& path) {
    auto text = read_small_file(path);
    if (!text.ok()) {
        return std::nullopt;
    }
    json root = json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (!root.is_object() || !root.contains("identity") || !root["identity"].is_string() || !root.contains("state") ||
        !root["state"].is_string() || !root.contains("ranges") || !root["ranges"].is_array()) {
        return std::nullopt;
    }
    Record record{root["identity"].get<std::string>(), root["state"].get<std::string>(), {}};
    for (const json& range : root["ranges"]) {
        if (!range.is_array() || range.size() != 3 || !range[0].is_number_integer() || !range[1].is_number_integer() ||
            !range[2].is_number_integer()) {
            return std::nullopt;
        }
        record.ranges.push_back({range[0].get<int64_t>(), range[1].get<int64_t>(), range[2].get<int64_t>()});
    }
    return record;
}

// Partial bytes are reusable only when they are of the same remote file and the record is self-consistent.
bool ranges_cover_file(const std::vector<ByteRange>& ranges, int64_t size) {
    int64_t expected_start = 0;
    for (const ByteRange& range : ranges) {
        if (range.start != expected_start || range.end <= range.start || range.done < 0 ||
            range.done > range.end - range.start) {
            return false;
        }
        expected_start = range.end;
    }
    return expected_start == size;
}

std::vector<ByteRange> split_ranges(int64_t size, int64_t chunk_bytes) {
    if (size < 0) {
        return {ByteRange{0, -1, 0}};
    }
    std::vector<ByteRange> ranges;
    for (int64_t start = 0; start < size; start += chunk_bytes) {
        ranges.push_back({start, std::min(size, start + chunk_bytes), 0});
    }
    return ranges;
}

Status pwrite_all(int fd, const char* data, size_t size, int64_t offset, const std::string& path) {
    while (size > 0) {
        ssize_t n = ::pwrite(fd, data, size, static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return make_error(ErrorCode::kIoError, "cannot write {}: {}", path, std::strerror(errno));
        }
        data += n;
        size -= static_cast<size_t>(n);
        offset += n;
    }
    return {};
}

// "bytes 100-199/1000" -> (100, 1000); total -1 for "*".
std::optional<std::pair<int64_t, int64_t>> parse_content_range(const std::string& value) {
    long long first = 0;
    long long last = 0;
    char total[32] = {};
    if (std::sscanf(value.c_str(), "bytes %lld-%lld/%31s", &first, &last, total) != 3) {
        return std::nullopt;
    }
    int64_t total_size = std::string(total) == "*" ? -1 : std::strtoll(total, nullptr, 10);
    return std::make_pair(static_cast<int64_t>(first), total_size);
}

class Transfer {
  public:
    Transfer(const TransferOptions& options, ProgressReporter& progress) : options_(options), progress_(progress) {}

    // Fetches one range of `job` until it is complete, has failed for good, or the job gave up on it.
    void fetch_range(HttpSession& session, FileJob& job, size_t index);
    // Called by the worker that saw the job's last range end.
    Status finish(HttpSession& session, FileJob& job);

  private:
    enum class Attempt { kDone, kRetry, kStop };
    Attempt attempt_range(HttpSession& session, FileJob& job, size_t index, HttpResponse& response);
    void fail(FileJob& job, Error error, bool stop_other_ranges = true) {
        job.failed = job.failed || stop_other_ranges;
        if (!job.error) {
            job.error = std::move(error);
        }
    }

    const TransferOptions& options_;
    ProgressReporter& progress_;
};

Transfer::Attempt Transfer::attempt_range(HttpSession& session, FileJob& job, size_t index, HttpResponse& response) {
    const RemoteFile& remote = job.file->remote;
    int64_t offset = 0;
    int64_t end = 0;
    bool whole_file = false;
    {
        std::lock_guard<std::mutex> lock(job.mutex);
        const ByteRange& range = job.ranges[index];
        offset = range.start + range.done;
        end = range.end;
        whole_file = job.ranges.size() == 1;
        if (job.failed || job.restart_whole || (end >= 0 && offset >= end)) {
            return Attempt::kDone;
        }
    }
    HttpRequest request;
    request.url = job.file->url;
    request.bearer_token = options_.bearer_token;
    request.ca_bundle = options_.ca_bundle;
    if (end >= 0) {
        request.range_start = offset;
        request.range_end = end - 1;
    }
    int64_t write_offset = offset;
    HttpBodyHandler handler;
    handler.on_response = [&](long status, const std::map<std::string, std::string>& headers) {
        std::lock_guard<std::mutex> lock(job.mutex);
        if (status == 206) {
            auto content_range = parse_content_range(headers.count("content-range") ? headers.at("content-range") : "");
            if (!content_range || content_range->first != offset) {
                fail(job, make_error(ErrorCode::kNetwork, "{}: the server answered a different byte range ({})",
                                     remote.path, content_range ? headers.at("content-range") : "none"));
                return false;
            }
            if (content_range->second >= 0 && content_range->second != remote.size) {
                fail(job, make_error(ErrorCode::kNetwork,
                                     "{}: the server has {} bytes, the file list said {}: the repository changed "
                                     "during the download; run it again",
                                     remote.path, content_range->second, remote.size));
                return false;
            }
            return true;
        }
        if (status == 200 && (whole_file || end < 0)) {
            // The whole file from its first byte, whatever was asked: start it over.
            ByteRange& range = job.ranges[index];
            progress_.discard(range.done);
            range.done = 0;
            write_offset = 0;
            return true;
        }
        if (status == 200) {
            TLLM_LOG_WARN("{}: the server ignores byte ranges; downloading it again as one stream", remote.path);
            job.restart_whole = true;
            return false;
        }
        fail(job, make_error(ErrorCode::kNetwork, "{}: unexpected HTTP {} to a download", remote.path, status));
        return false;
    };
    handler.on_data = [&](std::span<const char> data) {
        if (end >= 0 && write_offset + static_cast<int64_t>(data.size()) > end) {
            std::lock_guard<std::mutex> lock(job.mutex);
            fail(job, make_error(ErrorCode::kNetwork, "{}: the server sent more bytes than the file has", remote.path));
            return false;
        }
        Status written = pwrite_all(job.fd.get(), data.data(), data.size(), write_offset, job.part_path);
        std::lock_guard<std::mutex> lock(job.mutex);
        if (!written.ok()) {
            fail(job, written.error());
            return false;
        }
        write_offset += static_cast<int64_t>(data.size());
        // Only after the bytes are written does the record count them: a crash loses progress, never data.
        job.ranges[index].done = write_offset - job.ranges[index].start;
        progress_.add(static_cast<int64_t>(data.size()));
        if (end >= 0 && Clock::now() - job.last_record > kRecordInterval) {
            Status saved = save_record(job, /*complete=*/false);
            if (!saved.ok()) {
                fail(job, saved.error());
            }
        }
        return !job.failed && !job.restart_whole;
    };
    response = session.get(request, handler);
    std::lock_guard<std::mutex> lock(job.mutex);
    if (end >= 0) {
        Status saved = save_record(job, /*complete=*/false);
        if (!saved.ok()) {
            fail(job, saved.error());
        }
    }
    if (job.failed || job.restart_whole) {
        return Attempt::kStop;
    }
    if (response.ok()) {
        if (end < 0) {
            job.ranges[index].end = write_offset; // the size is known now that the stream has ended
            return Attempt::kDone;
        }
        if (write_offset == end) {
            return Attempt::kDone;
        }
        response.failure = HttpFailure::kTransient; // a cleanly closed but short answer
        response.message = fmt::format("the answer ended {} bytes early", end - write_offset);
    }
    return (response.retryable() || response.failure == HttpFailure::kUnreachable) ? Attempt::kRetry : Attempt::kStop;
}

void Transfer::fetch_range(HttpSession& session, FileJob& job, size_t index) {
    for (int attempt = 1;; ++attempt) {
        HttpResponse response;
        Attempt outcome = attempt_range(session, job, index, response);
        if (outcome == Attempt::kDone) {
            return;
        }
        std::unique_lock<std::mutex> lock(job.mutex);
        if (job.failed || job.restart_whole) {
            return;
        }
        if (outcome == Attempt::kStop || attempt >= options_.max_attempts ||
            job.ranges[index].end < 0 /* an unknown-size stream cannot resume */) {
            fail(job, describe_http_failure(response, "file " + job.file->remote.path, options_),
                 /*stop_other_ranges=*/outcome == Attempt::kStop);
            return;
        }
        auto delay = std::min<std::chrono::milliseconds>(options_.retry_delay * (1 << std::min(attempt - 1, 10)),
                                                         std::chrono::seconds(30));
        TLLM_LOG_WARN("{}: {}; retrying in {} ms (attempt {} of {})", job.file->remote.path, response.describe(),
                      delay.count(), attempt + 1, options_.max_attempts);
        lock.unlock();
        std::this_thread::sleep_for(delay);
    }
}

Status Transfer::finish(HttpSession& session, FileJob& job) {
    const RemoteFile& remote = job.file->remote;
    bool restart = false;
    {
        std::lock_guard<std::mutex> lock(job.mutex);
        restart = job.restart_whole && !job.error;
        if (restart) {
            int64_t discarded = 0;
            for (const ByteRange& range : job.ranges) {
                discarded += range.done;
            }
            progress_.discard(discarded);
            job.ranges = {ByteRange{0, remote.size, 0}};
            job.restart_whole = false;
        }
    }
    if (restart) {
        fetch_range(session, job, 0);
    }
    std::lock_guard<std::mutex> lock(job.mutex);
    if (job.error) {
        return *job.error;
    }
    int64_t size = job.ranges.empty() ? 0 : job.ranges.back().end;
    if (::ftruncate(job.fd.get(), static_cast<off_t>(size)) != 0 || ::fdatasync(job.fd.get()) != 0) {
        return make_error(ErrorCode::kIoError, "cannot write {}: {}", job.part_path, std::strerror(errno));
    }
    job.fd.reset();
    if (!remote.sha256.empty()) {
        TLLM_ASSIGN_OR_RETURN(std::string actual, sha256_file(job.part_path));
        if (actual != remote.sha256) {
            ::unlink(job.part_path.c_str());
            ::unlink(job.record_path.c_str());
            return make_error(ErrorCode::kCorruptFile,
                              "{}: SHA-256 mismatch (expected {}, got {}); the bad download was deleted, run "
                              "again to fetch it anew",
                              remote.path, remote.sha256, actual);
        }
    }
    if (::rename(job.part_path.c_str(), job.destination.c_str()) != 0) {
        return make_error(ErrorCode::kIoError, "cannot rename {} to {}: {}", job.part_path, job.destination,
                          std::strerror(errno));
    }
    return save_record(job, /*complete=*/true);
}

// Sets up `job` from what an earlier run left; returns bytes already on disk, or nullopt when it is done.
Result<std::optional<int64_t>> prepare(FileJob& job, const TransferOptions& options) {
    const RemoteFile& remote = job.file->remote;
    std::optional<Record> record = load_record(job.record_path);
    bool same_file = record && record->identity == remote.identity();
    int64_t published_size = file_size_or(job.destination, -1);
    if (published_size >= 0) {
        if (same_file && record->state == "complete" && (remote.size < 0 || published_size == remote.size)) {
            return std::optional<int64_t>();
        }
        // Published before its record was written (a crash in between), or from an older revision.
        if (!remote.sha256.empty() && published_size == remote.size) {
            TLLM_ASSIGN_OR_RETURN(std::string actual, sha256_file(job.destination));
            if (actual == remote.sha256) {
                job.ranges = {ByteRange{0, remote.size, remote.size}};
                TLLM_RETURN_IF_ERROR(save_record(job, /*complete=*/true));
                return std::optional<int64_t>();
            }
        }
        ::unlink(job.destination.c_str());
    }
    int64_t on_disk = 0;
    int open_flags = O_RDWR | O_CREAT | O_CLOEXEC;
    if (same_file && record->state == "partial" && remote.size >= 0 && ranges_cover_file(record->ranges, remote.size) &&
        file_size_or(job.part_path, -1) == remote.size) {
        job.ranges = record->ranges;
        for (const ByteRange& range : job.ranges) {
            on_disk += range.done;
        }
        if (on_disk > 0) {
            TLLM_LOG_INFO("{}: resuming with {} of {} on disk", remote.path, format_bytes(static_cast<double>(on_disk)),
                          format_bytes(static_cast<double>(remote.size)));
        }
    } else {
        if (record && !same_file && file_size_or(job.part_path, -1) >= 0) {
            TLLM_LOG_INFO("{}: the remote file changed since the partial download; starting it over", remote.path);
        }
        job.ranges = split_ranges(remote.size, std::max<int64_t>(options.chunk_bytes, 1));
        open_flags |= O_TRUNC;
    }
    TLLM_RETURN_IF_ERROR(make_directories(fs::path(job.part_path).parent_path().string()));
    job.fd = UniqueFd(::open(job.part_path.c_str(), open_flags, 0644));
    if (!job.fd.valid()) {
        return make_error(ErrorCode::kIoError, "cannot create {}: {}", job.part_path, std::strerror(errno));
    }
    // Full size up front (sparse), so that ranges can land at their offsets in any order.
    if (remote.size > 0 && ::ftruncate(job.fd.get(), static_cast<off_t>(remote.size)) != 0) {
        return make_error(ErrorCode::kIoError, "cannot size {}: {}", job.part_path, std::strerror(errno));
    }
    job.ranges_left = job.ranges.size();
    if (remote.size >= 0) {
        TLLM_RETURN_IF_ERROR(save_record(job, /*complete=*/false));
    }
    return std::optional<int64_t>(on_disk);
}

} // namespace

Error describe_http_failure(const HttpResponse& response, const std::string& what, const TransferOptions& options) {
    if (response.failure == HttpFailure::kUnreachable) {
        return make_error(ErrorCode::kNetwork, "cannot reach {} ({}) for {}: {}", response.host, response.message, what,
                          options.unreachable_hint);
    }
    if (response.failure == HttpFailure::kHttpStatus && (response.status == 401 || response.status == 403)) {
        return make_error(ErrorCode::kNetwork, "{}: access denied (HTTP {} from {}): {}", what, response.status,
                          response.host, options.auth_hint);
    }
    if (response.failure == HttpFailure::kHttpStatus && response.status == 404) {
        return make_error(ErrorCode::kNotFound,
                          "{}: not found (HTTP 404 from {}): check the repository id, revision "
                          "and file name",
                          what, response.host);
    }
    return make_error(ErrorCode::kNetwork, "{}: {}", what, response.describe());
}

Status transfer_files(const std::vector<TransferFile>& files,
                      const std::string& snapshot_dir,
                      const std::string& state_dir,
                      const TransferOptions& options) {
    TLLM_RETURN_IF_ERROR(make_directories(snapshot_dir));
    TLLM_RETURN_IF_ERROR(make_directories(state_dir));
    std::vector<std::unique_ptr<FileJob>> jobs;
    int64_t total = 0;
    int64_t on_disk = 0;
    for (const TransferFile& file : files) {
        auto job = std::make_unique<FileJob>();
        job->file = &file;
        job->destination = (fs::path(snapshot_dir) / file.remote.path).string();
        job->part_path = job->destination + ".part";
        job->record_path = (fs::path(state_dir) / record_name(file.remote.path)).string();
        TLLM_ASSIGN_OR_RETURN(std::optional<int64_t> present, prepare(*job, options));
        total += std::max<int64_t>(file.remote.size, 0);
        if (!present) {
            on_disk += std::max<int64_t>(file.remote.size, 0);
            continue;
        }
        on_disk += *present;
        jobs.push_back(std::move(job));
    }
    if (jobs.empty()) {
        return {};
    }
    std::vector<std::pair<FileJob*, size_t>> tasks;
    std::vector<FileJob*> empty_files;
    for (auto& job : jobs) {
        for (size_t index = 0; index < job->ranges.size(); ++index) {
            tasks.emplace_back(job.get(), index);
        }
        if (job->ranges.empty()) {
            empty_files.push_back(job.get());
        }
    }
    ProgressReporter progress(options.label, total, on_disk, options.progress);
    Transfer transfer(options, progress);
    std::atomic<size_t> next_task{0};
    std::mutex errors_mutex;
    std::vector<Error> errors;
    auto record_error = [&](Status status) {
        if (!status.ok()) {
            std::lock_guard<std::mutex> lock(errors_mutex);
            errors.push_back(status.error());
        }
    };
    auto worker = [&] {
        HttpSession session;
        for (size_t task = next_task++; task < tasks.size(); task = next_task++) {
            auto [job, index] = tasks[task];
            transfer.fetch_range(session, *job, index);
            bool last = false;
            {
                std::lock_guard<std::mutex> lock(job->mutex);
                last = --job->ranges_left == 0;
            }
            if (last) {
                record_error(transfer.finish(session, *job));
            }
        }
    };
    {
        HttpSession session;
        for (FileJob* job : empty_files) {
            record_error(transfer.finish(session, *job));
        }
    }
    int thread_count = static_cast<int>(std::min<size_t>(std::max(options.connections, 1), tasks.size()));
    std::vector<std::thread> threads;
    for (int i = 0; i < thread_count; ++i) {
        threads.emplace_back(worker);
    }
    for (std::thread& thread : threads) {
        thread.join();
    }
    if (errors.empty()) {
        return {};
    }
    for (size_t i = 1; i < errors.size(); ++i) {
        TLLM_LOG_ERROR("{}", errors[i].message());
    }
    if (errors.size() == 1) {
        return errors.front();
    }
    return errors.front().with_context(fmt::format("{} files failed; first", errors.size()));
}

} // namespace tllm::hub
