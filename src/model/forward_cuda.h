// The gpt-oss forward pass on the GPU (spec §A.2), with the rounding points of CpuForward
// (docs/precision.md). The cache's dtype picks the precision: with a bf16 cache activations are f32
// holding bf16 values where the model keeps bf16; with an f32 cache nothing is rounded (the f32
// reference, as CpuForward's Precision::kF32).
// A step of n tokens runs every layer once over all of them (prefill); decode runs one token per
// step as a captured CUDA graph that also samples the next token on the GPU, so a generated token
// costs one graph launch and no host work.
#pragma once

#include "core/result.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/logits_sampler.h"
#include "kernels/cuda/ops.h"
#include "model/config.h"
#include "model/cuda_weights.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <tuple>
#include <vector>

namespace tllm {

// How one row of a paged step is sampled on the GPU (the sampler's algorithm: runtime/sampler.h).
struct PagedSampling {
    cuda::SampleParams params;
    uint64_t counter = 0;      // the draw's counter (a request's i-th generated token uses i)
    bool keep_logits = false;  // the row's logits come back too
    int32_t top_logprobs = -1; // ≥ 0: the sampled token's log-probability and the top_logprobs likeliest tokens'
};

// A sampled row's log-probabilities (the log-softmax of its logits): the sampled token's, and the likeliest tokens'
// (id, log-probability), most likely first, ties to the lower id.
struct RowLogprobs {
    float logprob = 0;
    std::vector<std::pair<int32_t, float>> top;
};

class CudaForward {
  public:
    // max_step_tokens bounds the tokens of one step (longer inputs run in chunks).
    static Result<std::unique_ptr<CudaForward>> create(const cuda::CudaContext& context,
                                                       cuda::KernelRegistry& registry,
                                                       const cuda::OpKernels& kernels,
                                                       const CudaWeights& weights,
                                                       int64_t max_step_tokens);
    // Scratch bytes create() allocates on the GPU, for the memory check before loading weights.
    static uint64_t scratch_bytes(const GptOssConfig& config, int64_t max_step_tokens);

    // Appends tokens to the cache and returns logits: [n or 1, vocab] f32 (like CpuForward::run).
    Status run(CudaKvCache& cache, std::span<const int32_t> tokens, bool all_logits, std::vector<float>& logits);

    // Decodes `steps` tokens after `token` (the sequence's next input, not yet in the cache): each step
    // appends one token and samples the next with `params`, the sampler's counter starting at
    // `counter`. out receives the `steps` sampled tokens; the last one is not yet in the cache.
    Status decode(CudaKvCache& cache,
                  int32_t token,
                  int64_t steps,
                  const cuda::SampleParams& params,
                  uint64_t counter,
                  std::vector<int32_t>& out);

    // One step over many sequences in a paged store (bf16 precision): every chunk's tokens run through the layers
    // together, attention per token over its own block tables. logits gets [chunks wanting logits, vocab] f32 in
    // chunk order. kInvalidArgument for token ids outside the vocabulary or more tokens than one step takes.
    Status run_paged(const CudaPagedKvStore& store, std::span<const PagedChunk> chunks, std::vector<float>& logits);
    // The same step with the logits sampled on the GPU, in two halves, so that the host prepares the next step while
    // the GPU runs this one: launch_paged_sampled queues the step, collect_paged_sampled waits for the oldest step
    // launched and not yet collected and gives its results: tokens[i] the token of the i-th chunk wanting logits
    // (sampled with sampling[i]), kept_logits[i] its logits where keep_logits asks (else empty), (*logprobs)[i] its
    // log-probabilities where top_logprobs asks. kInvalidArgument as run_paged, or for sampling parameters outside
    // their ranges. A launch finds at most one step not collected. A chunk token −1 − i stands for the token the
    // previous launched step sampled for its i-th row (read on the device, never on the host).
    Status launch_paged_sampled(const CudaPagedKvStore& store,
                                std::span<const PagedChunk> chunks,
                                std::span<const PagedSampling> sampling);
    Status collect_paged_sampled(std::vector<int32_t>& tokens,
                                 std::vector<std::vector<float>>& kept_logits,
                                 std::vector<RowLogprobs>* logprobs);
    // Forgets the steps launched and not collected (after an error): the next launch waits for the stream.
    void abandon_launched();
    size_t launched_steps() const { return launched_.size(); }

    int64_t max_step_tokens() const { return max_step_tokens_; }
    const cuda::Stream& stream() const { return stream_; }

  private:
    CudaForward(const cuda::CudaContext& context, const cuda::OpKernels& kernels, const CudaWeights& weights)
        : context_(context), kernels_(kernels), weights_(weights) {}
    Status allocate(int64_t max_step_tokens);
    // Where a step's K and V rows go: a sequence's contiguous cache, or a paged store with rows per layer group.
    struct StepKv {
        CudaKvCache* cache = nullptr;
        const CudaPagedKvStore* paged = nullptr;
        cuda::KvRows rows[2];
        // Paged steps: the split kernel takes the first split_tokens rows (−1: all), the prefill kernel the runs of
        // prefill_plan (OpKernels::prefill_attention_plan, prefill_blocks blocks).
        int split_tokens = -1;
        const int32_t* prefill_plan = nullptr;
        int prefill_blocks = 0;
        DType dtype() const { return cache != nullptr ? cache->dtype() : paged->dtype(); }
    };
    // Enqueues one step over n tokens already in tokens_/positions_; logits for the last row (or all
    // rows) land in logits_. max_keys: the most keys a token of the step attends (OpKernels::attention_sinks).
    Status enqueue_step(CudaKvCache& cache, int n, bool all_logits, int n_splits, int max_keys);
    // The layers of a step: the final norm's output lands in normed_.
    Status enqueue_layers(const StepKv& kv, int n, int n_splits, int max_keys);
    // Logits of `rows` rows of the final norm's output starting at `input`, into logits_.
    Status enqueue_unembedding(const float* input, int rows, cuda::Rounding rounding);
    // The dense products' scratch (split k, cuBLASLt).
    cuda::MatmulWorkspace matmul_workspace() const;
    // A paged step's inputs on the host: the chunks' tokens one after another, their positions, the block tables
    // per layer group with each token's offset into them, and the step rows of the chunks that want logits.
    struct PagedStepInputs {
        std::vector<int32_t> tokens;
        std::vector<int32_t> positions;
        std::vector<int32_t> offsets[2];
        std::vector<int32_t> tables[2];
        std::vector<int32_t> logit_rows;
        int32_t split_tokens = 0; // the first rows: chunks too short for the prefill attention kernel
        std::vector<cuda::OpKernels::PrefillRun> prefill_runs;
    };
    // Checks and concatenates the chunks (kInvalidArgument for token ids outside the vocabulary or too many tokens);
    // fed-back tokens become −1 − (their row of row_tokens_).
    Result<PagedStepInputs> gather_paged_inputs(const CudaPagedKvStore& store,
                                                std::span<const PagedChunk> chunks) const;
    // Writes the inputs into tokens_, positions_, tables_ and table_offsets_; the rows that find the KV through them.
    Result<StepKv> upload_paged_inputs(const CudaPagedKvStore& store, const PagedStepInputs& inputs);
    // A paged step's layers (forward_cuda_paged.cpp): the step rows of the chunks that want logits, in chunk order.
    Result<std::vector<int32_t>> enqueue_paged(const CudaPagedKvStore& store, std::span<const PagedChunk> chunks);
    // Logits of the given rows of the final norm's output, gathered in that order into logits_.
    Status enqueue_gathered_unembedding(std::span<const int32_t> rows, cuda::Rounding rounding);
    // Attention splits for a step of n tokens.
    int step_splits(int n) const;
    // A decode step of one token per chunk, every chunk sampling (forward_cuda_paged.cpp): the chunks' tokens padded
    // to a bucket of 1, 2, 4, … tokens (padding writes and reads only the store's padding block) and run as that
    // bucket's captured graph; logits_ row r is chunk r's.
    Status run_paged_decode_graph(const CudaPagedKvStore& store, std::span<const PagedChunk> chunks);
    // Makes tables_[group] hold at least `bytes`; a new buffer drops the paged graphs, which captured the old one.
    Status reserve_tables(int group, size_t bytes);
    // A paged step's host inputs go through page-locked staging, copied on stream_ without blocking the host (a
    // pageable upload waits for its copy): begin_staging takes the staging slot no launched step holds and makes
    // room for `bytes` in it (16-byte aligned each), stage_copy queues one, stage_read queues a copy back whose
    // bytes are on the host once the slot's event has completed (end_staging records it).
    Status begin_staging(size_t bytes);
    Status end_staging();
    Status stage_copy(CUdeviceptr dst, const void* src, size_t bytes);
    Result<const uint8_t*> stage_read(CUdeviceptr src, size_t bytes);
    uint8_t* staging_slot(size_t bytes); // the next `bytes` of the current slot (checked), 16-byte aligned
    int decode_splits(const CudaKvCache& cache) const;
    // The decode graph for positions below `max_keys` (its attention kernels depend on the bound).
    Status capture_decode(CudaKvCache& cache, const cuda::SampleParams& params, int max_keys);
    // The bound a decode graph is captured for, for a token at `position`: a graph serves every position below it.
    int decode_key_bound(const CudaKvCache& cache, int64_t position) const;

    const cuda::CudaContext& context_;
    const cuda::OpKernels& kernels_;
    const CudaWeights& weights_;
    std::unique_ptr<cuda::LogitsSampler> sampler_;
    cuda::Stream stream_;
    int64_t max_step_tokens_ = 0;

    // Scratch for max_step_tokens_ tokens.
    cuda::DeviceBuffer tokens_;            // [n] i32
    cuda::DeviceBuffer positions_;         // [n] i32
    cuda::DeviceBuffer residual_;          // [n, hidden] f32
    cuda::DeviceBuffer normed_;            // [n, hidden] f32
    cuda::DeviceBuffer qkv_;               // [n, q_width + 2·kv_width] f32
    cuda::DeviceBuffer attn_;              // [n, q_width] f32
    cuda::DeviceBuffer split_partials_;    // [splits, min(n, 64), widest dense product] f32 (split k)
    cuda::DeviceBuffer library_inputs_;    // [n, max(hidden, q width)] bf16: cuBLASLt's inputs (when it opened)
    cuda::DeviceBuffer library_workspace_; // CublasLt::kWorkspaceBytes
    cuda::DeviceBuffer partial_stats_;     // [n, n_heads, splits, 2] f32
    cuda::DeviceBuffer partial_acc_;       // [n, n_heads, splits, head_dim] f32
    cuda::DeviceBuffer router_;            // [n, n_experts] f32
    cuda::DeviceBuffer pair_expert_;       // [n·top_k] i32
    cuda::DeviceBuffer pair_weight_;       // [n·top_k] f32
    cuda::DeviceBuffer sorted_pairs_;      // [n·top_k] i32
    cuda::DeviceBuffer tiles_;             // [max tiles] MoeTile
    cuda::DeviceBuffer n_tiles_;           // [1] i32
    cuda::DeviceBuffer attention_tickets_; // [n, n_kv_heads] i32, 0 between launches (split-K merge)
    cuda::DeviceBuffer ticket_;            // [1] i32, 0 between launches (the decode router counts finished blocks)
    cuda::DeviceBuffer act_;               // [n·top_k, intermediate] f32
    cuda::DeviceBuffer expert_out_;        // [n·top_k, hidden] f32
    cuda::DeviceBuffer logits_;            // [n, vocab] f32
    cuda::DeviceBuffer inv_freq_;          // [head_dim/2] f32
    cuda::DeviceBuffer table_offsets_[2];  // paged steps, per layer group: [n] i32, where token t's table starts
    cuda::DeviceBuffer tables_[2];         // paged steps, per layer group: the chunks' block tables, one after another
    cuda::DeviceBuffer prefill_plan_;      // paged steps: [blocks, 4] i32, the prefill attention kernel's blocks
    cuda::DeviceBuffer row_counters_;      // paged steps: [n] u64, each sampled row's counter
    cuda::DeviceBuffer row_seeds_;         // paged steps: [n] u64, each sampled row's seed
    cuda::DeviceBuffer row_tokens_;        // paged steps: [n] i32, each sampled row's token
    float concentration_ = 1.0f;

    // Decode graph state: valid for one cache, one set of sampling parameters and positions below graph_max_keys_.
    cuda::DeviceBuffer counter_; // [1] u64
    cuda::DeviceBuffer history_; // [capacity] i32: sampled tokens by the position they take
    int64_t history_capacity_ = 0;
    std::optional<cuda::Graph> decode_graph_;
    CudaKvCache::Identity graph_cache_{}; // the cache the decode graph captured
    cuda::SampleParams graph_params_{};
    int graph_max_keys_ = 0;
    // Paged decode graphs by (store's identity, bucket, short context): their inputs are tokens_, positions_,
    // tables_ and table_offsets_, rewritten before each replay. Keyed by what they captured, not by the store's
    // address, which a later store may take.
    std::map<std::tuple<CudaPagedKvStore::Identity, int, bool>, cuda::Graph> paged_graphs_;
    cuda::DeviceBuffer logprob_rows_;    // [n] i32: the sampled rows whose log-probabilities are asked for
    cuda::DeviceBuffer logprob_values_;  // [n] f32: their sampled tokens'
    cuda::DeviceBuffer logprob_top_ids_; // [n, kMaxLogprobsTop] i32
    cuda::DeviceBuffer logprob_top_;     // [n, kMaxLogprobsTop] f32
    // Paged steps' staging: two slots, so that one step's inputs are written while the one before runs. A slot
    // whose step failed half-way (its event not recorded) waits for the stream before it is written again.
    struct StagingSlot {
        cuda::PinnedBuffer buffer;
        cuda::Event done; // recorded after the last copy of the step that used it
        bool unfinished = false;
    };
    StagingSlot staging_[2];
    int slot_ = 0;            // the slot of the step being queued
    size_t staged_bytes_ = 0; // of staging_[slot_], queued in this step
    // A paged step launched and not yet collected: where its results land in its staging slot.
    struct LaunchedStep {
        int slot = 0;
        std::vector<size_t> order;                   // sampled row g (rows of row_tokens_ and logits_) → sampling row
        std::vector<int32_t> top_logprobs;           // by sampling row
        std::vector<int32_t> logprob_rows;           // the sampled rows whose log-probabilities come back
        int top = 0;                                 // top entries per such row
        const uint8_t* sampled = nullptr;            // [wanted] i32
        const uint8_t* values = nullptr;             // [asked] f32
        const uint8_t* top_ids = nullptr;            // [asked, top] i32
        const uint8_t* top_values = nullptr;         // [asked, top] f32
        std::vector<std::vector<float>> kept_logits; // by sampling row, downloaded at launch
    };
    std::vector<LaunchedStep> launched_; // oldest first, at most two
    // The last launched step's sampled rows: fed_back_rows_[i] is the row of row_tokens_ its i-th sampling row
    // took, which a fed-back token of the next step reads.
    std::vector<int32_t> fed_back_rows_;
};

} // namespace tllm
