// libFuzzer target for the streaming Harmony parser (and the tokenizer under it). The input is read as
// a token stream: each 3-byte group picks a Harmony special token, a short text token or any id (some out
// of range), so the parser sees headers, stop tokens, split UTF-8 and garbage in every order. Checks:
// it never crashes, every text delta is valid UTF-8, and the deltas of each message add up to its text.
// Valid UTF-8 inputs also go through encode/decode, which must round-trip.
#include "chat/parser.h"
#include "harmony_tokens.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode_tables.h"
#include "tokenizer/utf8.h"

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

const tllm::Tokenizer& tokenizer() { return tllm::fuzz::harmony_tokenizer(); }
constexpr const auto& kSpecials = tllm::fuzz::kHarmonySpecials;
// "assistant", "analysis", "final", "commentary", " to=functions.f", "json", " ", "user", "tool", "x", "\xF0\x9F" ...
constexpr tllm::TokenId kTexts[] = {173781, 35644, 17196, 12606, 815,  316, 28, 44580, 4108, 220,
                                    1428,   17360, 3056,  87,    9552, 17,  16, 157,   1774, 30};

tllm::TokenId token_from(const uint8_t* p) {
    uint32_t value = (uint32_t(p[1]) << 8) | p[2];
    switch (p[0] % 4) {
    case 0:
        return kSpecials[value % std::size(kSpecials)];
    case 1:
        return kTexts[value % std::size(kTexts)];
    case 2:
        return static_cast<tllm::TokenId>((uint32_t(p[0]) << 16 | value) % 201088);
    default:
        return static_cast<tllm::TokenId>((uint32_t(p[0]) << 16 | value) % 400000) - 1000; // some invalid
    }
}

void check(bool condition) {
    if (!condition) {
        std::abort();
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const tllm::Tokenizer& tok = tokenizer();
    std::optional<tllm::Role> role;
    if (size > 0 && (data[0] & 1)) {
        role = tllm::Role::kAssistant;
    }
    tllm::HarmonyStreamParser parser(tok, role);
    std::vector<tllm::ParserEvent> events;
    for (size_t i = 1; i + 3 <= size; i += 3) {
        parser.push(token_from(data + i), events);
    }
    parser.finish(events);
    std::string streamed;
    size_t n_ends = 0;
    for (const tllm::ParserEvent& event : events) {
        if (event.type == tllm::ParserEventType::kTextDelta) {
            check(tllm::unicode::valid_utf8_prefix(event.text) == event.text.size());
            streamed += event.text;
        } else if (event.type == tllm::ParserEventType::kMessageEnd) {
            check(event.message.text == streamed);
            streamed.clear();
            ++n_ends;
        } else if (event.type == tllm::ParserEventType::kMessageStart) {
            check(streamed.empty());
        }
    }
    check(n_ends == parser.messages().size());

    std::string_view text(reinterpret_cast<const char*>(data), size);
    if (tllm::unicode::valid_utf8_prefix(text) == size) {
        auto ids = tok.encode_with_special(text);
        check(ids.ok());
        auto decoded = tok.decode(*ids);
        check(decoded.ok());
        // Id 200018 decodes to <|endofprompt|> whichever of its two names was written.
        if (text.find("<|reserved_200018|>") == std::string_view::npos) {
            check(*decoded == text);
        }
        auto header = tllm::parse_harmony_header(std::string(text), std::nullopt);
        (void)header;
    }
    return 0;
}
