#include "server/response_store.h"

#include <fmt/format.h>
#include <sqlite3.h>

namespace tllm::server {
namespace {

using Json = nlohmann::ordered_json;

// Finalizes a prepared statement when it goes out of scope.
struct Statement {
    sqlite3_stmt* handle = nullptr;
    ~Statement() { sqlite3_finalize(handle); }
};

std::string column_text(sqlite3_stmt* statement, int column) {
    const unsigned char* text = sqlite3_column_text(statement, column);
    return text == nullptr ? std::string()
                           : std::string(reinterpret_cast<const char*>(text),
                                         static_cast<size_t>(sqlite3_column_bytes(statement, column)));
}

} // namespace

Status MemoryResponseStore::put(const StoredResponse& response) {
    std::lock_guard lock(mutex_);
    if (responses_.insert_or_assign(response.id, response).second) {
        order_.push_back(response.id);
    }
    while (responses_.size() > capacity_ && !order_.empty()) {
        responses_.erase(order_.front());
        order_.pop_front();
    }
    if (order_.size() > 2 * capacity_ + 16) { // ids of removed responses: drop them now and then
        std::deque<std::string> kept;
        for (std::string& id : order_) {
            if (responses_.count(id)) {
                kept.push_back(std::move(id));
            }
        }
        order_.swap(kept);
    }
    return {};
}

Result<std::optional<StoredResponse>> MemoryResponseStore::get(const std::string& id) {
    std::lock_guard lock(mutex_);
    auto it = responses_.find(id);
    return it == responses_.end() ? std::optional<StoredResponse>() : std::optional<StoredResponse>(it->second);
}

Result<bool> MemoryResponseStore::remove(const std::string& id) {
    std::lock_guard lock(mutex_);
    return responses_.erase(id) > 0;
}

Result<std::unique_ptr<SqliteResponseStore>> SqliteResponseStore::open(const std::string& path) {
    sqlite3* db = nullptr;
    const int opened =
        sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    std::unique_ptr<SqliteResponseStore> store(new SqliteResponseStore(db, path));
    if (opened != SQLITE_OK) {
        return store->failure("cannot open");
    }
    // WAL lets a reader of one response run beside the writer of another; a busy database is waited for.
    sqlite3_busy_timeout(db, 5000);
    const char* schema = "PRAGMA journal_mode=WAL;"
                         "CREATE TABLE IF NOT EXISTS responses ("
                         "  id TEXT PRIMARY KEY,"
                         "  created_at INTEGER NOT NULL,"
                         "  response TEXT NOT NULL,"
                         "  input_items TEXT NOT NULL,"
                         "  conversation TEXT NOT NULL);";
    if (sqlite3_exec(db, schema, nullptr, nullptr, nullptr) != SQLITE_OK) {
        return store->failure("cannot set up");
    }
    return store;
}

SqliteResponseStore::~SqliteResponseStore() { sqlite3_close(db_); }

Error SqliteResponseStore::failure(const char* what) const {
    return Error(ErrorCode::kIoError, fmt::format("response store {}: {} ({})", path_, what,
                                                  db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory"));
}

Status SqliteResponseStore::put(const StoredResponse& response) {
    std::lock_guard lock(mutex_);
    Statement statement;
    if (sqlite3_prepare_v2(db_,
                           "INSERT OR REPLACE INTO responses (id, created_at, response, input_items, conversation) "
                           "VALUES (?, ?, ?, ?, ?)",
                           -1, &statement.handle, nullptr) != SQLITE_OK) {
        return failure("cannot prepare a write");
    }
    const std::string texts[] = {response.id, response.response.dump(), response.input_items.dump(),
                                 response.conversation.dump()};
    sqlite3_bind_text(statement.handle, 1, texts[0].data(), static_cast<int>(texts[0].size()), SQLITE_STATIC);
    sqlite3_bind_int64(statement.handle, 2, response.response.value("created_at", int64_t{0}));
    for (int i = 1; i < 4; ++i) {
        sqlite3_bind_text(statement.handle, i + 2, texts[i].data(), static_cast<int>(texts[i].size()), SQLITE_STATIC);
    }
    if (sqlite3_step(statement.handle) != SQLITE_DONE) {
        return failure("cannot write a response");
    }
    return {};
}

Result<std::optional<StoredResponse>> SqliteResponseStore::get(const std::string& id) {
    std::lock_guard lock(mutex_);
    Statement statement;
    if (sqlite3_prepare_v2(db_, "SELECT response, input_items, conversation FROM responses WHERE id = ?", -1,
                           &statement.handle, nullptr) != SQLITE_OK) {
        return failure("cannot prepare a read");
    }
    sqlite3_bind_text(statement.handle, 1, id.data(), static_cast<int>(id.size()), SQLITE_STATIC);
    const int step = sqlite3_step(statement.handle);
    if (step == SQLITE_DONE) {
        return std::optional<StoredResponse>();
    }
    if (step != SQLITE_ROW) {
        return failure("cannot read a response");
    }
    StoredResponse out;
    out.id = id;
    Json* fields[] = {&out.response, &out.input_items, &out.conversation};
    for (int i = 0; i < 3; ++i) {
        *fields[i] = Json::parse(column_text(statement.handle, i), nullptr, false);
        if (fields[i]->is_discarded()) {
            return Error(ErrorCode::kCorruptFile, fmt::format("response store {}: {} holds bad JSON", path_, id));
        }
    }
    return std::optional<StoredResponse>(std::move(out));
}

Result<bool> SqliteResponseStore::remove(const std::string& id) {
    std::lock_guard lock(mutex_);
    Statement statement;
    if (sqlite3_prepare_v2(db_, "DELETE FROM responses WHERE id = ?", -1, &statement.handle, nullptr) != SQLITE_OK) {
        return failure("cannot prepare a delete");
    }
    sqlite3_bind_text(statement.handle, 1, id.data(), static_cast<int>(id.size()), SQLITE_STATIC);
    if (sqlite3_step(statement.handle) != SQLITE_DONE) {
        return failure("cannot delete a response");
    }
    return sqlite3_changes(db_) > 0;
}

} // namespace tllm::server
