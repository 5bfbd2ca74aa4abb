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
// (wholly before a sliding window) holds nothing and is skipped.
void MergeSpanPartials(const float* first, int64_t num_spans, int64_t span_stride, int64_t dv, float* o);

}  // namespace swarmkv::internal
