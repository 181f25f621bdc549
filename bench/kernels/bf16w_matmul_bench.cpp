// Weight throughput of bf16w_matmul at gpt-oss-20b shapes (qkv projection and unembedding), batch 1
// (decode) and 8. Bytes counted = weight bytes read per call, the quantity that bounds decode speed.
// Each iteration uses the next of several weight copies spanning >= 512 MB, so a small matrix cannot
// sit in the last-level cache between iterations as it never would in a real forward pass.
#include "core/random.h"
#include "core/thread_pool.h"
#include "kernels/cpu/ops.h"

#include <algorithm>
#include <benchmark/benchmark.h>
#include <vector>

namespace {

using tllm::cpu::SimdPath;

constexpr int64_t kMinWorkingSet = int64_t{512} << 20;

// Finite bf16 values of magnitude in [1, 2): random mantissa and sign, fixed exponent.
void fill_weights(std::vector<uint16_t>& w, uint64_t seed) {
    tllm::Rng rng(seed);
    for (size_t i = 0; i < w.size(); i += 4) {
        uint64_t bits = rng.next();
        for (size_t j = 0; j < 4 && i + j < w.size(); ++j) {
            w[i + j] = static_cast<uint16_t>(0x3f80u | ((bits >> (16 * j)) & 0x807fu));
        }
    }
}

void bm_bf16w_matmul(benchmark::State& state) {
    const int64_t m = state.range(0), k = state.range(1), n = state.range(2);
    const SimdPath path = state.range(3) != 0 ? SimdPath::kAuto : SimdPath::kPortable;
    const int64_t bytes = m * k * 2;
    const int64_t copies = std::max<int64_t>(1, (kMinWorkingSet + bytes - 1) / bytes);
    std::vector<std::vector<uint16_t>> weights(static_cast<size_t>(copies)); // copies x [m, k] bf16
    for (int64_t c = 0; c < copies; ++c) {
        weights[c].resize(static_cast<size_t>(m * k));
        fill_weights(weights[c], static_cast<uint64_t>(c + 1));
    }
    tllm::Rng rng(99);
    std::vector<float> x(static_cast<size_t>(n * k)); // [n, k]
    for (auto& v : x) {
        v = rng.uniform(-1.0f, 1.0f);
    }
    std::vector<float> y(static_cast<size_t>(n * m)); // [n, m]
    tllm::ThreadPool pool(0);
    int64_t next = 0;
    for (auto _ : state) {
        tllm::cpu::bf16w_matmul(pool, x.data(), n, k, weights[next].data(), m, nullptr, y.data(), path);
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
        next = (next + 1) % copies;
    }
    state.SetBytesProcessed(state.iterations() * bytes);
    state.SetLabel(tllm::cpu::simd_path_name(path == SimdPath::kAuto ? tllm::cpu::detect_simd_path() : path));
}

// Args: m, k, n, simd (1 = best available, 0 = portable).
BENCHMARK(bm_bf16w_matmul)
    ->Name("bf16w_matmul")
    ->ArgNames({"m", "k", "n", "simd"})
    ->Args({5120, 2880, 1, 1})
    ->Args({5120, 2880, 8, 1})
    ->Args({201088, 2880, 1, 1})
    ->Args({201088, 2880, 8, 1})
    ->Args({5120, 2880, 1, 0})
    ->Args({5120, 2880, 8, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

} // namespace
