// PagedAttention's f32 mode, the part its two callers share (attention.cc: one sequence's
// queries; attention_cascade.cc: many sequences over a shared prefix): a query's keys are split
// into spans of kAttentionSpanBlocks absolute blocks, each span yields a partial (unnormalised
// accumulators, running max, sum), and the partials are merged in span order. Both kernels must
// use the same spans and the same merge for the same bits.
//
// Invariant: MergeSpanPartials runs one fixed sequence of float operations per (spans, dv),
// compiled once (attention.cc, without contraction into FMAs).
// Thread-safety: pure functions.
#pragma once

#include <cstdint>

namespace swarmkv::internal {

// Absolute KV blocks per span: 16 blocks of 32 tokens = 512 tokens.
inline constexpr int64_t kAttentionSpanBlocks = 16;

// Merges one (query, head)'s `num_spans` (>= 1) span partials, in span order, into `o` (dv
// floats). A partial is dv accumulators, then the span's running max, then its sum (dv + 2
// floats); consecutive spans' partials are `span_stride` floats apart. A span whose max is -inf
// (wholly before a sliding window) holds nothing and is skipped. `sink` (nullable): the head's
// attention-sink logit (AttentionParams::sinks), which joins the merged softmax's denominator
// as a key without value before the division (ApplyAttentionSink's operations).
void MergeSpanPartials(const float* first, int64_t num_spans, int64_t span_stride, int64_t dv, float* o,
                       const float* sink = nullptr);

// llama.cpp's attention sink (ggml flash attention, gpt-oss) for one (query, head) after its
// last key, on the unnormalised f32 accumulators acc[dv], running max M and sum *sum:
//   s > M: ms = expf(M - s), acc *= ms (f32), S = S * ms + 1;   else: S = S + expf(s - M)
// (a multiply, then an add). Compiled in attention.cc without FMA contraction.
void ApplyAttentionSink(float s, float max, float* sum, float* acc, int64_t dv);

}  // namespace swarmkv::internal
