// The load test of issue 14 on the tiny model over loopback: 256 concurrent streaming clients, a quarter of which
// hang up mid-stream at a random point. Every other stream ends properly, nothing fails but the hang-ups, and
// afterwards no request is open, every KV block is back in the pool (read from /metrics), the process has the
// threads it had before, and once two rounds have warmed the allocator's arenas and the handler threads' stacks, a
// round of the same load leaves the resident memory where the one before left it. Bounded: short replies, a deadline on
// every wait.
#include "server_fixture.h"

#include <algorithm>
#include <fstream>
#include <malloc.h>
#include <random>
#include <sys/time.h>

// GCC announces AddressSanitizer with __SANITIZE_ADDRESS__, clang before 17 only through __has_feature.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TLLM_HAS_ADDRESS_SANITIZER 1
#endif
#endif
#ifndef TLLM_HAS_ADDRESS_SANITIZER
#define TLLM_HAS_ADDRESS_SANITIZER 0
#endif

namespace tllm::server {
namespace {

// A field of /proc/self/status ("Threads:", "VmRSS:" in kB), or −1.
long status_field(const std::string& name) {
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);) {
        if (line.starts_with(name)) {
            return std::stol(line.substr(name.size()));
        }
    }
    return -1;
}

int thread_count() { return static_cast<int>(status_field("Threads:")); }

// One streaming client on a raw connection: sends `request`, then reads to the end, or hangs up after
// `hang_up_after` reads (0: never). Returns what it read.
std::string stream_client(int port, const Json& request, int hang_up_after) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const timeval timeout{60, 0}; // a stuck stream fails the test instead of hanging it
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
        if (fd >= 0) {
            ::close(fd);
        }
        return "connect failed";
    }
    const std::string payload = request.dump();
    const std::string head = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                             "Content-Type: application/json\r\nContent-Length: " +
                             std::to_string(payload.size()) + "\r\n\r\n" + payload;
    std::string read;
    if (::send(fd, head.data(), head.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(head.size())) {
        char buffer[4096];
        int reads = 0;
        for (ssize_t n; (n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0;) {
            read.append(buffer, static_cast<size_t>(n));
            // Hang up only once a token has come: mid-stream, not while queued.
            if (hang_up_after > 0 && read.find("\"delta\"") != std::string::npos && ++reads >= hang_up_after) {
                break;
            }
        }
    }
    ::close(fd);
    return read;
}

class LoadTest : public HttpServerTest {
  protected:
    // kClients streams at once, a quarter hanging up; then waits until the server has let go of everything.
    void run_load(int kClients, int threads_before);
};

TEST_F(LoadTest, ManyStreamsSomeHangingUpLeaveNothingBehind) {
    constexpr int kClients = 256;
    ServerOptions options = server_options();
    options.threads = kClients + 16; // a stream holds a handler thread while it is open
    BatchEngineOptions batch = batch_options();
    batch.kv_blocks = 2048;
    batch.max_running = 64;
    // Few malloc arenas, so that the 272 threads' allocations settle in two rounds rather than spreading into new
    // arenas as threads happen to collide (which looks like growth but is not a leak).
    ::mallopt(M_ARENA_MAX, 4);
    start_with(options, batch);
    const int threads_before = thread_count();
    ASSERT_GT(threads_before, 0);
    // Two rounds warm the allocator's arenas and the handler threads' stacks (measured: 91, 127, 128, 128 MB after
    // rounds 0-3); a later round may not grow past the one before it. A leak of a stream's state (its request, reply,
    // buffers: several kB each) over 256 streams would pass 16 MB in every round, while the warm-up settles: once in
    // a parallel ctest run the third round still grew 17 MB, so up to three rounds past the warm-up get the chance
    // to stay within the bound. Under AddressSanitizer, whose quarantine holds freed memory, one round and no bound.
#if defined(__SANITIZE_ADDRESS__) || TLLM_HAS_ADDRESS_SANITIZER
    constexpr int kWarmRounds = 0;
    constexpr int kMaxRounds = 1;
#else
    constexpr int kWarmRounds = 2;
    constexpr int kMaxRounds = 5;
#endif
    constexpr long kLeakBoundKb = 16 * 1024;
    long resident_before_kb = 0;
    long smallest_growth_kb = -1;
    for (int round = 0; round < kMaxRounds; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        run_load(kClients, threads_before);
        if (HasFatalFailure()) {
            return;
        }
        const long resident_kb = status_field("VmRSS:");
        ASSERT_GT(resident_kb, 0);
        std::printf("load round %d: resident %ld MB\n", round, resident_kb / 1024);
        if (round >= kWarmRounds) {
            const long growth_kb = resident_kb - resident_before_kb;
            smallest_growth_kb = smallest_growth_kb < 0 ? growth_kb : std::min(smallest_growth_kb, growth_kb);
            if (smallest_growth_kb < kLeakBoundKb) {
                break;
            }
        }
        resident_before_kb = resident_kb;
    }
    if (kWarmRounds > 0) {
        EXPECT_LT(smallest_growth_kb, kLeakBoundKb)
            << "resident memory grew by at least " << smallest_growth_kb << " kB in every round after the warm-up";
    }
}

void LoadTest::run_load(int kClients, int threads_before) {
    const auto started = std::chrono::steady_clock::now();
    const int64_t tokens_before = loop_->stats().generated_tokens;

    std::mt19937 random(14);
    std::vector<int> hang_up_after(kClients, 0);
    for (int i = 0; i < kClients; i += 4) {
        hang_up_after[static_cast<size_t>(i)] = 1 + static_cast<int>(random() % 3);
    }
    std::vector<std::string> reads(kClients);
    std::vector<std::thread> clients;
    for (int i = 0; i < kClients; ++i) {
        // Hang-ups ask for long replies, so that they are still streaming when they go.
        Json request = body(hang_up_after[static_cast<size_t>(i)] > 0 ? 400 : 6, true, static_cast<uint64_t>(i));
        clients.emplace_back([&, i, request] {
            reads[static_cast<size_t>(i)] =
                stream_client(server_->port(), request, hang_up_after[static_cast<size_t>(i)]);
        });
    }
    for (std::thread& client : clients) {
        client.join();
    }
    int completed = 0;
    for (int i = 0; i < kClients; ++i) {
        const std::string& read = reads[static_cast<size_t>(i)];
        EXPECT_TRUE(read.starts_with("HTTP/1.1 200")) << i << ": " << read.substr(0, 200);
        EXPECT_EQ(read.find("\"error\""), std::string::npos) << i << ": " << read;
        if (hang_up_after[static_cast<size_t>(i)] > 0) {
            continue;
        }
        const bool ended = read.find("\"finish_reason\":\"length\"") != std::string::npos ||
                           read.find("\"finish_reason\":\"stop\"") != std::string::npos ||
                           read.find("\"finish_reason\":\"tool_calls\"") != std::string::npos;
        EXPECT_TRUE(ended && read.find("data: [DONE]") != std::string::npos) << i << ": " << read;
        completed += ended ? 1 : 0;
    }
    EXPECT_EQ(completed, kClients - kClients / 4);

    // The server lets go of everything: requests, handlers, KV blocks, threads.
    for (int i = 0; i < 200; ++i) {
        const EngineLoopStats stats = loop_->stats();
        if (stats.open == 0 && server_->active() == 0 && stats.kv_blocks_used == 0 &&
            thread_count() == threads_before) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_EQ(loop_->stats().open, 0);
    EXPECT_EQ(server_->active(), 0);
    auto metrics = client_->Get("/metrics");
    ASSERT_TRUE(metrics && metrics->status == 200);
    for (const char* gauge :
         {"tritonllm_kv_blocks_used 0\n", "tritonllm_open_requests 0\n", "tritonllm_running_sequences 0\n",
          "tritonllm_queue_depth 0\n", "tritonllm_kv_blocks_total 2048\n"}) {
        EXPECT_NE(metrics->body.find(gauge), std::string::npos) << gauge << metrics->body;
    }
    EXPECT_EQ(thread_count(), threads_before);
    // Every hang-up was cancelled, not run to its 400 tokens.
    const int64_t tokens = loop_->stats().generated_tokens - tokens_before;
    EXPECT_LT(tokens, int64_t{kClients} * 6 + int64_t{kClients / 4} * 100);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    EXPECT_LT(seconds, 90);
    std::printf("load: %d streams (%d hung up) in %.1f s, %lld tokens\n", kClients, kClients / 4, seconds,
                static_cast<long long>(tokens));
}

} // namespace
} // namespace tllm::server
