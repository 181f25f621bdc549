// The streaming Harmony parser on the official parser fixtures, harmony's inline parser cases, and the
// malformed cases of docs/harmony-tokenizer.md §2.9 (where it must degrade, never fail).
#include "chat/parser.h"
#include "fixtures.h"

#include <gtest/gtest.h>

namespace tllm {
namespace {

using testing::encode_special;
using testing::harmony_tokenizer;
using testing::official_fixture;

struct Parsed {
    std::vector<ParsedMessage> messages;
    std::vector<ParserEvent> events;
};

Parsed parse(const std::vector<TokenId>& tokens, std::optional<Role> role) {
    HarmonyStreamParser parser(harmony_tokenizer(), role);
    Parsed result;
    for (TokenId token : tokens) {
        parser.push(token, result.events);
    }
    parser.finish(result.events);
    result.messages = parser.messages();
    return result;
}

size_t count(const Parsed& parsed, ParserEventType type) {
    size_t n = 0;
    for (const ParserEvent& event : parsed.events) {
        n += event.type == type;
    }
    return n;
}

void expect_message(const ParsedMessage& message,
                    Role role,
                    std::optional<std::string> channel,
                    std::optional<std::string> recipient,
                    std::optional<std::string> content_type,
                    const std::string& text) {
    EXPECT_EQ(message.role, role);
    EXPECT_EQ(message.channel, channel);
    EXPECT_EQ(message.recipient, recipient);
    EXPECT_EQ(message.content_type, content_type);
    EXPECT_EQ(message.text, text);
    EXPECT_FALSE(message.degraded);
}

TEST(HarmonyParser, SimpleReasoningResponse) {
    Parsed parsed = parse(official_fixture("test_simple_reasoning_response.txt").ids, Role::kAssistant);
    ASSERT_EQ(parsed.messages.size(), 2u);
    expect_message(parsed.messages[0], Role::kAssistant, "analysis", std::nullopt, std::nullopt,
                   "User asks: \"What is 2 + 2?\" Simple arithmetic. Provide answer.");
    EXPECT_EQ(parsed.messages[0].end_token, kTokenReturn);
    expect_message(parsed.messages[1], Role::kAssistant, "final", std::nullopt, std::nullopt, "2 + 2 = 4.");
    EXPECT_EQ(count(parsed, ParserEventType::kWarning), 0u);
    EXPECT_EQ(count(parsed, ParserEventType::kToolCall), 0u);
}

TEST(HarmonyParser, SimpleToolCall) {
    Parsed parsed = parse(official_fixture("test_simple_tool_call.txt").ids, Role::kAssistant);
    ASSERT_EQ(parsed.messages.size(), 2u);
    expect_message(parsed.messages[0], Role::kAssistant, "analysis", std::nullopt, std::nullopt,
                   "User asks: \"What is the weather in Tokyo?\" We need to use lookup_weather tool.");
    expect_message(parsed.messages[1], Role::kAssistant, "analysis", "lookup_weather", "code",
                   "{\"location\": \"Tokyo\"}");
    // The stream ended (no <|call|>), but the message has a recipient: a tool call.
    ASSERT_EQ(count(parsed, ParserEventType::kToolCall), 1u);
    EXPECT_EQ(parsed.events.back().type, ParserEventType::kToolCall);
    EXPECT_EQ(parsed.events.back().message.recipient, "lookup_weather");
}

TEST(HarmonyParser, StreamableParserFixture) {
    Parsed parsed = parse(official_fixture("test_streamable_parser.txt").ids, Role::kAssistant);
    ASSERT_EQ(parsed.messages.size(), 3u);
    EXPECT_EQ(parsed.messages[0].channel, "analysis");
    expect_message(parsed.messages[1], Role::kAssistant, "commentary", "browser.search", "code",
                   "{\"query\": \"current US president July 2025\", \"topn\": 10, \"source\": \"news\"}");
    EXPECT_EQ(parsed.messages[1].end_token, kTokenCall);
    expect_message(parsed.messages[2], Role::kTool, "commentary", "assistant", std::nullopt,
                   "{\"result\": \"https://openai.com/\"}");
    EXPECT_EQ(parsed.messages[2].name, "browser.search");
    EXPECT_EQ(count(parsed, ParserEventType::kToolCall), 1u);
}

TEST(HarmonyParser, ToolResponseWithoutInitialRole) {
    testing::Fixture fixture = official_fixture("test_tool_response_parsing.txt");
    EXPECT_EQ(encode_special(fixture.text), fixture.ids);
    Parsed parsed = parse(fixture.ids, std::nullopt);
    ASSERT_EQ(parsed.messages.size(), 1u);
    expect_message(parsed.messages[0], Role::kTool, "commentary", "assistant", std::nullopt,
                   "{\"result\": \"https://openai.com/\"}");
    EXPECT_EQ(parsed.messages[0].name, "browser.search");
}

TEST(HarmonyParser, ConstrainMarkerPlacements) {
    for (const char* text :
         {"<|start|>assistant<|channel|>commentary "
          "to=functions.get_weather<|constrain|>json<|message|>{\"a\":1}<|call|>",
          "<|start|>assistant "
          "to=functions.get_weather<|channel|>commentary<|constrain|>json<|message|>{\"a\":1}<|call|>",
          "<|start|>assistant to=functions.get_weather<|channel|>commentary "
          "<|constrain|>json<|message|>{\"a\":1}<|call|>"}) {
        Parsed parsed = parse(encode_special(text), std::nullopt);
        ASSERT_EQ(parsed.messages.size(), 1u) << text;
        expect_message(parsed.messages[0], Role::kAssistant, "commentary", "functions.get_weather", "<|constrain|>json",
                       "{\"a\":1}");
        EXPECT_EQ(count(parsed, ParserEventType::kToolCall), 1u);
    }
}

TEST(HarmonyParser, EventsInOrderWithUtf8HeldBack) {
    // 💖 (F0 9F 92 96) is split across tokens: no delta may carry half of it.
    std::vector<TokenId> tokens = encode_special("<|channel|>final<|message|>");
    std::vector<TokenId> heart = testing::encode_ordinary("a\xF0\x9F\x92\x96");
    ASSERT_GE(heart.size(), 2u);
    tokens.insert(tokens.end(), heart.begin(), heart.end());
    tokens.push_back(kTokenReturn);
    Parsed parsed = parse(tokens, Role::kAssistant);
    ASSERT_EQ(parsed.events.front().type, ParserEventType::kMessageStart);
    EXPECT_EQ(parsed.events.front().message.channel, "final");
    std::string streamed;
    for (const ParserEvent& event : parsed.events) {
        if (event.type == ParserEventType::kTextDelta) {
            EXPECT_EQ(utf8_lossy(event.text), event.text); // each delta is valid UTF-8 on its own
            streamed += event.text;
        }
    }
    EXPECT_EQ(streamed, "a\xF0\x9F\x92\x96");
    EXPECT_EQ(parsed.events.back().type, ParserEventType::kMessageEnd);
    EXPECT_EQ(parsed.events.back().message.end_token, kTokenReturn);
}

TEST(HarmonyParser, InvalidUtf8BecomesReplacementAndDoesNotLeak) {
    // Token 9552 is " \xF0\x9F": twice, then "worked".
    std::vector<TokenId> tokens = encode_special("<|start|>assistant<|message|>");
    tokens.push_back(9552);
    tokens.push_back(9552);
    for (TokenId id : testing::encode_ordinary("worked")) {
        tokens.push_back(id);
    }
    tokens.push_back(kTokenEnd);
    for (TokenId id : encode_special("<|start|>assistant<|message|>")) {
        tokens.push_back(id);
    }
    tokens.push_back(9552);
    tokens.push_back(kTokenEnd);
    for (TokenId id : encode_special("<|start|>assistant<|message|>Hi<|end|>")) {
        tokens.push_back(id);
    }
    Parsed parsed = parse(tokens, std::nullopt);
    ASSERT_EQ(parsed.messages.size(), 3u);
    EXPECT_EQ(parsed.messages[0].text, " \uFFFD \uFFFDworked");
    EXPECT_EQ(parsed.messages[1].text, " \uFFFD"); // flushed at the message end
    EXPECT_EQ(parsed.messages[2].text, "Hi");      // nothing leaked from before
}

TEST(HarmonyParser, MissingMessageTokenKeepsChannel) {
    // Harmony's non-strict case: the first header ends at a stop token without <|message|>.
    Parsed parsed = parse(encode_special("<|channel|>commentary Hello<|end|>"), Role::kAssistant);
    ASSERT_EQ(parsed.messages.size(), 1u);
    EXPECT_EQ(parsed.messages[0].channel, "commentary");
    EXPECT_EQ(parsed.messages[0].text, "Hello");
    EXPECT_EQ(count(parsed, ParserEventType::kWarning), 1u);
}

TEST(HarmonyParser, MalformedOutputDegradesToText) {
    // Text where <|start|> was expected.
    Parsed no_start = parse(encode_special("<|return|>stray text"), std::nullopt);
    ASSERT_EQ(no_start.messages.size(), 1u);
    EXPECT_TRUE(no_start.messages[0].degraded);
    EXPECT_EQ(no_start.messages[0].text, "stray text");
    EXPECT_GE(count(no_start, ParserEventType::kWarning), 1u);

    // An unknown role with nothing else, and leftover header parts: plain text, never a tool call.
    Parsed bad_role = parse(encode_special("<|start|>robot<|message|>hi<|end|>"), std::nullopt);
    ASSERT_EQ(bad_role.messages.size(), 1u);
    EXPECT_TRUE(bad_role.messages[0].degraded);
    EXPECT_EQ(bad_role.messages[0].text, "robothi");
    Parsed leftovers =
        parse(encode_special("<|start|>assistant a b to=functions.x json<|message|>{}<|call|>"), std::nullopt);
    ASSERT_EQ(leftovers.messages.size(), 1u);
    EXPECT_TRUE(leftovers.messages[0].degraded);
    EXPECT_EQ(count(leftovers, ParserEventType::kToolCall), 0u);

    // Empty channel value.
    Parsed empty_channel = parse(encode_special("<|channel|><|message|>x<|end|>"), Role::kAssistant);
    ASSERT_EQ(empty_channel.messages.size(), 1u);
    EXPECT_TRUE(empty_channel.messages[0].degraded);

    // The stream ends inside a header; a later message's header is cut by a stop token.
    Parsed cut =
        parse(encode_special("<|channel|>final<|message|>ok<|end|><|start|>assistant<|channel|>fin"), Role::kAssistant);
    ASSERT_EQ(cut.messages.size(), 2u);
    EXPECT_EQ(cut.messages[0].text, "ok");
    EXPECT_TRUE(cut.messages[1].degraded);
    EXPECT_EQ(cut.messages[1].text, "assistant<|channel|>fin");

    // Out-of-vocabulary ids inside content.
    std::vector<TokenId> tokens = encode_special("<|channel|>final<|message|>a");
    tokens.push_back(999999);
    tokens.push_back(-5);
    Parsed oov = parse(tokens, Role::kAssistant);
    ASSERT_EQ(oov.messages.size(), 1u);
    EXPECT_EQ(oov.messages[0].text, "a\uFFFD\uFFFD");
    EXPECT_EQ(count(oov, ParserEventType::kWarning), 2u);
}

TEST(HarmonyParser, EndlessHeaderIsBounded) {
    std::vector<TokenId> tokens(HarmonyStreamParser::kMaxHeaderTokens + 10, 87); // "x" forever
    Parsed parsed = parse(tokens, Role::kAssistant);
    ASSERT_EQ(parsed.messages.size(), 1u);
    EXPECT_TRUE(parsed.messages[0].degraded);
    EXPECT_EQ(parsed.messages[0].text, std::string(HarmonyStreamParser::kMaxHeaderTokens + 10, 'x'));
}

TEST(HarmonyHeader, ParsesAsTheLibraryDoes) {
    auto tool = parse_harmony_header("browser.search to=assistant<|channel|>commentary", std::nullopt);
    ASSERT_TRUE(tool.ok());
    EXPECT_EQ(tool->role, Role::kTool);
    EXPECT_EQ(tool->name, "browser.search");
    EXPECT_EQ(tool->recipient, "assistant");
    auto bare = parse_harmony_header("assistant python", std::nullopt);
    ASSERT_TRUE(bare.ok());
    EXPECT_EQ(bare->recipient, "python");
    auto constrain_only = parse_harmony_header("assistant <|constrain|>json", std::nullopt);
    ASSERT_TRUE(constrain_only.ok());
    EXPECT_EQ(constrain_only->content_type, "<|constrain|>json");
    EXPECT_EQ(constrain_only->recipient, std::nullopt);
    EXPECT_FALSE(parse_harmony_header("", std::nullopt).ok());
    EXPECT_FALSE(parse_harmony_header("unknown", std::nullopt).ok());
}

} // namespace
} // namespace tllm
