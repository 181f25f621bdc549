// MoE routing (CPU reference: kernels/cpu topk_softmax): per token the top_k of n_experts router
// logits, sorted descending (ties: lower index first; NaN ranks first, as torch.topk), weights =
// softmax over those k. Then the (token, slot) pairs p = token·top_k + slot are grouped by expert,
// in ascending p within an expert, and cut into tiles of at most `tile_size` pairs that the expert
// kernels consume (mxfp4w_moe_matmul.cu). One block of 1024 threads; n·top_k ≤ max_pairs. A thread per token takes
// the top_k; a warp per expert groups its pairs with ballots over the pairs in order.
#include "common.cuh"

using namespace tllm_dev;

namespace {

constexpr int kMaxExperts = 256;
// Pairs whose expert the block keeps in shared memory for the grouping scans (2048 tokens × top 8); the rest are
// read back from pair_expert.
constexpr int kSharedPairs = 16384;

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

// Warp-wide top_k (≤ 8) of row[0, n_experts) in ranking order; every lane gets the result. Each
// round takes the best remaining expert; taken experts are marked by index.
__device__ __forceinline__ void
warp_topk(const float* row, int n_experts, int top_k, int lane, float* chosen, int* chosen_id) {
    u64 taken[kMaxExperts / 64] = {0, 0, 0, 0};
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
        chosen[slot] = best;
        chosen_id[slot] = best_id;
    }
}

// One thread's top_k (≤ 8) of row[0, n_experts) in ranking order, by insertion while the row is read once: the
// experts come in index order, so an equal later logit never passes an earlier one.
__device__ __forceinline__ void
thread_topk(const float* row, int n_experts, int top_k, float (&chosen)[8], int (&chosen_id)[8]) {
#pragma unroll
    for (int slot = 0; slot < 8; ++slot) {
        chosen[slot] = 0.0f;
        chosen_id[slot] = -1; // empty
    }
    for (int e = 0; e < n_experts; ++e) {
        float v = row[e];
        int id = e;
#pragma unroll
        for (int slot = 0; slot < 8; ++slot) {
            if (slot < top_k && (chosen_id[slot] < 0 || ranks_before(v, id, chosen[slot], chosen_id[slot]))) {
                const float held = chosen[slot];
                const int held_id = chosen_id[slot];
                chosen[slot] = v;
                chosen_id[slot] = id;
                v = held;
                id = held_id;
            }
        }
    }
}

} // namespace

TLLM_KERNEL void __launch_bounds__(1024)
    topk_route(const float* logits, // [n, n_experts]
               int n,
               int n_experts,
               int top_k,
               int tile_size,
               int* pair_expert,   // [n·top_k]
               float* pair_weight, // [n·top_k]
               int* sorted_pairs,  // [n·top_k]
               MoeTile* tiles,     // [max_moe_tiles(n·top_k, n_experts, tile_size)] (kernels/cuda/ops.h)
               int* n_tiles) {
    grid_dependency_wait();
    allow_dependents();
    __shared__ int counts[kMaxExperts];
    __shared__ int offsets[kMaxExperts];
    __shared__ int first_tile[kMaxExperts];
    __shared__ u8 expert_of[kSharedPairs]; // pair_expert's first kSharedPairs, for the scans below
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int n_warps = blockDim.x >> 5;
    // A thread per token: its logits read once, no shuffles.
    for (int t = threadIdx.x; t < n; t += blockDim.x) {
        const float* row = logits + static_cast<i64>(t) * n_experts;
        float chosen[8];
        int chosen_id[8];
        thread_topk(row, n_experts, top_k, chosen, chosen_id);
        const float max_logit = chosen[0];
        float e_values[8];
        float sum = 0.0f;
#pragma unroll
        for (int slot = 0; slot < 8; ++slot) {
            if (slot < top_k) {
                e_values[slot] = expf(chosen[slot] - max_logit);
                sum += e_values[slot];
            }
        }
#pragma unroll
        for (int slot = 0; slot < 8; ++slot) {
            if (slot < top_k) {
                const int p = t * top_k + slot;
                pair_expert[p] = chosen_id[slot];
                pair_weight[p] = e_values[slot] / sum;
                if (p < kSharedPairs) {
                    expert_of[p] = static_cast<u8>(chosen_id[slot]);
                }
            }
        }
    }
    __syncthreads();
    const int n_pairs = n * top_k;
    auto expert_at = [&](int p) { return p < kSharedPairs ? static_cast<int>(expert_of[p]) : pair_expert[p]; };
    // Warp w groups experts w, w + n_warps, ...: a ballot over 32 pairs at a time, in order, counts them, and a
    // second pass places them in ascending order (stable without atomics).
    for (int e = warp; e < n_experts; e += n_warps) {
        int count = 0;
        for (int base = 0; base < n_pairs; base += 32) {
            const int p = base + lane;
            count += __popc(__ballot_sync(0xffffffffu, p < n_pairs && expert_at(p) == e));
        }
        if (lane == 0) {
            counts[e] = count;
        }
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        int offset = 0;
        int tile = 0;
        for (int e = 0; e < n_experts; ++e) {
            offsets[e] = offset;
            first_tile[e] = tile;
            offset += counts[e];
            tile += (counts[e] + tile_size - 1) / tile_size;
        }
        *n_tiles = tile;
    }
    __syncthreads();
    for (int e = threadIdx.x; e < n_experts; e += blockDim.x) {
        int tile = first_tile[e];
        for (int first = 0; first < counts[e]; first += tile_size, ++tile) {
            tiles[tile].expert = e;
            tiles[tile].first = offsets[e] + first;
            tiles[tile].count = min(tile_size, counts[e] - first);
            tiles[tile].pad = 0;
        }
    }
    for (int e = warp; e < n_experts; e += n_warps) {
        int out = offsets[e];
        for (int base = 0; base < n_pairs; base += 32) {
            const int p = base + lane;
            const bool mine = p < n_pairs && expert_at(p) == e;
            const u32 mask = __ballot_sync(0xffffffffu, mine);
            if (mine) {
                sorted_pairs[out + __popc(mask & ((1u << lane) - 1u))] = p;
            }
            out += __popc(mask);
        }
    }
}

// Decode (one token): the MLP's RMSNorm, the router and the routing in one launch instead of three.
// Each block normalizes the row itself (block 0 writes normed for the expert kernels) and computes
// the router logit of one expert with all 32 warps (a decode launch is latency-bound); the last block to finish takes
// the top_k with the same ranking as topk_route and writes one tile per chosen expert, in expert
// order. Grid: ceil(n_experts / kExpertsPerBlock) blocks of 1024 threads; dynamic shared memory:
// d + n_experts floats. `ticket` must be 0 before the launch and is 0 again after it.
TLLM_KERNEL void __launch_bounds__(1024) norm_router_topk_decode(const float* residual, // [d]
                                                                 int d,
                                                                 const u16* norm_scale, // [d] bf16
                                                                 float eps,
                                                                 float* normed,       // [d]
                                                                 const u16* router_w, // [n_experts, d] bf16
                                                                 const u16* router_b, // [n_experts] bf16
                                                                 int n_experts,
                                                                 int top_k,
                                                                 float* logits_out,  // [n_experts]
                                                                 int* ticket,        // [1]
                                                                 int* pair_expert,   // [top_k]
                                                                 float* pair_weight, // [top_k]
                                                                 int* sorted_pairs,  // [top_k]
                                                                 MoeTile* tiles,     // [top_k]
                                                                 int* n_tiles,
                                                                 int round) {
    constexpr int kExpertsPerBlock = 1;
    constexpr int kWarpsPerExpert = 32;
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int chunks = d >> 3;
    const int local = warp / kWarpsPerExpert;
    const int part = warp % kWarpsPerExpert;
    const int expert = blockIdx.x * kExpertsPerBlock + local;
    const uint4* router_row = reinterpret_cast<const uint4*>(router_w + static_cast<i64>(expert) * d);
    // The router weights do not depend on earlier kernels: the first chunk is requested before waiting.
    const int first_chunk = lane + 32 * part;
    const bool have_first = expert < n_experts && first_chunk < chunks;
    const uint4 prefetched = have_first ? __ldg(router_row + first_chunk) : make_uint4(0, 0, 0, 0);
    grid_dependency_wait();
    allow_dependents();
    extern __shared__ float shared[];
    float* x = shared;          // [d]
    float* logits = shared + d; // [n_experts]
    __shared__ float scratch[32];
    __shared__ float partial[kExpertsPerBlock][kWarpsPerExpert];
    __shared__ bool last_block;
    float sum_sq = 0.0f;
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
        const float v = residual[i];
        x[i] = v;
        sum_sq += v * v;
    }
    sum_sq = block_sum(sum_sq, scratch);
    const float inv_rms = 1.0f / sqrtf(sum_sq / static_cast<float>(d) + eps);
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
        const float v = round_if((x[i] * inv_rms) * bf16_to_f32(norm_scale[i]), round);
        x[i] = v;
        if (blockIdx.x == 0) {
            normed[i] = v;
        }
    }
    __syncthreads();
    float acc = 0.0f;
    if (expert < n_experts) {
        for (int c = first_chunk; c < chunks; c += 32 * kWarpsPerExpert) {
            const uint4 q = c == first_chunk ? prefetched : __ldg(router_row + c);
            const float* xv = x + c * 8;
            acc += bf16_to_f32(q.x & 0xffff) * xv[0] + bf16_to_f32(q.x >> 16) * xv[1] +
                   bf16_to_f32(q.y & 0xffff) * xv[2] + bf16_to_f32(q.y >> 16) * xv[3] +
                   bf16_to_f32(q.z & 0xffff) * xv[4] + bf16_to_f32(q.z >> 16) * xv[5] +
                   bf16_to_f32(q.w & 0xffff) * xv[6] + bf16_to_f32(q.w >> 16) * xv[7];
        }
    }
    acc = warp_sum(acc);
    if (lane == 0) {
        partial[local][part] = acc;
    }
    __syncthreads();
    if (threadIdx.x < kExpertsPerBlock) {
        const int e = blockIdx.x * kExpertsPerBlock + threadIdx.x;
        if (e < n_experts) {
            float sum = 0.0f;
            for (int p = 0; p < kWarpsPerExpert; ++p) {
                sum += partial[threadIdx.x][p];
            }
            logits_out[e] = sum + bf16_to_f32(router_b[e]);
        }
    }
    // The last block to finish routes: its view of every block's logits is complete after the fence.
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) {
        last_block = atomicAdd(ticket, 1) == static_cast<int>(gridDim.x) - 1;
    }
    __syncthreads();
    if (!last_block) {
        return;
    }
    __threadfence();
    for (int e = threadIdx.x; e < n_experts; e += blockDim.x) {
        logits[e] = reinterpret_cast<volatile float*>(logits_out)[e];
    }
    __syncthreads();
    if (warp != 0) {
        return;
    }
    if (lane == 0) {
        *ticket = 0;
    }
    float chosen[8];
    int chosen_id[8];
    warp_topk(logits, n_experts, top_k, lane, chosen, chosen_id);
    if (lane == 0) {
        float e_values[8];
        float sum = 0.0f;
        for (int slot = 0; slot < top_k; ++slot) {
            e_values[slot] = expf(chosen[slot] - chosen[0]);
            sum += e_values[slot];
        }
        for (int slot = 0; slot < top_k; ++slot) {
            pair_expert[slot] = chosen_id[slot];
            pair_weight[slot] = e_values[slot] / sum;
            // Tiles in ascending expert order, as topk_route makes them: the slot's rank among the chosen.
            int rank = 0;
            for (int o = 0; o < top_k; ++o) {
                rank += chosen_id[o] < chosen_id[slot];
            }
            sorted_pairs[rank] = slot;
            tiles[rank].expert = chosen_id[slot];
            tiles[rank].first = rank;
            tiles[rank].count = 1;
            tiles[rank].pad = 0;
        }
        *n_tiles = top_k;
    }
}
