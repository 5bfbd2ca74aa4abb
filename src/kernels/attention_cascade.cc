// Shared-prefix attention (attention_cascade.h). The per-block arithmetic is PagedAttention's
// (attention.cc for the f32 mode, attention_llama.cc for llama.cpp mode), called through the same
// inner kernels in the same order per (query, head); only the loop nest around it differs.
// Built with -ffp-contract=off like attention.cc, so that `acc += p * v` is never fused here
// when it is not fused there.
#include "kernels/attention_cascade.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>

#include "kernels/attention_llama.h"
#include "kernels/attention_simd.h"
#include "kernels/attention_spans.h"
#include "kernels/convert.h"
#include "kernels/quants.h"
#include "kernels/vec_dot.h"

namespace swarmkv {
namespace {

// Query heads per llama.cpp-mode task at most (scratch: scores and exp factors of B keys each).
constexpr int64_t kMaxTileHeads = 48;

// NOTE: the only place a block's memory address is taken (the cold-tier streaming seam, like
// the "seam" lines of PagedAttention).
inline const uint8_t* BlockBase(const PagedKv& kv, int64_t b) { return kv.blocks[b]; }

bool SameLayout(const KvLayerLayout& a, const KvLayerLayout& b) {
  return a.k_type == b.k_type && a.v_type == b.v_type && a.n_kv_heads == b.n_kv_heads &&
         a.head_dim_k == b.head_dim_k && a.head_dim_v == b.head_dim_v && a.block_tokens == b.block_tokens &&
         a.k_offset == b.k_offset && a.k_head_stride == b.k_head_stride && a.k_row_stride == b.k_row_stride &&
         a.v_offset == b.v_offset && a.v_head_stride == b.v_head_stride && a.v_row_stride == b.v_row_stride;
}

Status Validate(const AttentionParams& params, std::span<const AttentionSequence> seqs) {
  const KvLayerLayout& L = seqs[0].kv.layout;
  SKV_RETURN_IF_ERROR(L.Validate());
  // Sliding windows and logit soft-capping (gemma) run through PagedAttention only.
  if (params.window != 0 || params.softcap != 0.0f)
    return InvalidArgumentError("PagedAttentionShared: no sliding window or soft-cap (use PagedAttention)");
  for (const AttentionSequence& q : seqs)
    if (q.kv.source != nullptr)
      return InvalidArgumentError("PagedAttentionShared: blocks must be resident (no KvBlockSource)");
  if (params.n_heads <= 0 || params.n_heads % L.n_kv_heads != 0) {
    return InvalidArgumentError("PagedAttentionShared: n_heads " + std::to_string(params.n_heads) +
                                " is not a multiple of n_kv_heads " + std::to_string(L.n_kv_heads));
  }
  const int64_t B = L.block_tokens;
  for (size_t s = 0; s < seqs.size(); ++s) {
    const AttentionSequence& q = seqs[s];
    if (!SameLayout(q.kv.layout, L)) {
      return InvalidArgumentError("PagedAttentionShared: sequence " + std::to_string(s) +
                                  " has another KV layout than sequence 0");
    }
    if (q.n_queries < 0) return InvalidArgumentError("PagedAttentionShared: negative query count");
    for (int64_t i = 0; i < q.n_queries; ++i) {
      if (q.positions[i] < 0 || q.positions[i] >= q.kv.num_blocks * B) {
        return InvalidArgumentError("PagedAttentionShared: query position " + std::to_string(q.positions[i]) +
                                    " outside sequence " + std::to_string(s) + "'s " +
                                    std::to_string(q.kv.num_blocks * B) + " KV slots");
      }
    }
  }
  return Status::OK();
}

// Consecutive sequences whose tables start with the same block: [begin, end) ranges.
std::vector<std::pair<int, int>> Groups(std::span<const AttentionSequence> seqs) {
  std::vector<std::pair<int, int>> groups;
  const int n = static_cast<int>(seqs.size());
  for (int s = 0; s < n;) {
    int e = s + 1;
    while (e < n && seqs[s].kv.num_blocks > 0 && seqs[e].kv.num_blocks > 0 &&
           BlockBase(seqs[e].kv, 0) == BlockBase(seqs[s].kv, 0))
      ++e;
    groups.emplace_back(s, e);
    s = e;
  }
  return groups;
}

// A query of the call: its sequence and its index there.
struct QueryRef {
  int seq = 0;
  int64_t i = 0;
};

// ---- llama.cpp mode (f16 V, params.llama_cpp_f16_v): attention_llama.cc's order per (query, head).

struct RunningHead {
  float max = -INFINITY;
  float sum = 0.0f;
};

Status LlamaModeShared(const AttentionParams& params, std::span<const AttentionSequence> seqs,
                       const std::vector<std::pair<int, int>>& groups) {
  using namespace internal;
  const KvLayerLayout& L = seqs[0].kv.layout;
  const int64_t B = L.block_tokens;
  const int64_t Dk = L.head_dim_k, Dv = L.head_dim_v;
  const int group = params.n_heads / L.n_kv_heads;
  const float scale = params.scale != 0.0f ? params.scale : 1.0f / std::sqrt(static_cast<float>(Dk));
  const LlamaOrderKernels kernels = ChooseLlamaOrderKernels(L, params.isa);
  const TensorType qt = kernels.q_type;
  const int64_t q_row_bytes = kernels.q_row_bytes;
  const VecDotFn dot = kernels.dot;
  const bool avx2 = kernels.avx2, f16_k = kernels.f16_k, simd_scores = kernels.simd_scores;
  const bool direct_f16 = kernels.direct_f16;
  const AccumulateF16OrderFn accumulate = kernels.accumulate;
  const int threads = params.pool != nullptr ? params.pool->num_threads() : 1;

  // The queries of each group, in order; a group's query heads for KV head kvh are numbered
  // qh = query * group + g (head kvh * group + g). Tasks: (group, kv head, tile of query heads).
  std::vector<QueryRef> queries;
  struct Task {
    int64_t q_begin;  // the group's first query in `queries`
    int kvh;
    int64_t qh0, qh1;
  };
  std::vector<Task> tasks;
  for (const auto& [gb, ge] : groups) {
    const int64_t q_begin = static_cast<int64_t>(queries.size());
    for (int s = gb; s < ge; ++s)
      for (int64_t i = 0; i < seqs[s].n_queries; ++i) queries.push_back({s, i});
    const int64_t qh = (static_cast<int64_t>(queries.size()) - q_begin) * group;
    if (qh == 0) continue;
    // Enough tiles to keep every thread busy, no tile above kMaxTileHeads; fewer tiles read the
    // shared blocks fewer times.
    const int64_t want = (2 * threads + L.n_kv_heads - 1) / L.n_kv_heads;
    const int64_t tiles = std::min(qh, std::max((qh + kMaxTileHeads - 1) / kMaxTileHeads, want));
    for (int kvh = 0; kvh < L.n_kv_heads; ++kvh)
      for (int64_t t = 0; t < tiles; ++t) tasks.push_back({q_begin, kvh, qh * t / tiles, qh * (t + 1) / tiles});
  }

  auto task = [&](int64_t index, int) {
    const Task& tk = tasks[index];
    const int nqh = static_cast<int>(tk.qh1 - tk.qh0);
    thread_local std::vector<uint8_t> qbuf;
    thread_local std::vector<float> qf, kf, vf, scores, ms, vs, acc;
    thread_local std::vector<RunningHead> run;
    thread_local std::vector<int64_t> pos;
    thread_local std::vector<const PagedKv*> kvs;
    qbuf.resize(static_cast<size_t>(q_row_bytes * nqh));
    if (f16_k) qf.resize(static_cast<size_t>(Dk * nqh));
    vf.resize(static_cast<size_t>(B * Dv));
    if (simd_scores) kf.resize(static_cast<size_t>(B * Dk));
    scores.resize(static_cast<size_t>(B * nqh));
    ms.resize(static_cast<size_t>(B * nqh));
    vs.resize(static_cast<size_t>(B * nqh));
    acc.assign(static_cast<size_t>(Dv * nqh), 0.0f);
    run.assign(static_cast<size_t>(nqh), RunningHead{});
    pos.resize(static_cast<size_t>(nqh));
    kvs.resize(static_cast<size_t>(nqh));
    int64_t max_pos = 0;
    for (int k = 0; k < nqh; ++k) {
      const int64_t qh = tk.qh0 + k;
      const QueryRef r = queries[tk.q_begin + qh / group];
      const AttentionSequence& s = seqs[r.seq];
      const int h = tk.kvh * group + static_cast<int>(qh % group);
      pos[k] = s.positions[r.i];
      kvs[k] = &s.kv;
      max_pos = std::max(max_pos, pos[k]);
      ConvertActivationRow(qt, s.q + r.i * s.q_stride + h * Dk, qbuf.data() + k * q_row_bytes, Dk);
      if (f16_k) F16ToF32Row(reinterpret_cast<const f16_t*>(qbuf.data() + k * q_row_bytes), qf.data() + k * Dk, Dk);
    }
    // Blocks outer, query heads inner: each (query, head) advances its own running state over
    // block b with attention_llama.cc's operations; a run of adjacent query heads whose tables
    // hold the same block there shares its load and conversion.
    for (int64_t b = 0; b <= max_pos / B; ++b) {
      int k = 0;
      while (k < nqh) {
        if (b > pos[k] / B) {
          ++k;
          continue;
        }
        const uint8_t* base = BlockBase(*kvs[k], b);
        int e = k + 1;
        int64_t nv = std::min(B, pos[k] - b * B + 1);
        while (e < nqh && b <= pos[e] / B && BlockBase(*kvs[e], b) == base) {
          nv = std::max(nv, std::min(B, pos[e] - b * B + 1));
          ++e;
        }
        const uint8_t* krows = base + L.k_offset + tk.kvh * L.k_head_stride;
        const uint8_t* vrows = base + L.v_offset + tk.kvh * L.v_head_stride;
        if (direct_f16 && e - k == 1) {  // one query head reads the block: f16 rows in place
          const int n = static_cast<int>(nv);
          kernels.scores_in_place(reinterpret_cast<const f16_t*>(krows), L.k_row_stride / 2, n, qf.data() + k * Dk, 1,
                                  Dk, scale, scores.data() + k * B, B);
          SoftmaxSteps(scores.data() + k * B, n, avx2, &run[k].max, &run[k].sum, ms.data() + k * B, vs.data() + k * B);
          AccumulateF16OrderAvx2(reinterpret_cast<const f16_t*>(vrows), L.v_row_stride / 2, n, ms.data() + k * B,
                                 vs.data() + k * B, B, 1, Dv, acc.data() + k * Dv, Dv);
          k = e;
          continue;
        }
        // V rows are read in place by the AVX2 accumulate (each V load serves up to three heads
        // there); otherwise converted once for the run.
        if (!direct_f16) {
          for (int64_t j = 0; j < nv; ++j)
            F16ToF32Row(reinterpret_cast<const f16_t*>(vrows + j * L.v_row_stride), vf.data() + j * Dv, Dv);
        }
        if (simd_scores) {
          for (int64_t j = 0; j < nv; ++j)
            F16ToF32Row(reinterpret_cast<const f16_t*>(krows + j * L.k_row_stride), kf.data() + j * Dk, Dk);
          kernels.scores(kf.data(), Dk, static_cast<int>(nv), qf.data() + k * Dk, e - k, Dk, scale,
                         scores.data() + k * B, B);
        }
        for (int a = k; a < e; ++a) {
          const int n = static_cast<int>(std::min(B, pos[a] - b * B + 1));
          if (!simd_scores) {
            for (int j = 0; j < n; ++j) {
              const uint8_t* krow = krows + j * L.k_row_stride;
              scores[a * B + j] = (f16_k ? DotF16Ggml(reinterpret_cast<const f16_t*>(krow), qf.data() + a * Dk, Dk)
                                         : dot(Dk, krow, qbuf.data() + a * q_row_bytes)) * scale;
            }
          }
          SoftmaxSteps(scores.data() + a * B, n, avx2, &run[a].max, &run[a].sum, ms.data() + a * B, vs.data() + a * B);
        }
        // V: adjacent query heads with the same key count in one call (their f16 round-trip
        // chains interleave); each head's operations are the same as alone.
        for (int a = k; a < e;) {
          const int64_t n = std::min(B, pos[a] - b * B + 1);
          int c = a + 1;
          while (c < e && std::min(B, pos[c] - b * B + 1) == n) ++c;
          if (direct_f16) {
            AccumulateF16OrderAvx2(reinterpret_cast<const f16_t*>(vrows), L.v_row_stride / 2, static_cast<int>(n),
                                   ms.data() + a * B, vs.data() + a * B, B, c - a, Dv, acc.data() + a * Dv, Dv);
          } else {
            accumulate(vf.data(), Dv, static_cast<int>(n), ms.data() + a * B, vs.data() + a * B, B, c - a, Dv,
                       acc.data() + a * Dv, Dv);
          }
          a = c;
        }
        k = e;
      }
    }
    for (int k = 0; k < nqh; ++k) {
      const int64_t qh = tk.qh0 + k;
      const QueryRef r = queries[tk.q_begin + qh / group];
      const AttentionSequence& s = seqs[r.seq];
      const int h = tk.kvh * group + static_cast<int>(qh % group);
      float* o = s.out + r.i * s.out_stride + h * Dv;
      float sum = run[k].sum;
      if (params.sinks != nullptr) ApplyAttentionSink(params.sinks[h], run[k].max, &sum, &acc[k * Dv], Dv);
      const float inv = sum == 0.0f ? 0.0f : 1.0f / sum;
      for (int64_t d = 0; d < Dv; ++d) o[d] = acc[k * Dv + d] * inv;
    }
  };
  const int64_t num_tasks = static_cast<int64_t>(tasks.size());
  ParallelForOn(params.pool, num_tasks, task);
  return Status::OK();
}

// ---- f32 mode: attention.cc's spans. A task is one span of one KV head for every query whose
// span covers the same blocks (same block pointers, same last block); its partials are the solo
// path's, merged per query in span order as there.

struct HeadState {
  float max = -INFINITY;
  float sum = 0.0f;
  float* acc = nullptr;
};

Status SpanModeShared(const AttentionParams& params, std::span<const AttentionSequence> seqs,
                      const std::vector<std::pair<int, int>>& groups) {
  using namespace internal;
  const KvLayerLayout& L = seqs[0].kv.layout;
  const int64_t B = L.block_tokens;
  const TensorType qt = VecDotType(L.k_type);
  const VecDotFn dot = GetVecDot(L.k_type, params.isa);
  const int64_t Dk = L.head_dim_k, Dv = L.head_dim_v;
  const int group = params.n_heads / L.n_kv_heads;
  const float scale = params.scale != 0.0f ? params.scale : 1.0f / std::sqrt(static_cast<float>(Dk));
  const int64_t q_row_bytes = RowBytes(qt, Dk);
  const bool simd_f16 = L.k_type == TensorType::kF16 && L.v_type == TensorType::kF16 && Dk % 8 == 0 && Dv % 8 == 0;
  const AttentionF16Kernels& f16k = params.isa >= Isa::kAvx2 && IsaSupported(Isa::kAvx2) ? kAttentionF16Avx2
                                                                                         : kAttentionF16Scalar;
  const bool simd_exp = params.isa >= Isa::kAvx2 && IsaSupported(Isa::kAvx2);
  const int64_t span_tokens = kAttentionSpanBlocks * B;
  const int64_t part_floats = Dv + 2;

  // Queries in group order; each one's spans get partial slots as in the solo path.
  std::vector<QueryRef> queries;
  std::vector<int64_t> first_span{0};
  // A class: one span index of queries that all read the same blocks over it.
  struct Class {
    const PagedKv* kv;  // the first member's table
    int64_t b_begin, b_end;
    std::vector<int64_t> members;  // indices into `queries`
  };
  std::vector<Class> classes;
  for (const auto& [gb, ge] : groups) {
    // Per span index of this group: its classes (indices into `classes`), newest last.
    std::vector<std::vector<size_t>> by_span;
    for (int s = gb; s < ge; ++s) {
      const AttentionSequence& sq = seqs[s];
      for (int64_t i = 0; i < sq.n_queries; ++i) {
        const int64_t qi = static_cast<int64_t>(queries.size());
        queries.push_back({s, i});
        const int64_t pos = sq.positions[i];
        const int64_t spans = pos / span_tokens + 1;
        first_span.push_back(first_span.back() + spans);
        if (static_cast<int64_t>(by_span.size()) < spans) by_span.resize(spans);
        const int64_t last_block = pos / B;
        for (int64_t sp = 0; sp < spans; ++sp) {
          const int64_t b_begin = sp * kAttentionSpanBlocks;
          const int64_t b_end = std::min(last_block, b_begin + kAttentionSpanBlocks - 1);
          auto same = [&](const Class& c) {
            if (c.b_end != b_end) return false;
            for (int64_t b = b_begin; b <= b_end; ++b)
              if (BlockBase(*c.kv, b) != BlockBase(sq.kv, b)) return false;
            return true;
          };
          std::vector<size_t>& cs = by_span[sp];
          size_t found = classes.size();
          // Newest first: adjacent queries usually share a class.
          for (auto it = cs.rbegin(); it != cs.rend(); ++it)
            if (same(classes[*it])) {
              found = *it;
              break;
            }
          if (found == classes.size()) {
            classes.push_back(Class{&sq.kv, b_begin, b_end, {}});
            cs.push_back(found);
          }
          classes[found].members.push_back(qi);
        }
      }
    }
  }
  const int64_t n_queries = static_cast<int64_t>(queries.size());
  std::vector<float> partials(static_cast<size_t>(first_span.back() * params.n_heads * part_floats));

  auto task = [&](int64_t index, int) {
    const Class& c = classes[index / L.n_kv_heads];
    const int kvh = static_cast<int>(index % L.n_kv_heads);
    const int64_t local_span = c.b_begin / kAttentionSpanBlocks;
    const int64_t nm = static_cast<int64_t>(c.members.size());
    thread_local std::vector<uint8_t> qbuf;
    thread_local std::vector<float> scores, qf, vrows_f;
    thread_local std::vector<HeadState> state;
    qbuf.resize(static_cast<size_t>(q_row_bytes * group * nm));
    if (simd_f16) qf.resize(static_cast<size_t>(Dk * group * nm));
    vrows_f.resize(static_cast<size_t>(B * Dv));
    scores.resize(static_cast<size_t>(B * group));
    state.resize(static_cast<size_t>(group * nm));
    for (int64_t m = 0; m < nm; ++m) {
      const int64_t qi = c.members[m];
      const AttentionSequence& s = seqs[queries[qi].seq];
      const int64_t i = queries[qi].i;
      for (int g = 0; g < group; ++g) {
        const int h = kvh * group + g;
        uint8_t* qb = qbuf.data() + (m * group + g) * q_row_bytes;
        ConvertActivationRow(qt, s.q + i * s.q_stride + h * Dk, qb, Dk);
        if (simd_f16) F16ToF32Row(reinterpret_cast<const f16_t*>(qb), qf.data() + (m * group + g) * Dk, Dk);
        float* part = partials.data() + ((first_span[qi] + local_span) * params.n_heads + h) * part_floats;
        std::fill(part, part + Dv, 0.0f);
        state[m * group + g] = HeadState{-INFINITY, 0.0f, part};
      }
    }
    for (int64_t b = c.b_begin; b <= c.b_end; ++b) {
      const uint8_t* base = BlockBase(*c.kv, b);
      const uint8_t* krows = base + L.k_offset + kvh * L.k_head_stride;
      const uint8_t* vrows = base + L.v_offset + kvh * L.v_head_stride;
      int64_t v_rows_ready = 0;
      for (int64_t m = 0; m < nm; ++m) {
        const int64_t qi = c.members[m];
        const int64_t pos = seqs[queries[qi].seq].positions[queries[qi].i];
        const int64_t last_block = pos / B;
        const int64_t n = b < last_block ? B : pos - b * B + 1;
        HeadState* st = state.data() + m * group;
        // attention.cc's per-block body for one query (same kernels, same order).
        if (simd_f16) {
          f16k.scores(krows, L.k_row_stride, static_cast<int>(n), qf.data() + m * group * Dk, group, Dk, scale,
                      scores.data(), B);
        } else {
          for (int g = 0; g < group; ++g)
            for (int64_t j = 0; j < n; ++j)
              scores[g * B + j] = dot(Dk, krows + j * L.k_row_stride, qbuf.data() + (m * group + g) * q_row_bytes) * scale;
        }
        for (int g = 0; g < group; ++g) {
          float* sc = scores.data() + g * B;
          float block_max = -INFINITY;
          for (int64_t j = 0; j < n; ++j) block_max = std::max(block_max, sc[j]);
          HeadState& hs = st[g];
          const float new_max = std::max(hs.max, block_max);
          const float msc = std::exp(hs.max - new_max);
          if (msc != 1.0f) {
            for (int64_t d = 0; d < Dv; ++d) hs.acc[d] *= msc;
          }
          hs.sum *= msc;
          hs.max = new_max;
          hs.sum += simd_exp ? ExpShiftSumAvx2(sc, n, new_max) : ExpShiftSumScalar(sc, n, new_max);
        }
        if (simd_f16) {
          f16k.accumulate(vrows, L.v_row_stride, static_cast<int>(n), scores.data(), B, group, Dv, st[0].acc,
                          part_floats);
          continue;
        }
        // The block's V rows are dequantized once for every member (as far as the longest needs).
        for (; v_rows_ready < n; ++v_rows_ready)
          DequantizeKvRow(L.v_type, vrows + v_rows_ready * L.v_row_stride, vrows_f.data() + v_rows_ready * Dv, Dv);
        for (int64_t j = 0; j < n; ++j) {
          const float* vrow = vrows_f.data() + j * Dv;
          for (int g = 0; g < group; ++g) {
            const float p = scores[g * B + j];
            float* a = st[g].acc;
            for (int64_t d = 0; d < Dv; ++d) a[d] += p * vrow[d];
          }
        }
      }
    }
    for (int64_t m = 0; m < nm; ++m)
      for (int g = 0; g < group; ++g) {
        float* part = state[m * group + g].acc;
        part[Dv] = state[m * group + g].max;
        part[Dv + 1] = state[m * group + g].sum;
      }
  };

  // Merge a query's spans in order, per head (attention.cc's merge, so the same bits).
  auto merge = [&](int64_t index, int) {
    const int64_t qi = index / params.n_heads;
    const int h = static_cast<int>(index % params.n_heads);
    const AttentionSequence& s = seqs[queries[qi].seq];
    internal::MergeSpanPartials(partials.data() + (first_span[qi] * params.n_heads + h) * part_floats,
                                first_span[qi + 1] - first_span[qi], params.n_heads * part_floats, Dv,
                                s.out + queries[qi].i * s.out_stride + h * Dv,
                                params.sinks != nullptr ? params.sinks + h : nullptr);
  };

  const int64_t num_tasks = static_cast<int64_t>(classes.size()) * L.n_kv_heads;
  const int64_t num_merges = n_queries * params.n_heads;
  ParallelForOn(params.pool, num_tasks, task);
  ParallelForOn(params.pool, num_merges, merge);
  return Status::OK();
}

}  // namespace

Status PagedAttentionShared(const AttentionParams& params, std::span<const AttentionSequence> seqs) {
  if (seqs.empty()) return Status::OK();
  SKV_RETURN_IF_ERROR(Validate(params, seqs));
  const std::vector<std::pair<int, int>> groups = Groups(seqs);
  if (seqs[0].kv.layout.v_type == TensorType::kF16 && params.llama_cpp_f16_v) {
    return LlamaModeShared(params, seqs, groups);
  }
  return SpanModeShared(params, seqs, groups);
}

int64_t SharedPrefixBlocks(std::span<const uint8_t* const> a, std::span<const uint8_t* const> b) {
  const size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return static_cast<int64_t>(i);
}

SharedPrefixOrder OrderForSharedPrefix(std::span<const std::span<const uint8_t* const>> tables) {
  SharedPrefixOrder r;
  r.order.resize(tables.size());
  std::iota(r.order.begin(), r.order.end(), 0);
  // Lexicographic by pointer value (std::less gives pointers a total order): tables sharing
  // leading blocks end up adjacent, the longest common prefixes next to each other.
  std::stable_sort(r.order.begin(), r.order.end(), [&](int x, int y) {
    return std::lexicographical_compare(tables[x].begin(), tables[x].end(), tables[y].begin(), tables[y].end(),
                                        std::less<const uint8_t*>());
  });
  const int n = static_cast<int>(r.order.size());
  for (int s = 0; s < n;) {
    int e = s + 1;
    while (e < n && !tables[r.order[s]].empty() && !tables[r.order[e]].empty() &&
           tables[r.order[e]][0] == tables[r.order[s]][0])
      ++e;
    r.groups.emplace_back(s, e);
    s = e;
  }
  return r;
}

}  // namespace swarmkv
