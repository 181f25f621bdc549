// The response stores: the bounded one in memory forgets its oldest responses, the SQLite one keeps them in its
// file for the next process to read.
#include "../common/temp_dir.h"
#include "server/response_store.h"

#include <gtest/gtest.h>

namespace tllm::server {
namespace {

StoredResponse stored(const std::string& id) {
    return StoredResponse{id,
                          {{"id", id}, {"object", "response"}, {"created_at", 7}},
                          {{{"type", "message"}, {"role", "user"}, {"content", "Hi " + id}}},
                          {{{"type", "message"}, {"role", "user"}, {"content", "Hi " + id}},
                           {{"type", "message"}, {"role", "assistant"}, {"content", "Hello"}}}};
}

void expect_same(const std::optional<StoredResponse>& got, const StoredResponse& want) {
    ASSERT_TRUE(got.has_value()) << want.id;
    EXPECT_EQ(got->id, want.id);
    EXPECT_EQ(got->response, want.response);
    EXPECT_EQ(got->input_items, want.input_items);
    EXPECT_EQ(got->conversation, want.conversation);
}

TEST(ResponseStore, MemoryKeepsTheNewestAndForgetsTheRest) {
    MemoryResponseStore store(2);
    for (const char* id : {"resp_1", "resp_2", "resp_3"}) {
        ASSERT_TRUE(store.put(stored(id)).ok());
    }
    EXPECT_FALSE(store.get("resp_1")->has_value()); // the oldest went first
    expect_same(*store.get("resp_3"), stored("resp_3"));
    EXPECT_TRUE(*store.remove("resp_2"));
    EXPECT_FALSE(*store.remove("resp_2"));
    EXPECT_FALSE(store.get("resp_2")->has_value());
    // A removed response frees its place.
    ASSERT_TRUE(store.put(stored("resp_4")).ok());
    EXPECT_TRUE(store.get("resp_3")->has_value());
    EXPECT_TRUE(store.get("resp_4")->has_value());
}

TEST(ResponseStore, SqliteOutlivesItsProcess) {
    testing::TempDir dir;
    const std::string path = dir / "responses.db";
    {
        auto store = SqliteResponseStore::open(path);
        ASSERT_TRUE(store.ok()) << store.error().to_string();
        ASSERT_TRUE((*store)->put(stored("resp_a")).ok());
        ASSERT_TRUE((*store)->put(stored("resp_b")).ok());
        EXPECT_TRUE(*(*store)->remove("resp_b"));
    }
    auto reopened = SqliteResponseStore::open(path);
    ASSERT_TRUE(reopened.ok()) << reopened.error().to_string();
    expect_same(*(*reopened)->get("resp_a"), stored("resp_a"));
    EXPECT_FALSE((*reopened)->get("resp_b")->has_value());
    EXPECT_FALSE(*(*reopened)->remove("resp_b"));
    // Storing an id again replaces it.
    StoredResponse changed = stored("resp_a");
    changed.response["status"] = "completed";
    ASSERT_TRUE((*reopened)->put(changed).ok());
    expect_same(*(*reopened)->get("resp_a"), changed);

    auto nowhere = SqliteResponseStore::open(dir / "missing/responses.db");
    ASSERT_FALSE(nowhere.ok());
    EXPECT_EQ(nowhere.error().code(), ErrorCode::kIoError);
    EXPECT_NE(nowhere.error().message().find("missing"), std::string::npos) << nowhere.error().message();
}

} // namespace
} // namespace tllm::server
