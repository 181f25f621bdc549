// UTF-8 validation, lossy decoding and the streaming decoder that holds back incomplete sequences.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tllm {

// Replaces every maximal invalid subpart with U+FFFD (Unicode's "substitution of maximal subparts",
// as Rust's String::from_utf8_lossy does). Valid input comes back unchanged.
std::string utf8_lossy(std::string_view bytes);

// Number of trailing bytes of `bytes` that form an incomplete but so far valid sequence (0 to 3):
// more bytes could still complete it.
size_t utf8_incomplete_tail(std::string_view bytes);

// Turns a stream of byte chunks (decoded tokens) into valid UTF-8 text: complete characters are
// returned as soon as they arrive, an incomplete trailing sequence is held back until later bytes
// complete it, and invalid bytes become U+FFFD.
class Utf8StreamDecoder {
  public:
    // Appends `bytes` and returns the text that is now complete.
    std::string push(std::string_view bytes);
    // Returns whatever is held back, lossily (an unfinished sequence becomes U+FFFD), and resets.
    std::string flush();
    bool has_pending() const { return !pending_.empty(); }

  private:
    std::string pending_;
};

} // namespace tllm
