// Where `tritonllm serve` keeps the responses it was asked to store (`store`, true unless a request says false):
// each with its Response object, its request's input items and the conversation a later request continues from
// (previous_response_id). Two kinds: one in memory, bounded, for the life of the process; one in an SQLite file
// (`--store PATH`), which outlives restarts. Both are safe to use from many handler threads.
#pragma once

#include "core/result.h"

#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

struct sqlite3;

namespace tllm::server {

struct StoredResponse {
    std::string id;
    nlohmann::ordered_json response;     // the Response object, as GET /v1/responses/{id} returns it
    nlohmann::ordered_json input_items;  // the request's input, as items
    nlohmann::ordered_json conversation; // every item up to and including the output: what a later request renders
};

class ResponseStore {
  public:
    virtual ~ResponseStore() = default;
    virtual Status put(const StoredResponse& response) = 0;
    // nullopt when no response has the id (never stored, deleted, or dropped by a bounded store).
    virtual Result<std::optional<StoredResponse>> get(const std::string& id) = 0;
    // False when no response has the id.
    virtual Result<bool> remove(const std::string& id) = 0;
};

// The newest `capacity` responses, in memory.
class MemoryResponseStore : public ResponseStore {
  public:
    explicit MemoryResponseStore(size_t capacity = 1024) : capacity_(capacity) {}
    Status put(const StoredResponse& response) override;
    Result<std::optional<StoredResponse>> get(const std::string& id) override;
    Result<bool> remove(const std::string& id) override;

  private:
    size_t capacity_;
    std::mutex mutex_;
    std::map<std::string, StoredResponse> responses_;
    std::deque<std::string> order_; // ids, oldest first (may hold removed ones)
};

// One SQLite database file; created with its table when missing.
class SqliteResponseStore : public ResponseStore {
  public:
    static Result<std::unique_ptr<SqliteResponseStore>> open(const std::string& path);
    ~SqliteResponseStore() override;
    SqliteResponseStore(const SqliteResponseStore&) = delete;
    SqliteResponseStore& operator=(const SqliteResponseStore&) = delete;

    Status put(const StoredResponse& response) override;
    Result<std::optional<StoredResponse>> get(const std::string& id) override;
    Result<bool> remove(const std::string& id) override;

  private:
    SqliteResponseStore(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
    Error failure(const char* what) const; // the database's last error, as kIoError

    std::mutex mutex_; // one connection, used by one thread at a time
    sqlite3* db_;
    std::string path_;
};

} // namespace tllm::server
