// GPU sampling (kernels/cuda/logits_sampler.h) against the CPU sampler (runtime/sampler.h): for the same
// logits, parameters, seed and counter the tokens must be equal.
//
// Mismatch rule: both sides run the same integer and IEEE float steps (core/sampling_math.h), so the
// expected number of mismatches is zero. A mismatch is still classed as a near-tie, and tolerated up to 1% of
// the sampled rows, when the CPU sees one: the two tokens' Gumbel scores (or, for a token on one side of the
// candidate boundary, its scaled logit and the boundary's) agree to within 1e-6 relative. Greedy mismatches
// and any other mismatch fail. The test prints both counts.
#include "core/random.h"
#include "core/sampling_math.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/kernel_registry.h"
#include "kernels/cuda/logits_sampler.h"
#include "runtime/sampler.h"

#include <cmath>
#include <cstdio>
#include <gtest/gtest.h>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace tllm::cuda {
namespace {

struct Gpu {
    std::unique_ptr<CudaContext> context;
    std::unique_ptr<KernelRegistry> registry;
    Stream stream;
};

// The process's GPU, or nullptr without one (the test skips).
Gpu* gpu() {
    static Gpu* instance = []() -> Gpu* {
        Result<int> count = cuda_device_count();
        if (!count.ok() || *count == 0) {
            return nullptr;
        }
        auto* g = new Gpu();
        auto context = CudaContext::create(0);
        EXPECT_TRUE(context.ok()) << context.error().to_string();
        g->context = std::move(context).value();
        auto registry = KernelRegistry::create(*g->context, JitOptions{});
        EXPECT_TRUE(registry.ok()) << registry.error().to_string();
        g->registry = std::move(registry).value();
        auto stream = Stream::create(*g->context);
        EXPECT_TRUE(stream.ok()) << stream.error().to_string();
        g->stream = std::move(stream).value();
        return g;
    }();
    return instance;
}

#define REQUIRE_GPU()                                                                                                  \
    do {                                                                                                               \
        if (gpu() == nullptr) {                                                                                        \
            GTEST_SKIP() << "no CUDA device";                                                                          \
        }                                                                                                              \
    } while (0)

template <typename T> DeviceBuffer to_device(const std::vector<T>& values) {
    auto buffer = DeviceBuffer::allocate(*gpu()->context, values.size() * sizeof(T));
    EXPECT_TRUE(buffer.ok());
    EXPECT_TRUE(buffer->upload(values.data(), values.size() * sizeof(T)).ok());
    return std::move(buffer).value();
}

template <typename T> std::vector<T> to_host(const DeviceBuffer& buffer, size_t n) {
    EXPECT_TRUE(gpu()->stream.synchronize().ok());
    std::vector<T> out(n);
    EXPECT_TRUE(buffer.download(out.data(), n * sizeof(T)).ok());
    return out;
}

const float kInf = std::numeric_limits<float>::infinity();
const float kNaN = std::numeric_limits<float>::quiet_NaN();

// Flavour 0: gpt-oss-like logits (a normal bulk, a few large ones); 1: quantized to 0.5, so ties everywhere;
// 2: flavour 0 with NaN, -inf and -0 sprinkled in.
std::vector<float> make_logits(Rng& rng, int64_t rows, int64_t vocab, int flavour) {
    std::vector<float> logits(static_cast<size_t>(rows * vocab));
    for (float& logit : logits) {
        float normal = -6.0f;
        for (int i = 0; i < 12; ++i) {
            normal += rng.uniform();
        }
        logit = 2.5f * normal + (rng.uniform() < 0.001f ? 12.0f : 0.0f);
        if (flavour == 1) {
            logit = std::round(2.0f * logit) / 2.0f;
        } else if (flavour == 2) {
            const float u = rng.uniform();
            logit = u < 0.05f ? -kInf : (u < 0.08f ? kNaN : (u < 0.1f ? -0.0f : logit));
        }
    }
    return logits;
}

SamplingParams cpu_params(const SampleParams& p) { return {p.temperature, p.top_p, p.top_k, p.seed}; }

struct Tally {
    int rows = 0;
    int near_ties = 0;
};

// Compares one GPU token with the CPU's; returns false on a mismatch the rule does not allow.
bool same_or_near_tie(std::span<const float> row,
                      const SampleParams& params,
                      uint64_t counter,
                      int32_t gpu_token,
                      Tally& tally,
                      const std::string& what) {
    Sampler sampler(cpu_params(params));
    const int32_t cpu_token = sampler.sample(row, counter);
    ++tally.rows;
    if (gpu_token == cpu_token) {
        return true;
    }
    const bool valid = gpu_token >= 0 && static_cast<size_t>(gpu_token) < row.size();
    if (!valid || is_greedy(sampler.params())) {
        ADD_FAILURE() << what << " counter " << counter << ": gpu " << gpu_token << " cpu " << cpu_token;
        return false;
    }
    auto close = [](float a, float b) { return std::fabs(a - b) <= 1e-6f * std::max(1.0f, std::fabs(a)); };
    const float inverse = sampling::inverse_temperature(params.temperature);
    const uint32_t cut = sampler.candidate_cut(row);
    const float s_gpu = row[gpu_token] * inverse;
    const float s_cpu = row[cpu_token] * inverse;
    const float boundary = sampling::key_to_float(cut + 1);
    const uint64_t stream = sampling::draw_stream(params.seed, counter);
    bool near = close(s_gpu, boundary) || close(s_cpu, boundary);
    if (sampling::order_key(s_gpu) > cut) {
        near = near || close(sampling::gumbel_score(s_gpu, stream, static_cast<uint32_t>(gpu_token)),
                             sampling::gumbel_score(s_cpu, stream, static_cast<uint32_t>(cpu_token)));
    }
    if (!near) {
        ADD_FAILURE() << what << " counter " << counter << ": gpu " << gpu_token << " (logit " << row[gpu_token]
                      << ") cpu " << cpu_token << " (logit " << row[cpu_token] << "), no near-tie";
        return false;
    }
    ++tally.near_ties;
    return true;
}

std::string describe(const SampleParams& p, int64_t vocab, int64_t rows) {
    return "vocab " + std::to_string(vocab) + " rows " + std::to_string(rows) + " T " + std::to_string(p.temperature) +
           " k " + std::to_string(p.top_k) + " p " + std::to_string(p.top_p);
}

TEST(LogitsSamplerGpu, MatchesTheCpuSampler) {
    REQUIRE_GPU();
    Rng rng(31);
    Tally tally;
    int config = 0;
    for (int64_t vocab : {1, 2, 33, 4097, 201088}) {
        auto created = LogitsSampler::create(*gpu()->context, *gpu()->registry, vocab, 4);
        ASSERT_TRUE(created.ok()) << created.error().to_string();
        const LogitsSampler& sampler = **created;
        for (int64_t rows : {1, 4}) {
            const std::vector<float> logits = make_logits(rng, rows, vocab, config % 3);
            const DeviceBuffer d_logits = to_device(logits);
            for (float temperature : {0.0f, 0.7f, 1.0f}) {
                for (int top_k : {0, 1, 50}) {
                    for (float top_p : {1.0f, 0.9f, 0.5f}) {
                        const SampleParams params{temperature, top_k, top_p, 1000u + static_cast<uint64_t>(config)};
                        std::vector<uint64_t> counters(static_cast<size_t>(rows));
                        for (int64_t r = 0; r < rows; ++r) {
                            counters[r] = 7 * static_cast<uint64_t>(config) + 100 * static_cast<uint64_t>(r);
                        }
                        const DeviceBuffer d_counters = to_device(counters);
                        const DeviceBuffer d_tokens = to_device(std::vector<int32_t>(rows, -1));
                        // Three chains back to back: each must leave the scratch ready for the next.
                        for (uint64_t step = 0; step < 3; ++step) {
                            ASSERT_TRUE(sampler
                                            .enqueue(gpu()->stream.get(), d_logits.ptr(), rows, params,
                                                     d_counters.ptr(), d_tokens.ptr())
                                            .ok());
                            const std::vector<int32_t> tokens = to_host<int32_t>(d_tokens, rows);
                            const std::vector<uint64_t> after = to_host<uint64_t>(d_counters, rows);
                            for (int64_t r = 0; r < rows; ++r) {
                                EXPECT_EQ(after[r], counters[r] + step + 1) << "the counter advances on the GPU";
                                const std::span<const float> row(logits.data() + r * vocab, vocab);
                                same_or_near_tie(row, params, counters[r] + step, tokens[r], tally,
                                                 describe(params, vocab, rows) + " row " + std::to_string(r));
                            }
                        }
                        ++config;
                    }
                }
            }
        }
    }
    std::printf("sampled rows: %d, near-tie mismatches: %d\n", tally.rows, tally.near_ties);
    EXPECT_LE(tally.near_ties * 100, tally.rows);
}

// Rows of many requests in one step: each row draws with its own seed (the batched engine's rows).
TEST(LogitsSamplerGpu, RowsDrawWithTheirOwnSeeds) {
    REQUIRE_GPU();
    Rng rng(33);
    Tally tally;
    const int64_t vocab = 4097;
    const int64_t rows = 6;
    auto created = LogitsSampler::create(*gpu()->context, *gpu()->registry, vocab, rows);
    ASSERT_TRUE(created.ok()) << created.error().to_string();
    std::vector<float> logits(static_cast<size_t>(rows * vocab)); // flat: any seed may pick any of many tokens
    for (float& logit : logits) {
        logit = rng.uniform();
    }
    const DeviceBuffer d_logits = to_device(logits);
    const std::vector<uint64_t> seeds = {1, 2, 3, 1ull << 40, 0, ~0ull};
    for (const SampleParams& shared : {SampleParams{1.0f, 0, 1.0f, 99}, SampleParams{0.8f, 40, 0.9f, 99}}) {
        const std::vector<uint64_t> counters = {0, 0, 5, 5, 17, 1};
        const DeviceBuffer d_counters = to_device(counters);
        const DeviceBuffer d_seeds = to_device(seeds);
        const DeviceBuffer d_tokens = to_device(std::vector<int32_t>(rows, -1));
        ASSERT_TRUE((*created)
                        ->enqueue(gpu()->stream.get(), d_logits.ptr(), rows, shared, d_counters.ptr(), d_tokens.ptr(),
                                  d_seeds.ptr())
                        .ok());
        const std::vector<int32_t> tokens = to_host<int32_t>(d_tokens, rows);
        int distinct_from_shared_seed = 0;
        for (int64_t r = 0; r < rows; ++r) {
            SampleParams own = shared;
            own.seed = seeds[static_cast<size_t>(r)];
            const std::span<const float> row(logits.data() + r * vocab, vocab);
            same_or_near_tie(row, own, counters[static_cast<size_t>(r)], tokens[static_cast<size_t>(r)], tally,
                             describe(own, vocab, rows) + " row " + std::to_string(r));
            distinct_from_shared_seed +=
                Sampler(cpu_params(shared)).sample(row, counters[static_cast<size_t>(r)]) != tokens[r];
        }
        // Among dozens of nearly equal candidates the shared seed would almost surely pick other tokens.
        EXPECT_GT(distinct_from_shared_seed, 0) << "the rows' seeds were ignored";
    }
    EXPECT_EQ(tally.near_ties, 0);
}

TEST(LogitsSamplerGpu, CapturedGraphReplaysDrawFreshTokens) {
    REQUIRE_GPU();
    Rng rng(32);
    const int64_t rows = 4;
    for (int64_t vocab : {4097, 201088}) {
        auto created = LogitsSampler::create(*gpu()->context, *gpu()->registry, vocab, rows);
        ASSERT_TRUE(created.ok()) << created.error().to_string();
        const std::vector<float> logits = make_logits(rng, rows, vocab, 0);
        const DeviceBuffer d_logits = to_device(logits);
        for (const SampleParams& params :
             {SampleParams{1.0f, 50, 0.9f, 5}, SampleParams{0.7f, 0, 1.0f, 6}, SampleParams{0.0f, 0, 1.0f, 7}}) {
            const DeviceBuffer d_counters = to_device(std::vector<uint64_t>(rows, 0));
            const DeviceBuffer d_tokens = to_device(std::vector<int32_t>(rows, -1));
            ASSERT_TRUE(Graph::begin_capture(gpu()->stream).ok());
            const Status enqueued = (*created)->enqueue(gpu()->stream.get(), d_logits.ptr(), rows, params,
                                                        d_counters.ptr(), d_tokens.ptr());
            auto graph = Graph::end_capture(gpu()->stream);
            ASSERT_TRUE(enqueued.ok()) << enqueued.error().to_string();
            ASSERT_TRUE(graph.ok()) << graph.error().to_string();
            Tally tally;
            for (uint64_t replay = 0; replay < 3; ++replay) {
                ASSERT_TRUE(graph->launch(gpu()->stream).ok());
                const std::vector<int32_t> tokens = to_host<int32_t>(d_tokens, rows);
                for (int64_t r = 0; r < rows; ++r) {
                    const std::span<const float> row(logits.data() + r * vocab, vocab);
                    same_or_near_tie(row, params, replay, tokens[r], tally, "graph " + describe(params, vocab, rows));
                }
            }
            EXPECT_EQ(to_host<uint64_t>(d_counters, rows), std::vector<uint64_t>(rows, 3));
        }
    }
}

TEST(LogitsSamplerGpu, RejectsBadArguments) {
    REQUIRE_GPU();
    EXPECT_FALSE(LogitsSampler::create(*gpu()->context, *gpu()->registry, 0, 1).ok());
    EXPECT_FALSE(LogitsSampler::create(*gpu()->context, *gpu()->registry, 10, 0).ok());
    auto sampler = LogitsSampler::create(*gpu()->context, *gpu()->registry, 10, 2);
    ASSERT_TRUE(sampler.ok());
    const CUstream stream = gpu()->stream.get();
    for (const SampleParams& bad : {SampleParams{-1.0f, 0, 1.0f, 0}, SampleParams{1.0f, 0, 0.0f, 0},
                                    SampleParams{1.0f, -2, 1.0f, 0}, SampleParams{kNaN, 0, 1.0f, 0}}) {
        const Status status = (*sampler)->enqueue(stream, 0, 1, bad, 0, 0);
        ASSERT_FALSE(status.ok());
        EXPECT_EQ(status.error().code(), ErrorCode::kInvalidArgument);
    }
    EXPECT_FALSE((*sampler)->enqueue(stream, 0, 3, SampleParams{}, 0, 0).ok()) << "more rows than max_rows";
}

// Not a check: prints the time per row of each chain on a 201088-token row, replayed from a graph.
TEST(LogitsSamplerGpu, ReportsTimings) {
    REQUIRE_GPU();
    const int64_t vocab = 201088;
    Rng rng(33);
    auto created = LogitsSampler::create(*gpu()->context, *gpu()->registry, vocab, 4);
    ASSERT_TRUE(created.ok());
    for (int64_t rows : {1, 4}) {
        const DeviceBuffer d_logits = to_device(make_logits(rng, rows, vocab, 0));
        const DeviceBuffer d_counters = to_device(std::vector<uint64_t>(rows, 0));
        const DeviceBuffer d_tokens = to_device(std::vector<int32_t>(rows, 0));
        for (const SampleParams& params :
             {SampleParams{0.0f, 0, 1.0f, 1}, SampleParams{1.0f, 0, 1.0f, 1}, SampleParams{1.0f, 50, 1.0f, 1},
              SampleParams{1.0f, 0, 0.9f, 1}, SampleParams{1.0f, 50, 0.9f, 1}}) {
            ASSERT_TRUE(Graph::begin_capture(gpu()->stream).ok());
            const Status enqueued = (*created)->enqueue(gpu()->stream.get(), d_logits.ptr(), rows, params,
                                                        d_counters.ptr(), d_tokens.ptr());
            auto graph = Graph::end_capture(gpu()->stream);
            ASSERT_TRUE(enqueued.ok() && graph.ok());
            auto start = Event::create(*gpu()->context);
            auto stop = Event::create(*gpu()->context);
            ASSERT_TRUE(start.ok() && stop.ok());
            const int replays = 200;
            ASSERT_TRUE(graph->launch(gpu()->stream).ok()); // warm-up
            ASSERT_TRUE(start->record(gpu()->stream).ok());
            for (int i = 0; i < replays; ++i) {
                ASSERT_TRUE(graph->launch(gpu()->stream).ok());
            }
            ASSERT_TRUE(stop->record(gpu()->stream).ok());
            ASSERT_TRUE(stop->synchronize().ok());
            auto ms = stop->elapsed_ms_since(*start);
            ASSERT_TRUE(ms.ok());
            std::printf("%s: %d kernels, %.1f us per enqueue\n", describe(params, vocab, rows).c_str(),
                        (*created)->launches(params), 1000.0 * *ms / replays);
        }
    }
}

} // namespace
} // namespace tllm::cuda
