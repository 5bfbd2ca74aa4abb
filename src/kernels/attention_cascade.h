// Shared-prefix (cascade) attention: PagedAttention for several sequences in one call, reading
// each KV block their block tables share once per step for all of their queries.
//
// How it stays bit-exact (docs/kernels.md "Shared-prefix attention"): PagedAttention visits a
// query's keys block by block in absolute order with a running state — (max, sum, f16 acc) per
// (query, head) in llama.cpp mode, (max, sum, f32 acc) per (query, head, 512-token span) in the
// f32 mode, whose spans are then merged in span order. Nothing in that state depends on other
// queries. So grouping needs no merge of partials: for queries of different sequences whose
// tables hold the same physical block at index b, the loop runs blocks outer and queries inner —
// block b is loaded (and, for many queries, converted to f32) once, then every query advances its
// own running state over it with exactly the operations of its solo traversal; when the tables
// part, each query continues over its own blocks. Per (query, head) the sequence of arithmetic
// operations is the solo path's, whatever the group, tile, thread or ISA, so the bits are too.
// A query's key order is never split across tasks (in the f32 mode a task is a whole span, as in
// the solo path). Grouped-query attention: a task holds query heads of one KV head only.
//
// Groups: consecutive sequences (in the caller's order) whose tables start with the same block
// form a group; within a group, work is tiled over (kv head, run of query heads) and queries
// share a block whenever adjacent ones point at the same one. Callers order sequences so that
// those sharing the longest prefixes are adjacent (OrderForSharedPrefix does it); any order is
// correct, only slower.
//
// Thread-safety: pure over caller buffers (like PagedAttention).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/status.h"
#include "kernels/attention.h"

namespace swarmkv {

// One sequence's share of a multi-sequence attention call: PagedAttention's arguments.
struct AttentionSequence {
  PagedKv kv;  // kv.layout must equal the other sequences' (one layer of one namespace)
  const float* q = nullptr;
  int64_t q_stride = 0;
  const int64_t* positions = nullptr;
  int64_t n_queries = 0;
  float* out = nullptr;
  int64_t out_stride = 0;
};

// For every sequence s, the same bytes as PagedAttention(params, s.kv, s.q, s.q_stride,
// s.positions, s.n_queries, s.out, s.out_stride), computed in one pass that reads shared blocks
// once per group. InvalidArgument like PagedAttention, or if the layouts differ.
Status PagedAttentionShared(const AttentionParams& params, std::span<const AttentionSequence> seqs);

// Leading block pointers two tables have in common.
int64_t SharedPrefixBlocks(std::span<const uint8_t* const> a, std::span<const uint8_t* const> b);

// A permutation of [0, tables.size()) that puts tables sharing leading blocks next to each other
// (lexicographic order of the block pointers; ties keep the input order), and the groups it forms:
// groups[g] = [begin, end) into the permutation, maximal runs whose tables start with the same
// block. Tables with no blocks form groups of one.
struct SharedPrefixOrder {
  std::vector<int> order;
  std::vector<std::pair<int, int>> groups;
};
SharedPrefixOrder OrderForSharedPrefix(std::span<const std::span<const uint8_t* const>> tables);

}  // namespace swarmkv
