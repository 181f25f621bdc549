// CudaForward's steps over a paged KV store (issue 13): many sequences' chunks in one pass, their logits either
// brought to the host or sampled on the GPU, each row with its own parameters, seed and counter.
#include "core/check.h"
#include "model/forward_cuda.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>
#include <tuple>

namespace tllm {
namespace {

// The logits' rounding: bf16 precision rounds them as the model's bf16 unembedding does; the f32 reference does not.
cuda::Rounding paged_rounding(const CudaPagedKvStore& store) {
    return store.dtype() == DType::kBF16 ? cuda::Rounding::kBf16 : cuda::Rounding::kNone;
}

} // namespace

Result<CudaForward::PagedStepInputs> CudaForward::gather_paged_inputs(const CudaPagedKvStore& store,
                                                                      std::span<const PagedChunk> chunks) const {
    const GptOssConfig& c = weights_.config();
    PagedStepInputs in;
    // Chunks too short for the prefill attention kernel (decode tokens) go first, so that the split kernel takes the
    // first split_tokens rows; the longer ones follow as runs of the prefill kernel. logit_rows stay in chunk order.
    const bool prefill_kernel = store.dtype() == DType::kBF16 && (c.head_dim == 64 || c.head_dim == 128);
    auto short_chunk = [&](const PagedChunk& chunk) {
        return !prefill_kernel || chunk.tokens.size() < size_t{cuda::OpKernels::kPrefillAttentionTokens};
    };
    std::vector<int32_t> last_row(chunks.size(), -1);
    for (int pass = 0; pass < 2; ++pass) {
        for (size_t index = 0; index < chunks.size(); ++index) {
            const PagedChunk& chunk = chunks[index];
            if (short_chunk(chunk) != (pass == 0)) {
                continue;
            }
            TLLM_CHECK(!chunk.tokens.empty() && chunk.start >= 0, "paged chunk of {} tokens at {}", chunk.tokens.size(),
                       chunk.start);
            const int64_t end = chunk.start + static_cast<int64_t>(chunk.tokens.size());
            for (int group = 0; group < 2; ++group) { // the scheduler's books cover the step: a short table is a bug
                TLLM_CHECK(static_cast<int64_t>(chunk.tables[group].size()) * store.layout().block_tokens >= end,
                           "block table of {} blocks for positions up to {}", chunk.tables[group].size(), end);
            }
            if (pass == 1) {
                in.prefill_runs.push_back({static_cast<int32_t>(in.tokens.size()),
                                           static_cast<int32_t>(chunk.tokens.size()),
                                           static_cast<int32_t>(chunk.start)});
            }
            for (size_t i = 0; i < chunk.tokens.size(); ++i) {
                int32_t token = chunk.tokens[i];
                if (token < 0) { // fed back: the previous launched step's sampling row −1 − token
                    const size_t row = static_cast<size_t>(-1 - static_cast<int64_t>(token));
                    if (row >= fed_back_rows_.size()) {
                        return make_error(ErrorCode::kInvalidArgument,
                                          "token {} feeds back row {} of a step that sampled {} rows", token, row,
                                          fed_back_rows_.size());
                    }
                    token = -1 - fed_back_rows_[row];
                } else if (token >= c.vocab_size) {
                    return make_error(ErrorCode::kInvalidArgument, "token id {} outside vocabulary [0, {})", token,
                                      c.vocab_size);
                }
                in.tokens.push_back(token);
                in.positions.push_back(static_cast<int32_t>(chunk.start + static_cast<int64_t>(i)));
                for (int group = 0; group < 2; ++group) {
                    in.offsets[group].push_back(static_cast<int32_t>(in.tables[group].size()));
                }
            }
            for (int group = 0; group < 2; ++group) {
                in.tables[group].insert(in.tables[group].end(), chunk.tables[group].begin(), chunk.tables[group].end());
            }
            last_row[index] = static_cast<int32_t>(in.tokens.size()) - 1;
        }
        if (pass == 0) {
            in.split_tokens = static_cast<int32_t>(in.tokens.size());
        }
    }
    for (size_t index = 0; index < chunks.size(); ++index) {
        const PagedChunk& chunk = chunks[index];
        if (chunk.logits) { // a chunk's rows follow one another, whichever pass placed it
            const auto first =
                chunk.all_logits ? last_row[index] + 1 - static_cast<int32_t>(chunk.tokens.size()) : last_row[index];
            for (int32_t row = first; row <= last_row[index]; ++row) {
                in.logit_rows.push_back(row);
            }
        }
    }
    const int n = static_cast<int>(in.tokens.size());
    if (n == 0 || n > max_step_tokens_) {
        return make_error(ErrorCode::kInvalidArgument, "a paged step of {} tokens (1 to {} per step)", n,
                          max_step_tokens_);
    }
    return in;
}

Status CudaForward::begin_staging(size_t bytes) {
    TLLM_CHECK(launched_.size() <= 1, "a paged step launched with {} not collected", launched_.size());
    slot_ = launched_.empty() ? slot_ ^ 1 : launched_.front().slot ^ 1;
    StagingSlot& slot = staging_[slot_];
    if (slot.unfinished) { // a step failed half-way: its copies may still read the slot
        TLLM_RETURN_IF_ERROR(stream_.synchronize());
    } else if (slot.done.get() != nullptr) {
        TLLM_RETURN_IF_ERROR(slot.done.synchronize());
    } else {
        TLLM_ASSIGN_OR_RETURN(slot.done, cuda::Event::create(context_));
    }
    slot.unfinished = true;
    staged_bytes_ = 0;
    if (slot.buffer.bytes() < bytes) {
        slot.buffer = cuda::PinnedBuffer();
        TLLM_ASSIGN_OR_RETURN(slot.buffer,
                              cuda::PinnedBuffer::allocate(context_, std::max<size_t>(2 * bytes, 64 << 10)));
    }
    return {};
}

Status CudaForward::end_staging() {
    TLLM_RETURN_IF_ERROR(staging_[slot_].done.record(stream_));
    staging_[slot_].unfinished = false;
    return {};
}

uint8_t* CudaForward::staging_slot(size_t bytes) {
    const cuda::PinnedBuffer& buffer = staging_[slot_].buffer;
    TLLM_CHECK(staged_bytes_ + bytes <= buffer.bytes(), "staging {} bytes past {} of {}", bytes, staged_bytes_,
               buffer.bytes());
    uint8_t* host = buffer.as<uint8_t>() + staged_bytes_;
    staged_bytes_ += (bytes + 15) / 16 * 16;
    return host;
}

Status CudaForward::stage_copy(CUdeviceptr dst, const void* src, size_t bytes) {
    if (bytes == 0) {
        return {};
    }
    uint8_t* host = staging_slot(bytes);
    std::memcpy(host, src, bytes);
    TLLM_CU_RETURN(context_.driver(), cuMemcpyHtoDAsync(dst, host, bytes, stream_.get()));
    return {};
}

Result<const uint8_t*> CudaForward::stage_read(CUdeviceptr src, size_t bytes) {
    uint8_t* host = staging_slot(bytes);
    if (bytes > 0) {
        TLLM_CU_RETURN(context_.driver(), cuMemcpyDtoHAsync(host, src, bytes, stream_.get()));
    }
    return host;
}

Result<CudaForward::StepKv> CudaForward::upload_paged_inputs(const CudaPagedKvStore& store, const PagedStepInputs& in) {
    StepKv kv;
    kv.paged = &store;
    std::vector<int32_t> plan;
    if (!in.prefill_runs.empty()) {
        const GptOssConfig& c = weights_.config();
        plan = cuda::OpKernels::prefill_attention_plan(in.prefill_runs, static_cast<int>(c.n_heads / c.n_kv_heads),
                                                       static_cast<int>(c.head_dim));
    }
    // Every input of the step, the sampler's counters and seeds, the sampled tokens and the log-probabilities' rows
    // and results (launch_paged_sampled), 16 bytes of alignment each.
    const size_t n = in.tokens.size();
    size_t bytes = 13 * 16 + 4 * (2 * n + plan.size()) + 24 * n + 4 * n * (1 + 2 * cuda::OpKernels::kMaxLogprobsTop);
    for (int group = 0; group < 2; ++group) {
        bytes += 4 * (in.tables[group].size() + in.offsets[group].size());
    }
    TLLM_RETURN_IF_ERROR(begin_staging(bytes));
    for (int group = 0; group < 2; ++group) {
        TLLM_RETURN_IF_ERROR(reserve_tables(group, std::max<size_t>(in.tables[group].size(), 1) * 4));
        TLLM_RETURN_IF_ERROR(stage_copy(tables_[group].ptr(), in.tables[group].data(), in.tables[group].size() * 4));
        TLLM_RETURN_IF_ERROR(
            stage_copy(table_offsets_[group].ptr(), in.offsets[group].data(), in.offsets[group].size() * 4));
        kv.rows[group] = {tables_[group].as<int32_t>(), table_offsets_[group].as<int32_t>(),
                          store.layout().block_tokens, static_cast<int32_t>(store.layout().block_rows())};
    }
    TLLM_RETURN_IF_ERROR(stage_copy(tokens_.ptr(), in.tokens.data(), n * 4));
    TLLM_RETURN_IF_ERROR(stage_copy(positions_.ptr(), in.positions.data(), n * 4));
    kv.split_tokens = in.split_tokens;
    if (!plan.empty()) {
        if (prefill_plan_.bytes() < plan.size() * 4) {
            TLLM_RETURN_IF_ERROR(stream_.synchronize()); // a step in flight may read the old buffer
            TLLM_ASSIGN_OR_RETURN(prefill_plan_, cuda::DeviceBuffer::allocate(context_, plan.size() * 4 * 2));
        }
        TLLM_RETURN_IF_ERROR(stage_copy(prefill_plan_.ptr(), plan.data(), plan.size() * 4));
        kv.prefill_plan = prefill_plan_.as<int32_t>();
        kv.prefill_blocks = static_cast<int>(plan.size() / 4);
    }
    return kv;
}

Result<std::vector<int32_t>> CudaForward::enqueue_paged(const CudaPagedKvStore& store,
                                                        std::span<const PagedChunk> chunks) {
    TLLM_ASSIGN_OR_RETURN(PagedStepInputs in, gather_paged_inputs(store, chunks));
    TLLM_ASSIGN_OR_RETURN(const StepKv kv, upload_paged_inputs(store, in));
    const int n = static_cast<int>(in.tokens.size());
    TLLM_RETURN_IF_ERROR(
        enqueue_layers(kv, n, step_splits(n), *std::max_element(in.positions.begin(), in.positions.end()) + 1));
    return std::move(in.logit_rows);
}

Status CudaForward::reserve_tables(int group, size_t bytes) {
    if (table_offsets_[group].bytes() == 0) {
        TLLM_ASSIGN_OR_RETURN(table_offsets_[group],
                              cuda::DeviceBuffer::allocate(context_, static_cast<size_t>(max_step_tokens_) * 4));
    }
    if (tables_[group].bytes() < bytes) {
        TLLM_RETURN_IF_ERROR(stream_.synchronize()); // a step in flight may read the old buffer and graphs
        paged_graphs_.clear();
        TLLM_ASSIGN_OR_RETURN(tables_[group], cuda::DeviceBuffer::allocate(context_, 2 * bytes));
    }
    return {};
}

Status CudaForward::run_paged_decode_graph(const CudaPagedKvStore& store, std::span<const PagedChunk> chunks) {
    TLLM_ASSIGN_OR_RETURN(PagedStepInputs in, gather_paged_inputs(store, chunks));
    const int n = static_cast<int>(in.tokens.size());
    int bucket = 1;
    while (bucket < n) {
        bucket *= 2;
    }
    bucket = std::min<int>(bucket, static_cast<int>(max_step_tokens_));
    const int32_t max_position = *std::max_element(in.positions.begin(), in.positions.end());
    // Padding tokens: token 0 at position 0 of the padding block, all of them (they write the same row, with the
    // same values).
    in.tokens.resize(static_cast<size_t>(bucket), 0);
    in.positions.resize(static_cast<size_t>(bucket), 0);
    in.split_tokens = bucket; // every row, padding included: the graph serves any count of its bucket
    for (int group = 0; group < 2; ++group) {
        in.offsets[group].resize(static_cast<size_t>(bucket), static_cast<int32_t>(in.tables[group].size()));
        in.tables[group].push_back(store.padding_block());
    }
    TLLM_ASSIGN_OR_RETURN(const StepKv kv, upload_paged_inputs(store, in));
    // The attention kernels depend on whether any key count reaches the tensor-core bound (OpKernels).
    const bool short_context = max_position + 1 < cuda::OpKernels::kTensorCoreDecodeKeys;
    const auto key = std::make_tuple(store.identity(), bucket, short_context);
    auto graph = paged_graphs_.find(key);
    if (graph == paged_graphs_.end()) {
        TLLM_RETURN_IF_ERROR(cuda::Graph::begin_capture(stream_));
        Status status = enqueue_layers(kv, bucket, step_splits(bucket),
                                       short_context ? cuda::OpKernels::kTensorCoreDecodeKeys - 1
                                                     : std::numeric_limits<int>::max());
        if (status.ok()) {
            status = enqueue_unembedding(normed_.as<float>(), bucket, paged_rounding(store));
        }
        Result<cuda::Graph> captured = cuda::Graph::end_capture(stream_);
        TLLM_RETURN_IF_ERROR(status);
        if (!captured.ok()) {
            return captured.error();
        }
        graph = paged_graphs_.emplace(key, std::move(captured.value())).first;
    }
    return graph->second.launch(stream_);
}

Status CudaForward::enqueue_gathered_unembedding(std::span<const int32_t> rows, cuda::Rounding rounding) {
    // The wanted rows of the final norm's output, one after another (the residual stream is free once the layers
    // are done), then one unembedding over them.
    const size_t row_bytes = static_cast<size_t>(weights_.config().hidden_size) * 4;
    const CUdeviceptr gathered = residual_.ptr();
    for (size_t r = 0; r < rows.size();) {
        size_t run = 1; // rows that follow one another copy at once
        while (r + run < rows.size() && rows[r + run] == rows[r] + static_cast<int32_t>(run)) {
            ++run;
        }
        TLLM_CU_RETURN(context_.driver(), cuMemcpyDtoDAsync(gathered + r * row_bytes,
                                                            normed_.ptr() + static_cast<size_t>(rows[r]) * row_bytes,
                                                            run * row_bytes, stream_.get()));
        r += run;
    }
    return enqueue_unembedding(residual_.as<float>(), static_cast<int>(rows.size()), rounding);
}

Status
CudaForward::run_paged(const CudaPagedKvStore& store, std::span<const PagedChunk> chunks, std::vector<float>& logits) {
    TLLM_CHECK(launched_.empty(), "run_paged with {} sampled steps not collected", launched_.size());
    TLLM_ASSIGN_OR_RETURN(const std::vector<int32_t> logit_rows, enqueue_paged(store, chunks));
    fed_back_rows_.clear(); // nothing sampled: nothing to feed back
    logits.clear();
    if (!logit_rows.empty()) {
        TLLM_RETURN_IF_ERROR(enqueue_gathered_unembedding(logit_rows, paged_rounding(store)));
    }
    TLLM_RETURN_IF_ERROR(end_staging());
    TLLM_RETURN_IF_ERROR(stream_.synchronize());
    if (logit_rows.empty()) {
        return {};
    }
    logits.resize(logit_rows.size() * static_cast<size_t>(weights_.config().vocab_size));
    return logits_.download(logits.data(), logits.size() * 4);
}

Status CudaForward::launch_paged_sampled(const CudaPagedKvStore& store,
                                         std::span<const PagedChunk> chunks,
                                         std::span<const PagedSampling> sampling) {
    const size_t wanted =
        static_cast<size_t>(std::count_if(chunks.begin(), chunks.end(), [](const PagedChunk& c) { return c.logits; }));
    TLLM_CHECK(sampling.size() == wanted, "{} sampling rows for {} chunks wanting logits", sampling.size(), wanted);
    LaunchedStep step;
    // The sampler runs one chain of kernels per set of (temperature, top_k, top_p), over contiguous rows: the rows
    // are unembedded grouped by their parameters, each row with its own seed and counter.
    auto key = [&](size_t i) {
        const cuda::SampleParams& p = sampling[i].params;
        return std::make_tuple(p.temperature, p.top_k, p.top_p);
    };
    std::vector<size_t>& order = step.order; // logits row → sampling row
    order.resize(wanted);
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key(a) < key(b); });
    const bool decode_only = wanted == chunks.size() && std::all_of(chunks.begin(), chunks.end(),
                                                                    [](const auto& c) { return c.tokens.size() == 1; });
    if (decode_only && !chunks.empty() && static_cast<int64_t>(chunks.size()) <= max_step_tokens_) {
        // Every chunk samples, so sampling row i is chunk i; the step's rows are the chunks in sampling order.
        std::vector<PagedChunk> sorted(wanted);
        for (size_t g = 0; g < wanted; ++g) {
            sorted[g] = chunks[order[g]];
        }
        TLLM_RETURN_IF_ERROR(run_paged_decode_graph(store, sorted));
    } else {
        TLLM_ASSIGN_OR_RETURN(const std::vector<int32_t> logit_rows, enqueue_paged(store, chunks));
        if (wanted > 0) {
            std::vector<int32_t> gathered_rows(wanted);
            for (size_t g = 0; g < wanted; ++g) {
                gathered_rows[g] = logit_rows[order[g]];
            }
            TLLM_RETURN_IF_ERROR(enqueue_gathered_unembedding(gathered_rows, paged_rounding(store)));
        }
    }
    std::vector<uint64_t> counters(wanted);
    std::vector<uint64_t> seeds(wanted);
    for (size_t g = 0; g < wanted; ++g) {
        counters[g] = sampling[order[g]].counter;
        seeds[g] = sampling[order[g]].params.seed;
    }
    TLLM_RETURN_IF_ERROR(stage_copy(row_counters_.ptr(), counters.data(), wanted * 8));
    TLLM_RETURN_IF_ERROR(stage_copy(row_seeds_.ptr(), seeds.data(), wanted * 8));
    const size_t vocab = static_cast<size_t>(weights_.config().vocab_size);
    for (size_t first = 0; first < wanted;) {
        size_t last = first + 1;
        while (last < wanted && key(order[last]) == key(order[first])) {
            ++last;
        }
        TLLM_RETURN_IF_ERROR(sampler_->enqueue(stream_.get(), logits_.ptr() + first * vocab * 4,
                                               static_cast<int64_t>(last - first), sampling[order[first]].params,
                                               row_counters_.ptr() + first * 8, row_tokens_.ptr() + first * 4,
                                               row_seeds_.ptr() + first * 8));
        first = last;
    }
    // Log-probabilities on the GPU for the rows that ask (a few numbers a row come back, not the row's logits).
    for (size_t g = 0; g < wanted; ++g) {
        step.top_logprobs.push_back(sampling[g].top_logprobs);
        if (sampling[order[g]].top_logprobs >= 0) {
            step.logprob_rows.push_back(static_cast<int32_t>(g));
            step.top = std::max(step.top, static_cast<int>(sampling[order[g]].top_logprobs));
        }
    }
    TLLM_CHECK(step.top <= cuda::OpKernels::kMaxLogprobsTop, "top_logprobs {} past {}", step.top,
               cuda::OpKernels::kMaxLogprobsTop);
    const size_t asked = step.logprob_rows.size();
    const size_t top = static_cast<size_t>(step.top);
    if (asked > 0) {
        TLLM_RETURN_IF_ERROR(stage_copy(logprob_rows_.ptr(), step.logprob_rows.data(), asked * 4));
        TLLM_RETURN_IF_ERROR(kernels_.logits_logprobs(stream_.get(), logits_.as<float>(), static_cast<int>(vocab),
                                                      logprob_rows_.as<int32_t>(), static_cast<int>(asked),
                                                      row_tokens_.as<int32_t>(), step.top, logprob_values_.as<float>(),
                                                      logprob_top_ids_.as<int32_t>(), logprob_top_.as<float>()));
    }
    // The results come back through the staging too, read when the step is collected.
    TLLM_ASSIGN_OR_RETURN(step.sampled, stage_read(row_tokens_.ptr(), wanted * 4));
    TLLM_ASSIGN_OR_RETURN(step.values, stage_read(logprob_values_.ptr(), asked * 4));
    TLLM_ASSIGN_OR_RETURN(step.top_ids, stage_read(logprob_top_ids_.ptr(), asked * top * 4));
    TLLM_ASSIGN_OR_RETURN(step.top_values, stage_read(logprob_top_.ptr(), asked * top * 4));
    TLLM_RETURN_IF_ERROR(end_staging());
    step.slot = slot_;
    // Rows that keep their logits (tests, mostly) download them now: the next step rewrites logits_.
    step.kept_logits.assign(wanted, {});
    if (std::any_of(sampling.begin(), sampling.end(), [](const PagedSampling& row) { return row.keep_logits; })) {
        TLLM_RETURN_IF_ERROR(stream_.synchronize());
    }
    for (size_t g = 0; g < wanted; ++g) {
        const size_t i = order[g];
        if (sampling[i].keep_logits) {
            step.kept_logits[i].resize(vocab);
            TLLM_RETURN_IF_ERROR(logits_.download(step.kept_logits[i].data(), vocab * 4, g * vocab * 4));
        }
    }
    fed_back_rows_.assign(wanted, 0);
    for (size_t g = 0; g < wanted; ++g) {
        fed_back_rows_[order[g]] = static_cast<int32_t>(g);
    }
    launched_.push_back(std::move(step));
    return {};
}

void CudaForward::abandon_launched() {
    launched_.clear();
    fed_back_rows_.clear();
    for (StagingSlot& slot : staging_) {
        slot.unfinished = true;
    }
}

Status CudaForward::collect_paged_sampled(std::vector<int32_t>& tokens,
                                          std::vector<std::vector<float>>& kept_logits,
                                          std::vector<RowLogprobs>* logprobs) {
    TLLM_CHECK(!launched_.empty(), "collect_paged_sampled without a step launched");
    LaunchedStep step = std::move(launched_.front());
    launched_.erase(launched_.begin());
    TLLM_RETURN_IF_ERROR(staging_[step.slot].done.synchronize());
    const size_t wanted = step.order.size();
    const size_t top = static_cast<size_t>(step.top);
    tokens.assign(wanted, -1);
    for (size_t g = 0; g < wanted; ++g) {
        std::memcpy(&tokens[step.order[g]], step.sampled + g * 4, 4);
    }
    kept_logits = std::move(step.kept_logits);
    if (logprobs != nullptr) {
        logprobs->assign(wanted, {});
        for (size_t a = 0; a < step.logprob_rows.size(); ++a) {
            const size_t i = step.order[static_cast<size_t>(step.logprob_rows[a])];
            RowLogprobs& out = (*logprobs)[i];
            std::memcpy(&out.logprob, step.values + a * 4, 4);
            for (size_t t = 0; t < static_cast<size_t>(step.top_logprobs[i]); ++t) {
                int32_t id = 0;
                float value = 0;
                std::memcpy(&id, step.top_ids + (a * top + t) * 4, 4);
                std::memcpy(&value, step.top_values + (a * top + t) * 4, 4);
                out.top.emplace_back(id, value);
            }
        }
    }
    return {};
}

} // namespace tllm
