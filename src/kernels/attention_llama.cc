#include "kernels/attention_llama.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/attention_simd.h"  // DotF16Ggml
#include "kernels/attention_spans.h"  // ApplyAttentionSink
#include "kernels/convert.h"
#include "kernels/fp16.h"
#include "kernels/quants.h"
#include "kernels/vec_dot.h"

namespace swarmkv::internal {
namespace {

// Queries per task: their K/V blocks are read (and V converted to f32) once for all of them.
constexpr int64_t kQueryBlock = 8;

// The running softmax of one (query, head): maximum, sum and the f16 V accumulator.
struct RunningHead {
  float max = -INFINITY;
  float sum = 0.0f;
};

}  // namespace

// vector_exp = false: libm's expf per key. Compiled without FMA contraction (generic x86-64
// TU), like the scalar reference it replaced.
void SoftmaxSteps(const float* scores, int n, bool vector_exp, float* max, float* sum, float* ms, float* vs) {
  if (vector_exp) return SoftmaxStepsAvx2(scores, n, max, sum, ms, vs);
  float m = *max, s = *sum;
  for (int j = 0; j < n; ++j) {
    const float x = scores[j];
    if (x > m) {
      ms[j] = std::exp(m - x);
      vs[j] = 1.0f;
      m = x;
    } else {
      ms[j] = 1.0f;
      vs[j] = std::exp(x - m);
    }
    s = s * ms[j] + vs[j];
  }
  *max = m;
  *sum = s;
}

void AccumulateF16OrderScalar(const float* v, int64_t v_stride, int n, const float* ms,
                              const float* vs, int64_t s_stride, int nh, int64_t dv, float* acc,
                              int64_t acc_stride) {
  for (int h = 0; h < nh; ++h) {
    float* a = acc + h * acc_stride;
    for (int j = 0; j < n; ++j) {
      const float m = ms[h * s_stride + j], s = vs[h * s_stride + j];
      if (m != 1.0f) {
        for (int64_t d = 0; d < dv; ++d) a[d] = F16ToF32(F32ToF16(a[d] * m));
      }
      const float* vj = v + j * v_stride;
      for (int64_t d = 0; d < dv; ++d) a[d] = F16ToF32(F32ToF16(std::fma(vj[d], s, a[d])));
    }
  }
}

LlamaOrderKernels ChooseLlamaOrderKernels(const KvLayerLayout& L, Isa isa) {
  LlamaOrderKernels k;
  const int64_t Dk = L.head_dim_k, Dv = L.head_dim_v;
  k.q_type = VecDotType(L.k_type);
  k.q_row_bytes = RowBytes(k.q_type, Dk);
  k.dot = GetVecDot(L.k_type, isa);
  k.avx2 = isa >= Isa::kAvx2 && IsaSupported(Isa::kAvx2);
  k.f16_k = L.k_type == TensorType::kF16;
  k.simd_scores = k.avx2 && k.f16_k && Dk % 32 == 0;
  k.scores = ScoresF16GgmlAvx2;
  k.scores_in_place = ScoresF16GgmlAvx2;
  // AVX-512: DotF16Ggml's bits 16 lanes at a time, any head dim (the dk % 32 rest in double).
  if (k.avx2 && k.f16_k && isa >= Isa::kAvx512 && IsaSupported(Isa::kAvx512)) {
    k.simd_scores = true;
    k.scores = ScoresF16GgmlAvx512;
    k.scores_in_place = ScoresF16GgmlAvx512;
  }
  k.accumulate = k.avx2 && Dv % 8 == 0 ? static_cast<AccumulateF16OrderFn>(AccumulateF16OrderAvx2)
                                       : AccumulateF16OrderScalar;
  // AVX-512: the same element-wise chains, 16 dims per register (same bits).
  if (k.avx2 && Dv % 8 == 0 && isa >= Isa::kAvx512 && IsaSupported(Isa::kAvx512)) k.accumulate = AccumulateF16OrderAvx512;
  k.direct_f16 = k.simd_scores && Dv % 8 == 0 && L.k_row_stride % 2 == 0 && L.v_row_stride % 2 == 0;
  return k;
}

Status LlamaCppF16VAttention(const AttentionParams& params, const PagedKv& kv, const float* q,
                             int64_t q_stride, const int64_t* positions, int64_t n_queries,
                             float* out, int64_t out_stride) {
  const KvLayerLayout& L = kv.layout;
  const int64_t B = L.block_tokens;
  const int64_t Dk = L.head_dim_k, Dv = L.head_dim_v;
  const int group = params.n_heads / L.n_kv_heads;
  const float scale = params.scale != 0.0f ? params.scale : 1.0f / std::sqrt(static_cast<float>(Dk));
  // llama.cpp divides the scale by the soft-cap, then caps each score: cap * tanhf(dot * scale').
  const float dot_scale = params.softcap > 0.0f ? scale / params.softcap : scale;
  const auto cap = [&](float* s, int n) {
    if (params.softcap > 0.0f)
      for (int j = 0; j < n; ++j) s[j] = params.softcap * std::tanh(s[j]);
  };
  const LlamaOrderKernels kernels = ChooseLlamaOrderKernels(L, params.isa);
  const TensorType qt = kernels.q_type;
  const int64_t q_row_bytes = kernels.q_row_bytes;
  const VecDotFn dot = kernels.dot;
  const bool avx2 = kernels.avx2, f16_k = kernels.f16_k, simd_scores = kernels.simd_scores;
  const bool direct_f16 = kernels.direct_f16;
  const AccumulateF16OrderFn accumulate = kernels.accumulate;

  // Tasks: query blocks x head sets. A head set is a KV head's whole group (its K/V rows serve
  // every head) unless that leaves too few tasks for the threads (decode), then single heads.
  const int threads = params.pool != nullptr ? params.pool->num_threads() : 1;
  const int64_t q_blocks = (n_queries + kQueryBlock - 1) / kQueryBlock;
  const int heads_per_task = q_blocks * L.n_kv_heads >= 4 * threads ? group : 1;
  const int64_t head_sets = params.n_heads / heads_per_task;

  auto task = [&](int64_t index, int) {
    const int64_t q0 = (index / head_sets) * kQueryBlock;
    const int nq = static_cast<int>(std::min(kQueryBlock, n_queries - q0));
    const int h0 = static_cast<int>(index % head_sets) * heads_per_task;
    const int nh = heads_per_task;
    const int kvh = h0 / group;
    const int nqh = nq * nh;
    thread_local std::vector<uint8_t> qbuf;
    thread_local std::vector<float> qf, kf, vf, scores, ms, vs, acc;
    thread_local std::vector<RunningHead> run;
    qbuf.resize(static_cast<size_t>(q_row_bytes * nqh));
    if (f16_k) qf.resize(static_cast<size_t>(Dk * nqh));
    vf.resize(static_cast<size_t>(B * Dv));
    if (simd_scores) kf.resize(static_cast<size_t>(B * Dk));
    scores.resize(static_cast<size_t>(B * nqh));
    ms.resize(static_cast<size_t>(B * nh));
    vs.resize(static_cast<size_t>(B * nh));
    acc.assign(static_cast<size_t>(Dv * nqh), 0.0f);
    run.assign(static_cast<size_t>(nqh), RunningHead{});
    int64_t max_pos = 0;
    int64_t min_first_key = INT64_MAX;
    for (int i = 0; i < nq; ++i) {
      max_pos = std::max(max_pos, positions[q0 + i]);
      min_first_key = std::min(min_first_key, FirstAttendedKey(params, positions[q0 + i]));
      for (int k = 0; k < nh; ++k) {
        const int64_t qh = i * nh + k;
        ConvertActivationRow(qt, q + (q0 + i) * q_stride + (h0 + k) * Dk, qbuf.data() + qh * q_row_bytes, Dk);
        if (f16_k) F16ToF32Row(reinterpret_cast<const f16_t*>(qbuf.data() + qh * q_row_bytes), qf.data() + qh * Dk, Dk);
      }
    }
    // One (query, head) per task reads each K/V row once: the AVX2 kernels load the f16 rows in
    // place. Several share each row: convert the block's rows to f32 once for all of them.
    const bool in_place = direct_f16 && nqh == 1;
    for (int64_t b = min_first_key / B; b <= max_pos / B; ++b) {
      // NOTE: seam for cold-tier streaming — only here is block b's memory touched.
      const uint8_t* base = kv.source != nullptr ? kv.source->Block(b) : kv.blocks[b];
      const uint8_t* krows = base + L.k_offset + kvh * L.k_head_stride;
      const uint8_t* vrows = base + L.v_offset + kvh * L.v_head_stride;
      const int64_t nv = std::min(B, max_pos - b * B + 1);
      if (in_place) {  // one query: keys [j0, nv) of the block (j0 > 0 where its window starts)
        const int64_t j0 = std::max<int64_t>(0, min_first_key - b * B);
        const int n = static_cast<int>(nv - j0);
        kernels.scores_in_place(reinterpret_cast<const f16_t*>(krows + j0 * L.k_row_stride), L.k_row_stride / 2, n, qf.data(), 1, Dk, dot_scale, scores.data(), B);
        cap(scores.data(), n);
        SoftmaxSteps(scores.data(), n, avx2, &run[0].max, &run[0].sum, ms.data(), vs.data());
        AccumulateF16OrderAvx2(reinterpret_cast<const f16_t*>(vrows + j0 * L.v_row_stride), L.v_row_stride / 2, n, ms.data(), vs.data(), B, 1, Dv, acc.data(), Dv);
        continue;
      }
      for (int64_t j = 0; j < nv; ++j)
        F16ToF32Row(reinterpret_cast<const f16_t*>(vrows + j * L.v_row_stride), vf.data() + j * Dv, Dv);
      if (simd_scores) {  // every query head of the task against the block's keys at once
        for (int64_t j = 0; j < nv; ++j)
          F16ToF32Row(reinterpret_cast<const f16_t*>(krows + j * L.k_row_stride), kf.data() + j * Dk, Dk);
        kernels.scores(kf.data(), Dk, static_cast<int>(nv), qf.data(), nqh, Dk, dot_scale, scores.data(), B);
      }
      for (int i = 0; i < nq; ++i) {
        const int64_t pos = positions[q0 + i];
        if (b > pos / B) continue;
        // This query's keys in the block: [j0, n) (j0 > 0 where its window starts).
        const int j0 = static_cast<int>(std::max<int64_t>(0, FirstAttendedKey(params, pos) - b * B));
        const int n = static_cast<int>(std::min(B, pos - b * B + 1));
        if (j0 >= n) continue;
        const int64_t qh0 = int64_t{i} * nh;
        if (!simd_scores) {
          for (int k = 0; k < nh; ++k)
            for (int j = j0; j < n; ++j) {
              const uint8_t* krow = krows + j * L.k_row_stride;
              scores[(qh0 + k) * B + j] =
                  (f16_k ? DotF16Ggml(reinterpret_cast<const f16_t*>(krow), qf.data() + (qh0 + k) * Dk, Dk)
                         : dot(Dk, krow, qbuf.data() + (qh0 + k) * q_row_bytes)) * dot_scale;
            }
        }
        for (int k = 0; k < nh; ++k) {
          float* s = scores.data() + (qh0 + k) * B + j0;
          cap(s, n - j0);
          SoftmaxSteps(s, n - j0, avx2, &run[qh0 + k].max, &run[qh0 + k].sum, ms.data() + k * B, vs.data() + k * B);
        }
        accumulate(vf.data() + int64_t{j0} * Dv, Dv, n - j0, ms.data(), vs.data(), B, nh, Dv, acc.data() + qh0 * Dv, Dv);
      }
    }
    for (int i = 0; i < nq; ++i)
      for (int k = 0; k < nh; ++k) {
        const int64_t qh = int64_t{i} * nh + k;
        float* o = out + (q0 + i) * out_stride + (h0 + k) * Dv;
        float sum = run[qh].sum;
        if (params.sinks != nullptr) ApplyAttentionSink(params.sinks[h0 + k], run[qh].max, &sum, &acc[qh * Dv], Dv);
        const float inv = sum == 0.0f ? 0.0f : 1.0f / sum;
        for (int64_t d = 0; d < Dv; ++d) o[d] = acc[qh * Dv + d] * inv;
      }
  };
  const int64_t num_tasks = q_blocks * head_sets;
  ParallelForOn(params.pool, num_tasks, task);
  return Status::OK();
}

}  // namespace swarmkv::internal
