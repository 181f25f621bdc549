// MoE routing (CPU reference: kernels/cpu topk_softmax): per token the top_k of n_experts router
// logits, sorted descending (ties: lower index first; NaN ranks first, as torch.topk), weights =
// softmax over those k. Then the (token, slot) pairs p = token·top_k + slot are grouped by expert,
// in ascending p within an expert, and cut into tiles of at most `tile_size` pairs that the expert
// kernels consume (mxfp4w_moe_matmul.cu). One block of 1024 threads; n·top_k ≤ max_pairs.
#include "common.cuh"

using namespace tllm_dev;

namespace {

struct Tile {
    int expert;
    int first;
    int count;
    int pad;
};

constexpr int kMaxExperts = 256;

// a ranks before b: NaN first, then larger, then lower index.
__device__ __forceinline__ bool ranks_before(float a, int ia, float b, int ib) {
    const bool a_nan = a != a;
    const bool b_nan = b != b;
    if (a_nan != b_nan) {
        return a_nan;
    }
    if (!a_nan && a != b) {
        return a > b;
    }
    return ia < ib;
}

} // namespace

TLLM_KERNEL void __launch_bounds__(1024) topk_route(const float* logits, // [n, n_experts]
                                                    int n,
                                                    int n_experts,
                                                    int top_k,
                                                    int tile_size,
                                                    int* pair_expert,   // [n·top_k]
                                                    float* pair_weight, // [n·top_k]
                                                    int* sorted_pairs,  // [n·top_k]
                                                    Tile* tiles, // [n·top_k / tile_size + min(n_experts, n·top_k)]
                                                    int* n_tiles) {
    __shared__ int counts[kMaxExperts];
    __shared__ int offsets[kMaxExperts];
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int n_warps = blockDim.x >> 5;
    for (int e = threadIdx.x; e < n_experts; e += blockDim.x) {
        counts[e] = 0;
    }
    for (int t = warp; t < n; t += n_warps) {
        const float* row = logits + static_cast<i64>(t) * n_experts;
        // Each round takes the best remaining expert; taken experts are marked by index.
        u64 taken[kMaxExperts / 64] = {0, 0, 0, 0};
        float chosen[8];
        int chosen_id[8];
        for (int slot = 0; slot < top_k; ++slot) {
            float best = 0.0f;
            int best_id = -1;
            for (int e = lane; e < n_experts; e += 32) {
                if ((taken[e >> 6] >> (e & 63)) & 1ull) {
                    continue;
                }
                const float v = row[e];
                if (best_id < 0 || ranks_before(v, e, best, best_id)) {
                    best = v;
                    best_id = e;
                }
            }
            for (int offset = 16; offset > 0; offset >>= 1) {
                const float other = __shfl_xor_sync(0xffffffffu, best, offset);
                const int other_id = __shfl_xor_sync(0xffffffffu, best_id, offset);
                if (other_id >= 0 && (best_id < 0 || ranks_before(other, other_id, best, best_id))) {
                    best = other;
                    best_id = other_id;
                }
            }
            taken[best_id >> 6] |= 1ull << (best_id & 63);
            if (slot < 8) {
                chosen[slot] = best;
                chosen_id[slot] = best_id;
            }
        }
        if (lane == 0) {
            const float max_logit = chosen[0];
            float e_values[8];
            float sum = 0.0f;
            for (int slot = 0; slot < top_k; ++slot) {
                e_values[slot] = expf(chosen[slot] - max_logit);
                sum += e_values[slot];
            }
            for (int slot = 0; slot < top_k; ++slot) {
                pair_expert[t * top_k + slot] = chosen_id[slot];
                pair_weight[t * top_k + slot] = e_values[slot] / sum;
            }
        }
    }
    __syncthreads();
    const int n_pairs = n * top_k;
    // One thread per expert collects its pairs in ascending order: stable without atomics.
    for (int e = threadIdx.x; e < n_experts; e += blockDim.x) {
        int count = 0;
        for (int p = 0; p < n_pairs; ++p) {
            count += pair_expert[p] == e;
        }
        counts[e] = count;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        int offset = 0;
        int tile = 0;
        for (int e = 0; e < n_experts; ++e) {
            offsets[e] = offset;
            for (int first = 0; first < counts[e]; first += tile_size) {
                tiles[tile].expert = e;
                tiles[tile].first = offset + first;
                tiles[tile].count = min(tile_size, counts[e] - first);
                tiles[tile].pad = 0;
                ++tile;
            }
            offset += counts[e];
        }
        *n_tiles = tile;
    }
    __syncthreads();
    for (int e = threadIdx.x; e < n_experts; e += blockDim.x) {
        int out = offsets[e];
        for (int p = 0; p < n_pairs; ++p) {
            if (pair_expert[p] == e) {
                sorted_pairs[out++] = p;
            }
        }
    }
}
