// Prefill attention with sinks on tensor cores (CPU reference: kernels/cpu attention_sinks), for
// many query tokens over the bf16 KV cache: the same result as attention_sinks_split, computed
// flash-attention style with mma.sync m16n8k16 (bf16 in, f32 accumulate; sm_80 and newer).
//
// Block (64 query tokens, one query head): 4 warps of 16 tokens. Key tiles of 64 keys cover the
// union of the block's key ranges (causal, and the window when window > 0); K and V rows are copied
// into shared memory with cp.async, the next tile's copies in flight while this one is used, and
// P·V's B fragments come from V's rows through ldmatrix.trans. S = q·kᵀ is exact in f32 (bf16
// products, f32 sums); the softmax runs in base 2 (scores pre-scaled by log2 e). The probabilities enter P·V split
// into bf16 hi + lo parts, so P keeps about 16 bits instead of bf16's 8, close to the f32 CPU
// reference. The sink joins the softmax denominator at the end; the output is rounded to bf16.
// Grid: (ceil(n / 64), n_heads); block: 128 threads; dynamic shared memory: prefill_shared_bytes(D).
#include "async_copy.cuh"

using namespace tllm_dev;

namespace {

constexpr int kTokens = 64; // query tokens per block
constexpr int kKeys = 64;   // keys per tile
constexpr int kWarpTokens = 16;
constexpr float kLog2e = 1.4426950408889634f;

template <int D>
__device__ __forceinline__ void attention_prefill(const float* __restrict__ q, // [n, q_stride], rotated
                                                  int q_stride,
                                                  const i32* __restrict__ positions, // [n]
                                                  int n,
                                                  int n_heads,
                                                  int n_kv_heads,
                                                  const u16* __restrict__ k_cache, // [capacity, n_kv_heads, D]
                                                  const u16* __restrict__ v_cache,
                                                  int window,
                                                  float scale,
                                                  const u16* __restrict__ sinks, // [n_heads] bf16
                                                  float* __restrict__ out) {     // [n, n_heads, D]
    // bf16 per K or V row in shared memory: 4 words of padding put the 8 rows of a fragment load or of an
    // ldmatrix on distinct banks.
    constexpr int kStride = D + 8;
    constexpr int kTileElements = kKeys * kStride;
    extern __shared__ __align__(16) u16 tiles[]; // [2 buffers][K, V][kKeys][kStride]
    __shared__ int key_range[2];

    grid_dependency_wait();
    allow_dependents();
    const int head = blockIdx.y;
    const int kv_head = head / (n_heads / n_kv_heads);
    const int token0 = blockIdx.x * kTokens;
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int group = lane >> 2; // fragment row (and row + 8)
    const int quad = lane & 3;   // fragment column pair

    if (threadIdx.x == 0) {
        int begin = 0x7fffffff;
        int end = 0;
        for (int t = token0; t < min(n, token0 + kTokens); ++t) {
            const int p = positions[t];
            begin = min(begin, window > 0 ? max(0, p - window + 1) : 0);
            end = max(end, p + 1);
        }
        key_range[0] = begin;
        key_range[1] = end;
    }

    // This thread's two query rows, their positions and first visible keys.
    const int row_token[2] = {token0 + warp * kWarpTokens + group, token0 + warp * kWarpTokens + group + 8};
    int row_pos[2];
    int row_first[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        row_pos[r] = row_token[r] < n ? positions[row_token[r]] : -1; // -1: padding row, sees nothing
        row_first[r] = window > 0 ? row_pos[r] - window + 1 : 0;
    }
    // q as A fragments, one per 16 dims: values are bf16 already, so the conversion is exact.
    u32 qa[D / 16][4];
#pragma unroll
    for (int c = 0; c < D / 16; ++c) {
#pragma unroll
        for (int half = 0; half < 2; ++half) { // columns c·16 + quad·2 (+ 8)
            const int d = c * 16 + half * 8 + quad * 2;
#pragma unroll
            for (int r = 0; r < 2; ++r) {
                float x0 = 0.0f;
                float x1 = 0.0f;
                if (row_token[r] < n) {
                    const float* row = q + static_cast<i64>(row_token[r]) * q_stride + head * D;
                    x0 = row[d];
                    x1 = row[d + 1];
                }
                qa[c][half * 2 + r] = pack_bf16(x0, x1);
            }
        }
    }

    float o[D / 8][4];
#pragma unroll
    for (int j = 0; j < D / 8; ++j) {
        o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.0f;
    }
    const float neg_inf = -__int_as_float(0x7f800000);
    float row_max[2] = {neg_inf, neg_inf};
    float row_sum[2] = {0.0f, 0.0f};

    __syncthreads();
    const int key_begin = key_range[0];
    const int key_end = key_range[1];
    const int kv_row = n_kv_heads * D;
    // Rows past key_end are zero-filled: a garbage V would turn 0·NaN into NaN.
    auto copy_tile = [&](int tile, int buffer) {
        u16* k_dst = tiles + buffer * 2 * kTileElements;
        u16* v_dst = k_dst + kTileElements;
        for (int i = threadIdx.x; i < kKeys * (D / 8); i += blockDim.x) {
            const int key = i / (D / 8);
            const int d = (i - key * (D / 8)) * 8;
            const bool valid = tile + key < key_end;
            const i64 at = valid ? static_cast<i64>(tile + key) * kv_row + kv_head * D + d : 0;
            copy_async_16(k_dst + key * kStride + d, k_cache + at, valid ? 16 : 0);
            copy_async_16(v_dst + key * kStride + d, v_cache + at, valid ? 16 : 0);
        }
        copy_async_commit();
    };
    const float scale2 = scale * kLog2e;
    if (key_begin < key_end) {
        copy_tile(key_begin, 0);
    }
    for (int tile = key_begin, it = 0; tile < key_end; tile += kKeys, ++it) {
        const int buffer = it & 1;
        if (tile + kKeys < key_end) {
            copy_tile(tile + kKeys, buffer ^ 1); // its buffer was released by the barrier ending the last tile
            copy_async_wait<1>();
        } else {
            copy_async_wait<0>();
        }
        __syncthreads();
        const u16* k_tile = tiles + buffer * 2 * kTileElements;
        const u16* v_tile = k_tile + kTileElements;

        // S = q·kᵀ for this warp's 16 rows and the tile's 64 keys: 8 column tiles of 8 keys.
        float s[kKeys / 8][4];
#pragma unroll
        for (int j = 0; j < kKeys / 8; ++j) {
            s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.0f;
            const u16* k_row = k_tile + (j * 8 + group) * kStride + quad * 2;
#pragma unroll
            for (int c = 0; c < D / 16; ++c) {
                const u32 b0 = *reinterpret_cast<const u32*>(k_row + c * 16);
                const u32 b1 = *reinterpret_cast<const u32*>(k_row + c * 16 + 8);
                mma_bf16(s[j], qa[c], b0, b1);
            }
        }
        // Scale (to base 2) and mask, then the online softmax per row (4 lanes share a row).
        float tile_max[2] = {neg_inf, neg_inf};
#pragma unroll
        for (int j = 0; j < kKeys / 8; ++j) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int r = e >> 1;
                const int key = tile + j * 8 + quad * 2 + (e & 1);
                const bool visible = key <= row_pos[r] && key >= row_first[r];
                s[j][e] = visible ? s[j][e] * scale2 : neg_inf;
                tile_max[r] = fmaxf(tile_max[r], s[j][e]);
            }
        }
        float correction[2];
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 1));
            tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 2));
            const float new_max = fmaxf(row_max[r], tile_max[r]);
            // No visible key yet: keep everything at zero rather than exp(−inf + inf).
            correction[r] = new_max == neg_inf ? 1.0f : exp2f(row_max[r] - new_max);
            row_max[r] = new_max;
            row_sum[r] *= correction[r];
        }
#pragma unroll
        for (int j = 0; j < D / 8; ++j) {
            o[j][0] *= correction[0];
            o[j][1] *= correction[0];
            o[j][2] *= correction[1];
            o[j][3] *= correction[1];
        }
#pragma unroll
        for (int j = 0; j < kKeys / 8; ++j) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int r = e >> 1;
                const float p = s[j][e] == neg_inf ? 0.0f : exp2f(s[j][e] - row_max[r]);
                s[j][e] = p;
                row_sum[r] += p;
            }
        }
        // O += P·V over 16-key chunks; P's C fragments of two column tiles form one A fragment, and one
        // ldmatrix.trans gives the B fragments of two 8-dim column tiles: lanes 0-7 and 8-15 address keys
        // 0-7 and 8-15 of the chunk at dims 8j, lanes 16-31 the same keys at dims 8(j + 1).
        const u16* v_lane = v_tile + (((lane >> 3) & 1) * 8 + (lane & 7)) * kStride + (lane >> 4) * 8;
#pragma unroll
        for (int c = 0; c < kKeys / 16; ++c) {
            u32 hi[4];
            u32 lo[4];
#pragma unroll
            for (int f = 0; f < 4; ++f) {
                const float* pair = &s[2 * c + (f >> 1)][(f & 1) * 2];
                const u16 h0 = f32_to_bf16(pair[0]);
                const u16 h1 = f32_to_bf16(pair[1]);
                hi[f] = static_cast<u32>(h0) | (static_cast<u32>(h1) << 16);
                lo[f] = pack_bf16(pair[0] - bf16_to_f32(h0), pair[1] - bf16_to_f32(h1));
            }
#pragma unroll
            for (int j = 0; j < D / 8; j += 2) {
                u32 b[4];
                load_matrix_x4_trans(b, v_lane + c * 16 * kStride + j * 8);
                mma_bf16(o[j], hi, b[0], b[1]);
                mma_bf16(o[j], lo, b[0], b[1]);
                mma_bf16(o[j + 1], hi, b[2], b[3]);
                mma_bf16(o[j + 1], lo, b[2], b[3]);
            }
        }
        __syncthreads(); // this tile's buffer is refilled two tiles on
    }

    // The sink joins the denominator; the row sums are completed across the row's 4 lanes.
    const float sink = bf16_to_f32(sinks[head]) * kLog2e;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        row_sum[r] += __shfl_xor_sync(0xffffffffu, row_sum[r], 1);
        row_sum[r] += __shfl_xor_sync(0xffffffffu, row_sum[r], 2);
        const float final_max = fmaxf(row_max[r], sink);
        const float correction = row_max[r] == neg_inf ? 0.0f : exp2f(row_max[r] - final_max);
        const float denom = row_sum[r] * correction + exp2f(sink - final_max);
        if (row_token[r] < n) {
            float* dst = out + (static_cast<i64>(row_token[r]) * n_heads + head) * D + quad * 2;
#pragma unroll
            for (int j = 0; j < D / 8; ++j) {
                dst[j * 8] = round_bf16(o[j][r * 2] * correction / denom);
                dst[j * 8 + 1] = round_bf16(o[j][r * 2 + 1] * correction / denom);
            }
        }
    }
}

} // namespace

#define TLLM_ATTENTION_PREFILL(D)                                                                                      \
    TLLM_KERNEL void __launch_bounds__(128) attention_sinks_prefill_d##D(                                              \
        const float* q, int q_stride, const i32* positions, int n, int n_heads, int n_kv_heads, const u16* k_cache,    \
        const u16* v_cache, int window, float scale, const u16* sinks, float* out) {                                   \
        attention_prefill<D>(q, q_stride, positions, n, n_heads, n_kv_heads, k_cache, v_cache, window, scale, sinks,   \
                             out);                                                                                     \
    }
TLLM_ATTENTION_PREFILL(64)
TLLM_ATTENTION_PREFILL(128)
