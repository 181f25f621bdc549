// Weight throughput of mxfp4w_matmul at gpt-oss-20b expert shapes (mlp1 5760x2880, mlp2 2880x2880),
// batch 1 (decode) and 8. Bytes counted = block and scale bytes read per call. Each iteration uses the
// next of several weight copies spanning >= 512 MB, as consecutive experts in a forward pass would.
#include "core/random.h"
#include "core/thread_pool.h"
#include "kernels/cpu/ops.h"

#include <algorithm>
#include <benchmark/benchmark.h>
#include <vector>

namespace {

using tllm::cpu::SimdPath;

constexpr int64_t kMinWorkingSet = int64_t{512} << 20;

struct Mxfp4Weights {
    std::vector<uint8_t> blocks; // [m, k/32, 16] u8
    std::vector<uint8_t> scales; // [m, k/32] E8M0
};

Mxfp4Weights make_weights(int64_t m, int64_t k, uint64_t seed) {
    tllm::Rng rng(seed);
    Mxfp4Weights w;
    w.blocks.resize(static_cast<size_t>(m * k / 2));
    w.scales.resize(static_cast<size_t>(m * k / 32));
    for (size_t i = 0; i < w.blocks.size(); i += 8) {
        uint64_t bits = rng.next();
        for (size_t j = 0; j < 8 && i + j < w.blocks.size(); ++j) {
            w.blocks[i + j] = static_cast<uint8_t>(bits >> (8 * j));
        }
    }
    for (auto& s : w.scales) {
        s = static_cast<uint8_t>(118 + rng.next() % 10); // 2^-9 .. 2^0, like trained expert weights
    }
    return w;
}

void bm_mxfp4w_matmul(benchmark::State& state) {
    const int64_t m = state.range(0), k = state.range(1), n = state.range(2);
    const SimdPath path = state.range(3) != 0 ? SimdPath::kAuto : SimdPath::kPortable;
    const int64_t bytes = m * k / 2 + m * k / 32;
    const int64_t copies = std::max<int64_t>(1, (kMinWorkingSet + bytes - 1) / bytes);
    std::vector<Mxfp4Weights> weights;
    for (int64_t c = 0; c < copies; ++c) {
        weights.push_back(make_weights(m, k, static_cast<uint64_t>(c + 1)));
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
        const Mxfp4Weights& w = weights[static_cast<size_t>(next)];
        tllm::cpu::mxfp4w_matmul(pool, x.data(), n, k, w.blocks.data(), w.scales.data(), m, nullptr, y.data(), path);
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
        next = (next + 1) % copies;
    }
    state.SetBytesProcessed(state.iterations() * bytes);
    state.SetLabel(tllm::cpu::simd_path_name(path == SimdPath::kAuto ? tllm::cpu::detect_simd_path() : path));
}

// Args: m, k, n, simd (1 = best available, 0 = portable).
BENCHMARK(bm_mxfp4w_matmul)
    ->Name("mxfp4w_matmul")
    ->ArgNames({"m", "k", "n", "simd"})
    ->Args({5760, 2880, 1, 1})
    ->Args({5760, 2880, 8, 1})
    ->Args({2880, 2880, 1, 1})
    ->Args({2880, 2880, 8, 1})
    ->Args({5760, 2880, 1, 0})
    ->Args({5760, 2880, 8, 0})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

} // namespace
