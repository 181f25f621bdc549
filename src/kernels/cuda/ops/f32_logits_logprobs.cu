// Log-probabilities of sampled rows on the GPU, so that only a few numbers a row cross to the host (CPU reference:
// kernels/cpu logits_logprobs): for logits row rows[r] ([vocab] f32) with its sampled token tokens[rows[r]],
//   logprob[r]                           = x[token] − log Σ exp(x)       (the sum in double)
//   top_ids[r, i], top_logprobs[r, i]    the `top` likeliest tokens, most likely first, ties to the lower id
// Grid: one block per row; block: 1024 threads. Each thread keeps its own `top` best in order while it strides
// over the row, then `top` rounds of a block-wide arg-best take the heads of those lists.
#include "common.cuh"

using namespace tllm_dev;

namespace {

constexpr int kThreads = 1024;
constexpr int kWarps = kThreads / 32;
constexpr int kMaxTop = 20; // OpKernels::kMaxLogprobsTop

// A (value, id) pair as one integer whose order is the ranking: larger values first, then lower ids. NaN ranks last.
__device__ __forceinline__ u64 rank_key(float value, int id) {
    u32 bits = __float_as_uint(value);
    if ((bits & 0x7fffffffu) > 0x7f800000u) {
        bits = 0xffffffffu; // NaN: below every number once flipped
    }
    if (bits == 0x80000000u) {
        bits = 0; // −0 as +0
    }
    const u32 ordered = (bits & 0x80000000u) != 0 ? ~bits : (bits | 0x80000000u);
    return (static_cast<u64>(ordered) << 32) | static_cast<u32>(~static_cast<u32>(id));
}

} // namespace

TLLM_KERNEL void __launch_bounds__(kThreads) f32_logits_logprobs(const float* logits,
                                                                 i32 vocab,
                                                                 const i32* rows,
                                                                 const i32* tokens,
                                                                 int top,
                                                                 float* logprob,
                                                                 i32* top_ids,
                                                                 float* top_logprobs) {
    __shared__ float max_scratch[kWarps];
    __shared__ double sum_scratch[kWarps];
    __shared__ u64 best_scratch[kWarps];
    grid_dependency_wait();
    allow_dependents();
    const int r = blockIdx.x;
    const int row = rows[r];
    const float* x = logits + static_cast<i64>(row) * vocab;

    float max = -__int_as_float(0x7f800000); // −inf; fmaxf passes NaN over
    for (int i = threadIdx.x; i < vocab; i += kThreads) {
        max = fmaxf(max, x[i]);
    }
    const float m = block_max(max, max_scratch);
    double sum = 0;
    for (int i = threadIdx.x; i < vocab; i += kThreads) {
        sum += exp(static_cast<double>(x[i]) - m);
    }
    const double norm = m + log(block_sum(sum, sum_scratch));
    if (threadIdx.x == 0) {
        logprob[r] = static_cast<float>(x[tokens[row]] - norm);
    }
    if (top <= 0) {
        return;
    }

    // The thread's best `top`, best first: a later element ties an earlier one only with a higher id, so only
    // strictly greater keys enter.
    u64 best[kMaxTop];
    int held = 0;
    for (int i = threadIdx.x; i < vocab; i += kThreads) {
        const u64 key = rank_key(x[i], i);
        if (held == top && key <= best[top - 1]) {
            continue;
        }
        int at = held < top ? held : top - 1;
        held = held < top ? held + 1 : held;
        while (at > 0 && best[at - 1] < key) {
            best[at] = best[at - 1];
            --at;
        }
        best[at] = key;
    }
    int head = 0;
    for (int round = 0; round < top; ++round) {
        const u64 mine = head < held ? best[head] : 0;
        const u64 winner = block_max(mine, best_scratch);
        if (head < held && mine == winner) { // keys are unique (the id is in them): one thread holds it
            ++head;
        }
        if (threadIdx.x == 0) {
            const int id = winner == 0 ? 0 : static_cast<int>(~static_cast<u32>(winner));
            top_ids[static_cast<i64>(r) * top + round] = id;
            top_logprobs[static_cast<i64>(r) * top + round] = static_cast<float>(x[id] - norm);
        }
    }
}
