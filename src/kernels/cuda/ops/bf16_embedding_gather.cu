// residual[t] = embedding[tokens[t]] as f32 (bf16 values widen exactly). A negative tokens[t] = −1 − r stands for
// fed_back[r], a token the step before sampled on the device (the batched engine launches a step before the host
// has read the tokens of the one before it). Grid: one block per token.
#include "common.cuh"

using namespace tllm_dev;

TLLM_KERNEL void __launch_bounds__(256)
    bf16_embedding_gather(const u16* table, const i32* tokens, const i32* fed_back, int d, float* residual) {
    grid_dependency_wait();
    allow_dependents();
    const int t = blockIdx.x;
    const int token = tokens[t] >= 0 ? tokens[t] : fed_back[-1 - tokens[t]];
    const u16* source = table + static_cast<i64>(token) * d;
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
        residual[static_cast<i64>(t) * d + i] = bf16_to_f32(source[i]);
    }
}

// Moves a decode graph to the next position: the token just sampled into tokens[0] is recorded as
// history[position + 1] (the position it will take) and the position advances.
TLLM_KERNEL void advance_position(i32* positions, const i32* tokens, i32* history, int capacity) {
    grid_dependency_wait();
    allow_dependents();
    if (threadIdx.x == 0 && blockIdx.x == 0) {
        const int next = positions[0] + 1;
        if (next < capacity) {
            history[next] = tokens[0];
        }
        positions[0] = next;
    }
}
