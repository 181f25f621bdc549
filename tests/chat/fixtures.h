// Shared helpers for the chat tests: the tokenizer and the official Harmony fixtures.
#pragma once

#include "../common/test_data.h"
#include "core/check.h"
#include "tokenizer/tokenizer.h"

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tllm::testing {

inline const Tokenizer& harmony_tokenizer() {
    static const Tokenizer instance = [] {
        auto loaded = Tokenizer::o200k_harmony();
        TLLM_CHECK(loaded.ok(), "{}", loaded.error().to_string());
        return std::move(loaded).value();
    }();
    return instance;
}

struct Fixture {
    std::string text;
    std::vector<TokenId> ids;
};

// The fixture "test-data/<name>" from tests/data/harmony/harmony-official.json (OpenAI's harmony test files).
inline Fixture official_fixture(const std::string& name) {
    static const nlohmann::json fixtures =
        nlohmann::json::parse(read_test_data("harmony/harmony-official.json")).at("fixtures");
    for (const auto& fixture : fixtures) {
        if (fixture.at("name") == "test-data/" + name) {
            return {fixture.at("text").get<std::string>(), fixture.at("ids").get<std::vector<TokenId>>()};
        }
    }
    TLLM_CHECK(false, "no fixture {}", name);
    return {};
}

inline std::vector<TokenId> encode_special(const std::string& text) {
    auto ids = harmony_tokenizer().encode_with_special(text);
    TLLM_CHECK(ids.ok(), "{}", ids.error().to_string());
    return *ids;
}

inline std::vector<TokenId> encode_ordinary(const std::string& text) {
    auto ids = harmony_tokenizer().encode_ordinary(text);
    TLLM_CHECK(ids.ok(), "{}", ids.error().to_string());
    return *ids;
}

} // namespace tllm::testing
