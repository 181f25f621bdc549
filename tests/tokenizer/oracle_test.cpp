// Differential test against OpenAI's Rust tiktoken core (npm `tiktoken`, WASM): scripts/tokenizer/oracle.mjs
// generates >= 12,000 strings (every script, emoji sequences, whitespace runs with U+0085/U+2028/U+FEFF,
// digits, contractions, code, random code points) plus strings with Harmony special tokens, encodes them with
// tiktoken, and this test requires identical ids and decode(encode(x)) == x for every one.
// Needs node and scripts/tokenizer/node_modules (scripts/install-deps.sh installs them).
#include "core/buffer.h"
#include "core/check.h"
#include "tokenizer/tokenizer.h"

#include <cstdlib>
#include <filesystem>
#include <gtest/gtest.h>
#include <map>
#include <nlohmann/json.hpp>
#include <unistd.h>

namespace tllm {
namespace {

// Splits ids at token 198 ("\n"), which ends every line of a code_points case.
std::vector<std::vector<TokenId>> split_lines(const std::vector<TokenId>& ids) {
    std::vector<std::vector<TokenId>> lines(1);
    for (TokenId id : ids) {
        if (id == 198) {
            lines.emplace_back();
        } else {
            lines.back().push_back(id);
        }
    }
    return lines;
}

std::string escape(std::string_view text) {
    if (text.size() > 400) {
        text = text.substr(0, 400);
    }
    std::string out;
    for (unsigned char c : text) {
        if (c < 0x20 || c == 0x7f) {
            out += fmt::format("\\x{:02x}", c);
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

TEST(Oracle, MatchesTiktokenOnGeneratedStrings) {
    std::string source = TLLM_SOURCE_DIR;
    ASSERT_TRUE(std::filesystem::exists(source + "/scripts/tokenizer/node_modules/tiktoken/package.json"))
        << "npm tiktoken is missing: run scripts/install-deps.sh";
    std::string out = (std::filesystem::temp_directory_path() / fmt::format("tllm_oracle_{}.jsonl", getpid())).string();
    std::string command = fmt::format("node '{}/scripts/tokenizer/oracle.mjs' cases --count 12000 --seed 20240806 "
                                      "--out '{}'",
                                      source, out);
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
    auto text = read_text_file(out);
    std::filesystem::remove(out);
    ASSERT_TRUE(text.ok()) << text.error().to_string();

    auto loaded = Tokenizer::o200k_harmony();
    ASSERT_TRUE(loaded.ok()) << loaded.error().to_string();
    const Tokenizer& tokenizer = *loaded;

    std::map<std::string, int> per_kind;
    int n_cases = 0;
    int n_special = 0;
    int n_mismatch = 0;
    size_t position = 0;
    while (position < text->size()) {
        size_t newline = text->find('\n', position);
        std::string line = text->substr(position, newline - position);
        position = newline == std::string::npos ? text->size() : newline + 1;
        if (line.empty()) {
            continue;
        }
        auto item = nlohmann::json::parse(line);
        std::string input = item.at("text");
        auto expected = item.at("ids").get<std::vector<TokenId>>();
        bool special = item.at("special");
        auto ids = special ? tokenizer.encode_with_special(input) : tokenizer.encode_ordinary(input);
        ASSERT_TRUE(ids.ok()) << ids.error().to_string();
        ++n_cases;
        n_special += special;
        ++per_kind[item.at("kind").get<std::string>()];
        if (*ids != expected && item.at("kind") == "code_points") {
            // Report the differing code points (line k of the case holds one code point).
            auto ours = split_lines(*ids);
            auto theirs = split_lines(expected);
            std::vector<std::string> lines;
            for (size_t at = 0, next; (next = input.find('\n', at)) != std::string::npos; at = next + 1) {
                lines.push_back(input.substr(at, next - at));
            }
            for (size_t k = 0; k < lines.size() && k < ours.size() && k < theirs.size(); ++k) {
                if (ours[k] != theirs[k] && ++n_mismatch <= 40) {
                    ADD_FAILURE() << "code point line \"" << escape(lines[k]) << "\": tiktoken "
                                  << fmt::format("{}", fmt::join(theirs[k], " ")) << " ours "
                                  << fmt::format("{}", fmt::join(ours[k], " "));
                }
            }
            n_mismatch += ours.size() != theirs.size();
        } else if (*ids != expected) {
            if (++n_mismatch <= 20) {
                ADD_FAILURE() << "kind " << item.at("kind") << " text \"" << escape(input) << "\"\n  tiktoken "
                              << fmt::format("{}", fmt::join(expected, " ")) << "\n  ours     "
                              << fmt::format("{}", fmt::join(*ids, " "));
            }
        }
        auto decoded = tokenizer.decode(*ids);
        ASSERT_TRUE(decoded.ok());
        // Id 200018 has two names and decodes to the first, <|endofprompt|>.
        std::string canonical = input;
        for (size_t at; (at = canonical.find("<|reserved_200018|>")) != std::string::npos;) {
            canonical.replace(at, 19, "<|endofprompt|>");
        }
        EXPECT_EQ(*decoded, canonical) << "round trip of \"" << escape(input) << "\"";
    }
    std::string kinds;
    for (const auto& [kind, count] : per_kind) {
        kinds += fmt::format(" {}={}", kind, count);
    }
    std::fprintf(stderr, "oracle: %d cases (%d with special tokens), %d mismatches;%s\n", n_cases, n_special,
                 n_mismatch, kinds.c_str());
    EXPECT_GE(n_cases - n_special, 10000);
    EXPECT_EQ(n_mismatch, 0);
}

} // namespace
} // namespace tllm
