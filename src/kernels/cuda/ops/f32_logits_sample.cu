// Token sampling from f32 logits [rows, vocab] on the GPU, choosing exactly what the CPU sampler
// (runtime/sampler.h, which documents the algorithm) chooses for the same seed and counter.
//
// A row's sampling is a short fixed chain of kernels, each over the whole row with several blocks per row
// (grid = blocks per row x rows); the host picks the chain from the parameters alone, so it can be captured
// into a CUDA graph:
//   greedy                      f32_logits_sample_greedy
//   temperature only            f32_logits_sample_draw
//   top-k and/or top-p          f32_logits_sample_stats, _count(1), _count(2) [top-k], _mass(0..2) [top-p], _draw
// Kernels hand results to the next one through a per-row RowState in the caller's scratch buffer. Within a
// kernel the blocks of a row combine through atomics, and the last block to finish (a ticket counter) does the
// row's serial step: picks a radix digit, or writes the token. Every atomic is an integer max or add, so the
// results do not depend on the order blocks run in. The draw kernel's last block leaves the state all zero
// again, as the chain expects it, and advances the row's counter: graph replays draw fresh numbers.
#include "common.cuh"

namespace {

constexpr int kThreads = 256;
// Four resident blocks per SM leaves 64 registers a thread: with no minimum, ptxas caps the stats kernel near
// 40 registers and spills.
constexpr int kMinBlocks = 4;
constexpr int kRadixBins = 2048;

// ---- Mirror of core/sampling_math.h: the same operations in the same order, each rounded on its own. ----

constexpr u64 kMassOne = 1ull << 32;
constexpr float kLn2Hi = 0.693145751953125f;
constexpr float kLn2Lo = 1.42860677e-06f;

__device__ __forceinline__ int radix_shift(int pass) { return pass == 0 ? 21 : (pass == 1 ? 10 : 0); }
__device__ __forceinline__ int radix_width(int pass) { return pass == 2 ? 10 : 11; }

__device__ __forceinline__ u32 order_key(float value) {
    u32 bits = __float_as_uint(value);
    if (bits == 0x80000000u) {
        bits = 0;
    }
    if ((bits & 0x7fffffffu) > 0x7f800000u) {
        return 0;
    }
    return (bits & 0x80000000u) != 0 ? ~bits : (bits | 0x80000000u);
}

__device__ __forceinline__ float key_to_float(u32 key) {
    return __uint_as_float((key & 0x80000000u) != 0 ? (key & 0x7fffffffu) : ~key);
}

__device__ __forceinline__ u64 mix64(u64 z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

__device__ __forceinline__ u64 draw_stream(u64 seed, u64 counter) {
    return mix64(seed ^ mix64(counter + 0x9e3779b97f4a7c15ull));
}

__device__ __forceinline__ u32 draw_bits(u64 stream, u32 index) {
    return static_cast<u32>(mix64(stream + (static_cast<u64>(index) + 1) * 0x9e3779b97f4a7c15ull) >> 40);
}

__device__ __forceinline__ float log1p_core(float t) {
    const float s = __fdiv_rn(t, __fadd_rn(2.0f, t));
    const float z = __fmul_rn(s, s);
    float q = 0.09090909f;
    q = __fmul_rn(q, z);
    q = __fadd_rn(q, 0.11111111f);
    q = __fmul_rn(q, z);
    q = __fadd_rn(q, 0.14285715f);
    q = __fmul_rn(q, z);
    q = __fadd_rn(q, 0.2f);
    q = __fmul_rn(q, z);
    q = __fadd_rn(q, 0.33333334f);
    const float two_s = __fadd_rn(s, s);
    float tail = __fmul_rn(two_s, z);
    tail = __fmul_rn(tail, q);
    return __fadd_rn(two_s, tail);
}

__device__ __forceinline__ float log_positive(float x) {
    const u32 bits = __float_as_uint(x);
    int exponent = static_cast<int>(bits >> 23) - 127;
    u32 mantissa = (bits & 0x007fffffu) | 0x3f800000u;
    if (mantissa > 0x3fb504f3u) {
        mantissa -= 0x00800000u;
        exponent += 1;
    }
    const float t = __fsub_rn(__uint_as_float(mantissa), 1.0f);
    const float e = static_cast<float>(exponent);
    float result = __fmul_rn(e, kLn2Lo);
    result = __fadd_rn(log1p_core(t), result);
    const float high = __fmul_rn(e, kLn2Hi);
    return __fadd_rn(high, result);
}

__device__ __forceinline__ float neg_log_uniform(u32 bits) {
    if (bits < (1u << 23)) {
        const float u = __fmul_rn(static_cast<float>(2 * bits + 1), 1.0f / 33554432.0f);
        return -log_positive(u);
    }
    const u32 c = (1u << 24) - 1 - bits;
    if (c < (1u << 22)) {
        const float v = __fmul_rn(static_cast<float>(2 * c + 1), 1.0f / 33554432.0f);
        return -log1p_core(-v);
    }
    const float t = __fmul_rn(static_cast<float>((1u << 24) - 2 * c - 1), 1.0f / 16777216.0f);
    const float core = log1p_core(t);
    const float lo = __fsub_rn(kLn2Lo, core);
    return __fadd_rn(kLn2Hi, lo);
}

__device__ __forceinline__ float gumbel_score(float scaled, u64 stream, u32 index) {
    const float exponential = neg_log_uniform(draw_bits(stream, index));
    return __fsub_rn(scaled, log_positive(exponential));
}

__device__ __forceinline__ u64 fixed_weight(float scaled, float max) {
    if (scaled == max) {
        return kMassOne;
    }
    const float d = __fsub_rn(scaled, max);
    if (!(d >= -23.0f)) {
        return 0;
    }
    const float magic = 12582912.0f;
    float n = __fmul_rn(d, 1.44269502f);
    n = __fadd_rn(n, magic);
    n = __fsub_rn(n, magic);
    float r = __fmul_rn(n, kLn2Hi);
    r = __fsub_rn(d, r);
    const float r_lo = __fmul_rn(n, kLn2Lo);
    r = __fsub_rn(r, r_lo);
    float p = 1.98412701e-04f;
    const float coefficients[6] = {1.38888892e-03f, 8.33333377e-03f, 4.16666679e-02f, 0.166666672f, 0.5f, 1.0f};
#pragma unroll
    for (int i = 0; i < 6; ++i) {
        p = __fmul_rn(p, r);
        p = __fadd_rn(p, coefficients[i]);
    }
    p = __fmul_rn(p, r);
    p = __fadd_rn(p, 1.0f);
    const float scale = __uint_as_float(static_cast<u32>(static_cast<int>(n) + 32 + 127) << 23);
    return static_cast<u64>(__fmul_rn(p, scale));
}

__device__ __forceinline__ u64 top_p_target(u64 total, float top_p) {
    const float scaled = __fmul_rn(top_p, 4294967296.0f);
    u64 p32 = static_cast<u64>(scaled);
    if (static_cast<float>(p32) != scaled) {
        p32 += 1;
    }
    const u64 high = (total >> 32) * p32;
    const u64 low = ((total & 0xffffffffull) * p32 + 0xffffffffull) >> 32;
    const u64 target = high + low;
    return target > 0 ? target : 1;
}

// ---- End of the mirror. ----

// One row's hand-over between the kernels of a chain; all zero between chains (the scratch buffer starts
// zeroed). Layout and size are fixed: the host sizes the scratch buffer as rows * 16448 bytes.
struct RowState {
    u64 best;   // max over the row of (order_key(value) << 32 | ~index): the argmax, ties to the lowest index
    u64 pick;   // the same over Gumbel scores of the candidates
    u64 need;   // radix select: count or mass still to cover inside `prefix`
    u32 ticket; // blocks of the running kernel that have finished this row
    u32 prefix; // radix select: key bits chosen so far
    u32 cut_k;  // after top-k, the candidates are the keys > cut_k
    u32 cut;    // the final candidates are the keys > cut
    u32 done_k; // the top-k set was settled before the last count pass
    u32 unused[5];
    u64 hist[kRadixBins]; // radix histogram, summed over the row's blocks; cleared by whoever reads it
};
static_assert(sizeof(RowState) == 16448, "the host's scratch size (logits_sampler.cpp) assumes this layout");

// Folds each thread's packed (key, ~index) maximum into `target`: one atomic per block.
__device__ __forceinline__ void block_max_into(u64 value, u64* target) {
    __shared__ u64 warp_best[kThreads / 32];
    value = tllm_dev::warp_max(value);
    if ((threadIdx.x & 31) == 0) {
        warp_best[threadIdx.x >> 5] = value;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int w = 1; w < kThreads / 32; ++w) {
            value = warp_best[w] > value ? warp_best[w] : value;
        }
        if (value != 0) {
            atomicMax(target, value);
        }
    }
}

// True in the row's last block to finish this kernel. The fences order every block's atomics before its
// ticket, and the last block's later reads after all tickets.
__device__ __forceinline__ bool is_last_block(RowState* state) {
    __shared__ bool last;
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) {
        last = atomicAdd(&state->ticket, 1u) == gridDim.x - 1;
    }
    __syncthreads();
    if (last) {
        __threadfence();
    }
    return last;
}

// Adds a block's shared histogram into the row's, skipping empty bins.
template <typename T> __device__ __forceinline__ void merge_histogram(const T* local, int bins, RowState* state) {
    __syncthreads();
    for (int b = threadIdx.x; b < bins; b += kThreads) {
        if (local[b] != 0) {
            atomicAdd(&state->hist[b], static_cast<u64>(local[b]));
        }
    }
}

struct Selection {
    u32 digit;
    int found;
    u64 above; // histogram sum of the digits above `digit`
    u64 bin;   // histogram value at `digit`
    u64 need;
};

// Run by the whole last block: reads and clears the row histogram and finds the largest digit whose suffix
// sum reaches the need (given, or for the first top-p pass computed from the total mass: top_p > 0). Exactly
// one thread sees the crossing, because suffix sums only grow toward lower digits. A 10-bit pass reads all
// 2048 bins too (the upper half is zero): one code path, which also keeps sm_80 free of spills.
__device__ __forceinline__ void select_digit(RowState* state, u64 need_in, float top_p, Selection* selection) {
    constexpr int kPer = kRadixBins / kThreads;
    __shared__ u64 warp_sums[kThreads / 32];
    volatile u64* hist = state->hist;
    const int base = threadIdx.x * kPer;
    u64 local[kPer];
    u64 sum = 0;
#pragma unroll
    for (int j = 0; j < kPer; ++j) {
        local[j] = hist[base + j];
        hist[base + j] = 0;
        sum += local[j];
    }
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    u64 suffix = sum; // inclusive suffix sum within the warp: higher lanes hold higher digits
#pragma unroll
    for (int offset = 1; offset < 32; offset <<= 1) {
        const u64 other = __shfl_down_sync(0xffffffffu, suffix, offset);
        if (lane + offset < 32) {
            suffix += other;
        }
    }
    if (threadIdx.x == 0) {
        selection->found = 0;
    }
    if (lane == 0) {
        warp_sums[warp] = suffix;
    }
    __syncthreads();
    u64 total = 0;
    u64 acc = suffix - sum;
    for (int w = 0; w < kThreads / 32; ++w) {
        total += warp_sums[w];
        acc += w > warp ? warp_sums[w] : 0;
    }
    const u64 need = top_p > 0.0f ? top_p_target(total, top_p) : need_in;
#pragma unroll
    for (int j = kPer - 1; j >= 0; --j) {
        if (acc < need && acc + local[j] >= need) {
            selection->digit = static_cast<u32>(base + j);
            selection->above = acc;
            selection->bin = local[j];
            selection->need = need;
            selection->found = 1;
        }
        acc += local[j];
    }
    __syncthreads();
}

// The last block's step after a top-k count pass: narrow the prefix, or settle the set once the chosen bin
// is wholly inside it (then every key with the prefix is kept, whatever its low bits) or the key is complete.
__device__ __forceinline__ void advance_top_k(int pass, RowState* state, u64 need) {
    __shared__ Selection sel;
    select_digit(state, need, 0.0f, &sel);
    if (threadIdx.x == 0 && sel.found) {
        const u32 prefix = state->prefix | (sel.digit << radix_shift(pass));
        const u64 left = sel.need - sel.above;
        if (left == sel.bin || pass == 2) {
            state->cut_k = prefix > 0 ? prefix - 1 : 0;
            state->cut = state->cut_k;
            state->done_k = 1;
            state->prefix = 0;
            state->need = 0;
        } else {
            state->prefix = prefix;
            state->need = left;
        }
    }
}

__device__ __forceinline__ bool prefix_matches(u32 key, u32 prefix, int pass) {
    return pass == 0 || (key >> radix_shift(pass - 1)) == (prefix >> radix_shift(pass - 1));
}

} // namespace

// Greedy: the argmax of the raw logits, ties to the lowest index, NaN never chosen unless all are (then 0).
TLLM_KERNEL void __launch_bounds__(kThreads, kMinBlocks)
    f32_logits_sample_greedy(const float* logits, i32 vocab, u64* counters, i32* tokens, RowState* states) {
    const u32 row = blockIdx.y;
    const float* x = logits + static_cast<u64>(row) * vocab;
    RowState* state = states + row;
    u64 best = 0;
    for (u32 i = blockIdx.x * kThreads + threadIdx.x; i < static_cast<u32>(vocab); i += gridDim.x * kThreads) {
        const u64 packed = (static_cast<u64>(order_key(x[i])) << 32) | ~i;
        best = packed > best ? packed : best;
    }
    block_max_into(best, &state->best);
    if (is_last_block(state)) {
        if (threadIdx.x == 0) {
            const u64 found = *reinterpret_cast<volatile u64*>(&state->best);
            tokens[row] = static_cast<i32>(~static_cast<u32>(found));
            counters[row] += 1;
            state->best = 0;
            state->ticket = 0;
        }
    }
}

// The maximum scaled logit (for the top-p masses) and, when top_k > 0, the first top-k radix pass.
TLLM_KERNEL void __launch_bounds__(kThreads, kMinBlocks)
    f32_logits_sample_stats(const float* logits, i32 vocab, float inv_temperature, i32 top_k, RowState* states) {
    __shared__ u32 hist[kRadixBins];
    const u32 row = blockIdx.y;
    const float* x = logits + static_cast<u64>(row) * vocab;
    RowState* state = states + row;
    const bool counting = top_k > 0;
    if (counting) {
        for (int b = threadIdx.x; b < kRadixBins; b += kThreads) {
            hist[b] = 0;
        }
        __syncthreads();
    }
    u64 best = 0;
    for (u32 i = blockIdx.x * kThreads + threadIdx.x; i < static_cast<u32>(vocab); i += gridDim.x * kThreads) {
        const u32 key = order_key(__fmul_rn(x[i], inv_temperature));
        const u64 packed = (static_cast<u64>(key) << 32) | ~i;
        best = packed > best ? packed : best;
        if (counting) {
            atomicAdd(&hist[key >> 21], 1u);
        }
    }
    block_max_into(best, &state->best);
    if (counting) {
        merge_histogram(hist, kRadixBins, state);
    }
    if (is_last_block(state)) {
        if (counting) {
            advance_top_k(0, state, static_cast<u64>(top_k));
        }
        if (threadIdx.x == 0) {
            state->ticket = 0;
        }
    }
}

// Top-k radix pass 1 or 2: counts the keys that carry the prefix chosen so far, by their next digit.
TLLM_KERNEL void __launch_bounds__(kThreads, kMinBlocks)
    f32_logits_sample_count(const float* logits, i32 vocab, float inv_temperature, i32 pass, RowState* states) {
    __shared__ u32 hist[kRadixBins];
    const u32 row = blockIdx.y;
    const float* x = logits + static_cast<u64>(row) * vocab;
    RowState* state = states + row;
    if (state->done_k != 0) {
        return; // settled by an earlier pass; the whole grid sees the same flag
    }
    const u32 prefix = state->prefix;
    const int shift = radix_shift(pass);
    const u32 mask = (1u << radix_width(pass)) - 1;
    for (int b = threadIdx.x; b < kRadixBins; b += kThreads) {
        hist[b] = 0;
    }
    __syncthreads();
    for (u32 i = blockIdx.x * kThreads + threadIdx.x; i < static_cast<u32>(vocab); i += gridDim.x * kThreads) {
        const u32 key = order_key(__fmul_rn(x[i], inv_temperature));
        if (prefix_matches(key, prefix, pass)) {
            atomicAdd(&hist[(key >> shift) & mask], 1u);
        }
    }
    merge_histogram(hist, static_cast<int>(mask) + 1, state);
    if (is_last_block(state)) {
        advance_top_k(pass, state, state->need);
        if (threadIdx.x == 0) {
            state->ticket = 0;
        }
    }
}

// Top-p radix pass 0, 1 or 2 over the fixed-point masses of the top-k candidates (keys > cut_k). Pass 0 also
// totals the mass, which fixes the target.
TLLM_KERNEL void __launch_bounds__(kThreads, kMinBlocks) f32_logits_sample_mass(
    const float* logits, i32 vocab, float inv_temperature, float top_p, i32 pass, RowState* states) {
    __shared__ u64 hist[kRadixBins];
    const u32 row = blockIdx.y;
    const float* x = logits + static_cast<u64>(row) * vocab;
    RowState* state = states + row;
    const u32 max_key = static_cast<u32>(state->best >> 32);
    if (max_key == 0) {
        return; // every logit is NaN: no candidates, and the draw returns token 0
    }
    const float max = key_to_float(max_key);
    const u32 cut_k = state->cut_k;
    const u32 prefix = state->prefix;
    const int shift = radix_shift(pass);
    const u32 mask = (1u << radix_width(pass)) - 1;
    for (int b = threadIdx.x; b < kRadixBins; b += kThreads) {
        hist[b] = 0;
    }
    __syncthreads();
    for (u32 i = blockIdx.x * kThreads + threadIdx.x; i < static_cast<u32>(vocab); i += gridDim.x * kThreads) {
        const float scaled = __fmul_rn(x[i], inv_temperature);
        const u32 key = order_key(scaled);
        if (key > cut_k && prefix_matches(key, prefix, pass)) {
            const u64 weight = fixed_weight(scaled, max);
            if (weight != 0) {
                atomicAdd(&hist[(key >> shift) & mask], weight);
            }
        }
    }
    merge_histogram(hist, static_cast<int>(mask) + 1, state);
    if (is_last_block(state)) {
        __shared__ Selection sel;
        select_digit(state, state->need, pass == 0 ? top_p : 0.0f, &sel);
        if (threadIdx.x == 0) {
            if (sel.found) {
                const u32 chosen = prefix | (sel.digit << shift);
                if (pass == 2) {
                    state->cut = chosen - 1; // chosen >= 1: it is the key of a token with positive mass
                    state->prefix = 0;
                    state->need = 0;
                } else {
                    state->prefix = chosen;
                    state->need = sel.need - sel.above;
                }
            }
            state->ticket = 0;
        }
    }
}

// The Gumbel-max draw over the candidates (keys > cut); writes the token, advances the counter and leaves
// the row's state zeroed for the next chain. Each row draws with seeds[row], or with `seed` when seeds is null
// (rows of many requests in one step carry their own seeds).
TLLM_KERNEL void __launch_bounds__(kThreads, kMinBlocks) f32_logits_sample_draw(const float* logits,
                                                                                i32 vocab,
                                                                                float inv_temperature,
                                                                                u64 seed,
                                                                                const u64* seeds,
                                                                                u64* counters,
                                                                                i32* tokens,
                                                                                RowState* states) {
    const u32 row = blockIdx.y;
    const float* x = logits + static_cast<u64>(row) * vocab;
    RowState* state = states + row;
    const u32 cut = state->cut;
    const u64 counter = counters[row];
    const u64 stream = draw_stream(seeds != nullptr ? seeds[row] : seed, counter);
    u64 best = 0;
    for (u32 i = blockIdx.x * kThreads + threadIdx.x; i < static_cast<u32>(vocab); i += gridDim.x * kThreads) {
        const float scaled = __fmul_rn(x[i], inv_temperature);
        if (order_key(scaled) > cut) {
            const u64 packed = (static_cast<u64>(order_key(gumbel_score(scaled, stream, i))) << 32) | ~i;
            best = packed > best ? packed : best;
        }
    }
    block_max_into(best, &state->pick);
    if (is_last_block(state)) {
        if (threadIdx.x == 0) {
            const u64 pick = *reinterpret_cast<volatile u64*>(&state->pick);
            tokens[row] = pick != 0 ? static_cast<i32>(~static_cast<u32>(pick)) : 0;
            counters[row] = counter + 1;
            state->best = 0;
            state->pick = 0;
            state->need = 0;
            state->prefix = 0;
            state->cut_k = 0;
            state->cut = 0;
            state->done_k = 0;
            state->ticket = 0;
        }
    }
}
