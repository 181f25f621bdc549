// A 128-bit non-cryptographic hash for cache keys (e.g. the NVRTC kernel cache): two 64-bit FNV-1a style
// lanes with different primes, finalised with splitmix64's mixer. Not for adversarial input.
#pragma once

#include <cstdint>
#include <fmt/format.h>
#include <span>
#include <string>
#include <string_view>

namespace tllm {

struct Hash128 {
    uint64_t high = 0;
    uint64_t low = 0;
    // 32 lowercase hex digits.
    std::string hex() const { return fmt::format("{:016x}{:016x}", high, low); }
    bool operator==(const Hash128&) const = default;
};

class Hasher128 {
  public:
    Hasher128& add_bytes(std::span<const uint8_t> bytes) {
        for (uint8_t byte : bytes) {
            a_ = (a_ ^ byte) * 0x00000100000001b3ull;
            b_ = (b_ ^ byte) * 0xff51afd7ed558ccdull;
        }
        length_ += bytes.size();
        return *this;
    }
    Hasher128& add(uint64_t value) {
        uint8_t bytes[8];
        for (int i = 0; i < 8; ++i) {
            bytes[i] = static_cast<uint8_t>(value >> (8 * i));
        }
        return add_bytes(bytes);
    }
    // Length first, so that ("ab", "c") and ("a", "bc") hash differently.
    Hasher128& add(std::string_view text) {
        add(static_cast<uint64_t>(text.size()));
        return add_bytes({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
    }
    Hash128 finish() const {
        const uint64_t high = mix(a_ ^ mix(length_));
        return Hash128{high, mix(b_ + high)};
    }

  private:
    static uint64_t mix(uint64_t z) {
        z += 0x9e3779b97f4a7c15ull;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    uint64_t a_ = 0xcbf29ce484222325ull;
    uint64_t b_ = 0x84222325cbf29ce4ull;
    uint64_t length_ = 0;
};

} // namespace tllm
