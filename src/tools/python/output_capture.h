// What the sandbox wrote, kept within a size cap: the start and the end of it, since a traceback or the
// answer printed last matters as much as the first lines.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tllm::tools::sandbox {

class OutputCapture {
  public:
    // Keeps at most `max_kept_bytes` (> 0): half from the start, half from the end.
    explicit OutputCapture(size_t max_kept_bytes);

    void append(std::string_view bytes);
    uint64_t total_bytes() const { return total_bytes_; }
    bool truncated() const { return total_bytes_ > max_kept_bytes_; }

    // The kept text as valid UTF-8 (each invalid byte becomes U+FFFD; a character cut by the cap is dropped),
    // with a line "[... N bytes omitted ...]" where the middle was left out.
    std::string text() const;

  private:
    size_t max_kept_bytes_;
    size_t head_capacity_;
    size_t tail_capacity_;
    uint64_t total_bytes_ = 0;
    std::string head_;
    std::string tail_; // grows to twice tail_capacity_ before its front is dropped
};

// `bytes` with each byte that does not belong to a well-formed UTF-8 sequence replaced by U+FFFD.
std::string valid_utf8(std::string_view bytes);

} // namespace tllm::tools::sandbox
