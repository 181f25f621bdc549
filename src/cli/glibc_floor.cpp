// Portable builds only (TLLM_STATIC_RUNTIME): keeps the glibc that the release binary needs at 2.34 (Ubuntu 22.04,
// RHEL 9). The static libstdc++ of GCC 12 calls arc4random, new in glibc 2.36, from std::random_device; the link
// wraps that call (-Wl,--wrap=arc4random) to this definition on getrandom(2), which glibc has had since 2.25.
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <sys/random.h>

extern "C" uint32_t __wrap_arc4random(void) {
    uint32_t value = 0;
    size_t filled = 0;
    while (filled < sizeof value) {
        const ssize_t got = ::getrandom(reinterpret_cast<char*>(&value) + filled, sizeof value - filled, 0);
        if (got > 0) {
            filled += static_cast<size_t>(got);
        } else if (got < 0 && errno != EINTR) {
            // As glibc's own arc4random does when the kernel has no entropy source to offer.
            std::abort();
        }
    }
    return value;
}
