// The tensor-core expert kernels' tiles and shared memory (bf16_mxfp4w_moe_mma.cu), in one place for the kernels
// and for their launcher (ops.cpp, host C++): plain constants, nothing of CUDA's.
#pragma once

namespace tllm_moe_mma {

constexpr int kBlockRows = 256; // weight rows of a block: 4 warps of 64
constexpr int kThreads = 128;
constexpr int kStageK = 64; // k of one pipeline stage: two MXFP4 blocks

// Tiles of 64, 32 or 16 pairs (prefill; batched decode, where experts see a few pairs each). Fewer pairs take less
// shared memory for their activation stages, which leaves room for more stages and more blocks per SM.
constexpr int kLargePairs = 64;
constexpr int kLargeStages = 3;
constexpr int kMediumPairs = 32;
constexpr int kMediumStages = 3;
constexpr int kSmallPairs = 16;
constexpr int kSmallStages = 4;
// f32 per staged activation row: 4 words of padding put the two rows of a quarter warp's 16-byte loads on distinct
// banks.
constexpr int kAStride = kStageK + 4;
constexpr int kWeightStageBytes = kBlockRows * kStageK / 2; // MXFP4 bytes of 256 rows in one stage

#ifndef __CUDACC_RTC__ // host code only: NVRTC compiles device code
// Dynamic shared memory of a block of tiles of `pairs` (16, 32 or 64): its stages of activations and weights, and
// the E8M0 scales of its 256 rows for all of k.
constexpr long long shared_bytes(int pairs, int k) {
    const int stages = pairs == kLargePairs ? kLargeStages : pairs == kMediumPairs ? kMediumStages : kSmallStages;
    return stages * (static_cast<long long>(pairs) * kAStride * 4 + kWeightStageBytes) +
           static_cast<long long>(kBlockRows) * (k / 32);
}
#endif

} // namespace tllm_moe_mma
