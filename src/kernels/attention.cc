#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "kernels/attention_llama.h"
#include "kernels/attention_simd.h"
#include "kernels/attention_spans.h"
#include "kernels/convert.h"
#include "kernels/quants.h"
#include "kernels/vec_dot.h"

namespace swarmkv {
namespace {

void DequantizeV(TensorType t, const uint8_t* row, float* out, int64_t n) {
  switch (t) {
    case TensorType::kF32: std::memcpy(out, row, static_cast<size_t>(n) * sizeof(float)); break;
    case TensorType::kF16: F16ToF32Row(reinterpret_cast<const f16_t*>(row), out, n); break;
    case TensorType::kBF16: BF16ToF32Row(reinterpret_cast<const bf16_t*>(row), out, n); break;
    case TensorType::kQ8_0: DequantizeQ8_0(reinterpret_cast<const BlockQ8_0*>(row), out, n); break;
    default: DequantizeQ4_0(reinterpret_cast<const BlockQ4_0*>(row), out, n); break;
  }
}

void QuantizeKv(TensorType t, const float* x, uint8_t* dst, int64_t n) {
  switch (t) {
    case TensorType::kF32: std::memcpy(dst, x, static_cast<size_t>(n) * sizeof(float)); break;
    case TensorType::kF16: F32ToF16Row(x, reinterpret_cast<f16_t*>(dst), n); break;
    case TensorType::kBF16: F32ToBF16Row(x, reinterpret_cast<bf16_t*>(dst), n); break;
    case TensorType::kQ8_0: QuantizeRowQ8_0Act(x, reinterpret_cast<BlockQ8_0*>(dst), n); break;
    default: (void)QuantizeRow(TensorType::kQ4_0, x, dst, n); break;
  }
}

// KV blocks per attention span (see PagedAttention): 16 blocks of 32 tokens = 512 tokens.
constexpr int64_t kSpanBlocks = internal::kAttentionSpanBlocks;

// Running online-softmax state of one query head.
struct HeadState {
  float max = -INFINITY;
  float sum = 0.0f;
  float* acc = nullptr;  // Dv floats
};

}  // namespace

namespace internal {

void DequantizeKvRow(TensorType t, const uint8_t* row, float* out, int64_t n) { DequantizeV(t, row, out, n); }

float DotF16Ggml(const f16_t* k, const float* q, int64_t n) {
  const int64_t np = n & ~int64_t{31};
  double sum = 0.0;
  if (np > 0) {
    float acc[4][8] = {};
    for (int64_t i = 0; i < np; i += 32) {
      for (int j = 0; j < 4; ++j) {
        for (int l = 0; l < 8; ++l) acc[j][l] = std::fma(F16ToF32(k[i + 8 * j + l]), q[i + 8 * j + l], acc[j][l]);
      }
    }
    float r[8];
    for (int l = 0; l < 8; ++l) r[l] = (acc[0][l] + acc[2][l]) + (acc[1][l] + acc[3][l]);
    float t[4];
    for (int l = 0; l < 4; ++l) t[l] = r[l] + r[l + 4];
    sum = static_cast<double>((t[0] + t[1]) + (t[2] + t[3]));
  }
  for (int64_t i = np; i < n; ++i) sum += static_cast<double>(F16ToF32(k[i]) * q[i]);
  return static_cast<float>(sum);
}

namespace {
// ExpNonPositive (vec_dot_avx2.cc) for one lane, operation for operation: max with -87,
// n = round-half-even(x * log2 e), r = x - n * ln2 (two fused steps), a degree-6 polynomial by
// fused steps, times 2^n. (This file is built with -ffp-contract=off: only std::fma fuses.)
float ExpNonPositiveLane(float x) {
  x = x > -87.0f ? x : -87.0f;  // maxps(x, -87): -87 for NaN too
  const float fx = std::nearbyint(x * 1.44269504088896341f);
  float r = std::fma(-fx, 0.693359375f, x);
  r = std::fma(-fx, -2.12194440e-4f, r);
  float p = 1.9875691500E-4f;
  p = std::fma(p, r, 1.3981999507E-3f);
  p = std::fma(p, r, 8.3334519073E-3f);
  p = std::fma(p, r, 4.1665795894E-2f);
  p = std::fma(p, r, 1.6666665459E-1f);
  p = std::fma(p, r, 5.0000001201E-1f);
  const float r2 = r * r;
  p = std::fma(p, r2, r + 1.0f);
  const uint32_t e = static_cast<uint32_t>(static_cast<int32_t>(fx) + 127) << 23;
  float scale;
  std::memcpy(&scale, &e, sizeof(scale));
  return p * scale;
}
}  // namespace

namespace {
// ScoresF16 / AccumulateF16 (vec_dot_avx2.cc) lane by lane: the same bits without AVX2.
float HsumLanes8(const float v[8]) {
  float t[4];
  for (int l = 0; l < 4; ++l) t[l] = v[l] + v[l + 4];
  return (t[0] + t[2]) + (t[1] + t[3]);
}

void ScoresF16Scalar(const uint8_t* k_rows, int64_t k_stride, int n, const float* q, int group,
                     int64_t dk, float scale, float* scores, int64_t score_stride) {
  for (int j = 0; j < n; ++j) {
    const auto* k = reinterpret_cast<const f16_t*>(k_rows + j * k_stride);
    for (int g = 0; g < group; ++g) {
      const float* qg = q + g * dk;
      float a0[8], a1[8];
      if (dk == 64) {  // the twin's products first, then fused chunks 2..7
        for (int l = 0; l < 8; ++l) {
          a0[l] = F16ToF32(k[l]) * qg[l];
          a1[l] = F16ToF32(k[8 + l]) * qg[8 + l];
        }
        for (int c = 2; c < 8; c += 2) {
          for (int l = 0; l < 8; ++l) {
            a0[l] = std::fma(F16ToF32(k[8 * c + l]), qg[8 * c + l], a0[l]);
            a1[l] = std::fma(F16ToF32(k[8 * c + 8 + l]), qg[8 * c + 8 + l], a1[l]);
          }
        }
      } else {
        for (int l = 0; l < 8; ++l) a0[l] = a1[l] = 0.0f;
        int64_t i = 0;
        for (; i + 16 <= dk; i += 16) {
          for (int l = 0; l < 8; ++l) {
            a0[l] = std::fma(F16ToF32(k[i + l]), qg[i + l], a0[l]);
            a1[l] = std::fma(F16ToF32(k[i + 8 + l]), qg[i + 8 + l], a1[l]);
          }
        }
        for (; i < dk; i += 8)
          for (int l = 0; l < 8; ++l) a0[l] = std::fma(F16ToF32(k[i + l]), qg[i + l], a0[l]);
      }
      float v[8];
      for (int l = 0; l < 8; ++l) v[l] = a0[l] + a1[l];
      scores[g * score_stride + j] = HsumLanes8(v) * scale;
    }
  }
}

void AccumulateF16Scalar(const uint8_t* v_rows, int64_t v_stride, int n, const float* p,
                         int64_t p_stride, int group, int64_t dv, float* acc, int64_t acc_stride) {
  for (int g = 0; g < group; ++g) {
    float* a = acc + g * acc_stride;
    for (int j = 0; j < n; ++j) {
      const auto* v = reinterpret_cast<const f16_t*>(v_rows + j * v_stride);
      const float pj = p[g * p_stride + j];
      for (int64_t d = 0; d < dv; ++d) a[d] = std::fma(pj, F16ToF32(v[d]), a[d]);
    }
  }
}
}  // namespace

const AttentionF16Kernels kAttentionF16Scalar = {ScoresF16Scalar, AccumulateF16Scalar};

float ExpShiftSumScalar(float* s, int64_t n, float max) {
  float acc[8] = {};  // the AVX2 kernel's 8 lanes: element j in lane j % 8
  for (int64_t j = 0; j < n; ++j) {
    s[j] = ExpNonPositiveLane(s[j] - max);
    acc[j % 8] += s[j];
  }
  float t[4];
  for (int l = 0; l < 4; ++l) t[l] = acc[l] + acc[l + 4];  // HsumF32x8
  return (t[0] + t[2]) + (t[1] + t[3]);
}

void ApplyAttentionSink(float s, float max, float* sum, float* acc, int64_t dv) {
  if (s > max) {
    const float ms = std::exp(max - s);
    for (int64_t d = 0; d < dv; ++d) acc[d] *= ms;
    *sum = *sum * ms + 1.0f;
  } else {
    *sum = *sum * 1.0f + std::exp(s - max);
  }
}

void MergeSpanPartials(const float* first, int64_t num_spans, int64_t span_stride, int64_t dv, float* o,
                       const float* sink) {
  float m = first[dv], sum = first[dv + 1];
  for (int64_t d = 0; d < dv; ++d) o[d] = first[d];
  for (int64_t sp = 1; sp < num_spans; ++sp) {
    const float* part = first + sp * span_stride;
    if (part[dv] == -INFINITY) continue;  // a span wholly before the sliding window
    const float nm = std::max(m, part[dv]);
    const float a = std::exp(m - nm), b = std::exp(part[dv] - nm);
    for (int64_t d = 0; d < dv; ++d) o[d] = o[d] * a + part[d] * b;
    sum = sum * a + part[dv + 1] * b;
    m = nm;
  }
  if (sink != nullptr) ApplyAttentionSink(*sink, m, &sum, o, dv);
  const float inv = 1.0f / sum;
  for (int64_t d = 0; d < dv; ++d) o[d] *= inv;
}

}  // namespace internal

Status PagedAttention(const AttentionParams& params, const PagedKv& kv, const float* q,
                      int64_t q_stride, const int64_t* positions, int64_t n_queries, float* out,
                      int64_t out_stride) {
  const KvLayerLayout& L = kv.layout;
  SKV_RETURN_IF_ERROR(L.Validate());
  if (params.n_heads <= 0 || params.n_heads % L.n_kv_heads != 0) {
    return InvalidArgumentError("PagedAttention: n_heads " + std::to_string(params.n_heads) +
                                " is not a multiple of n_kv_heads " + std::to_string(L.n_kv_heads));
  }
  const int64_t B = L.block_tokens;
  for (int64_t i = 0; i < n_queries; ++i) {
    if (positions[i] < 0 || positions[i] >= kv.num_blocks * B) {
      return InvalidArgumentError("PagedAttention: query position " + std::to_string(positions[i]) +
                                  " outside the sequence's " + std::to_string(kv.num_blocks * B) +
                                  " KV slots");
    }
  }
  const TensorType qt = VecDotType(L.k_type);
  const VecDotFn dot = GetVecDot(L.k_type, params.isa);
  const int64_t Dk = L.head_dim_k, Dv = L.head_dim_v;
  const int group = params.n_heads / L.n_kv_heads;
  const float scale = params.scale != 0.0f ? params.scale : 1.0f / std::sqrt(static_cast<float>(Dk));
  const float dot_scale = params.softcap > 0.0f ? scale / params.softcap : scale;
  const int64_t q_row_bytes = RowBytes(qt, Dk);
  // f16 K and V with dims that are multiples of 8 take the SIMD path (same numerics class:
  // q rounded to f16, f32 products and sums); everything else the generic vec-dot path.
  // (Scalar twins of those loops give the same bits on CPUs without AVX2.)
  const bool simd_f16 = L.k_type == TensorType::kF16 && L.v_type == TensorType::kF16 &&
                        Dk % 8 == 0 && Dv % 8 == 0;
  const internal::AttentionF16Kernels& f16k = params.isa >= Isa::kAvx2 && IsaSupported(Isa::kAvx2)
                                                  ? internal::kAttentionF16Avx2
                                                  : internal::kAttentionF16Scalar;
  const bool simd_exp = params.isa >= Isa::kAvx2 && IsaSupported(Isa::kAvx2);

  if (L.v_type == TensorType::kF16 && params.llama_cpp_f16_v) {
    return internal::LlamaCppF16VAttention(params, kv, q, q_stride, positions, n_queries, out, out_stride);
  }

  // Work is split into (query, kv head, span) tasks. A span is a fixed range of
  // kSpanBlocks absolute blocks, so the split depends on the query's position only; each span
  // leaves a partial (max, sum, acc) per head, merged afterwards in span order. That keeps the
  // reduction order a function of p alone while letting long-context decode use every thread.
  const int64_t span_tokens = kSpanBlocks * B;
  std::vector<int64_t> first_span(n_queries + 1, 0);
  for (int64_t i = 0; i < n_queries; ++i) first_span[i + 1] = first_span[i] + positions[i] / span_tokens + 1;
  const int64_t total_spans = first_span[n_queries];
  const int64_t part_floats = Dv + 2;  // acc[Dv], max, sum
  std::vector<float> partials(static_cast<size_t>(total_spans * params.n_heads * part_floats));
  // Task index -> (query, span, kv head): spans of one query are adjacent.
  std::vector<int64_t> span_query(total_spans);
  for (int64_t i = 0; i < n_queries; ++i)
    for (int64_t sp = first_span[i]; sp < first_span[i + 1]; ++sp) span_query[sp] = i;

  auto task = [&](int64_t index, int) {
    const int64_t span = index / L.n_kv_heads;
    const int kvh = static_cast<int>(index % L.n_kv_heads);
    const int64_t qi = span_query[span];
    const int64_t pos = positions[qi];
    const int64_t local_span = span - first_span[qi];
    thread_local std::vector<uint8_t> qbuf;
    thread_local std::vector<float> scores, qf, vrow;
    qbuf.resize(static_cast<size_t>(q_row_bytes * group));
    vrow.resize(static_cast<size_t>(Dv));
    scores.resize(static_cast<size_t>(B * group));
    if (simd_f16) qf.resize(static_cast<size_t>(Dk * group));
    HeadState st[64];
    HeadState* state = group <= 64 ? st : new HeadState[group];
    for (int g = 0; g < group; ++g) {
      const int h = kvh * group + g;
      ConvertActivationRow(qt, q + qi * q_stride + h * Dk, qbuf.data() + g * q_row_bytes, Dk);
      if (simd_f16) F16ToF32Row(reinterpret_cast<const f16_t*>(qbuf.data() + g * q_row_bytes), qf.data() + g * Dk, Dk);
      float* part = partials.data() + (span * params.n_heads + h) * part_floats;
      std::fill(part, part + Dv, 0.0f);
      state[g] = HeadState{-INFINITY, 0.0f, part};
    }
    const int64_t last_block = pos / B;
    const int64_t first_key = FirstAttendedKey(params, pos);
    const int64_t b_begin = std::max(local_span * kSpanBlocks, first_key / B);
    const int64_t b_end = std::min(last_block, local_span * kSpanBlocks + kSpanBlocks - 1);
    for (int64_t b = b_begin; b <= b_end; ++b) {
      // NOTE: seam for cold-tier streaming — only here is block b's memory touched.
      const uint8_t* base = kv.source != nullptr ? kv.source->Block(b) : kv.blocks[b];
      // Keys [j0, j0 + n) of this block: the window's start cuts the first block it touches.
      const int64_t j0 = std::max<int64_t>(0, first_key - b * B);
      const int64_t n = (b < last_block ? B : pos - b * B + 1) - j0;
      const uint8_t* krows = base + L.k_offset + kvh * L.k_head_stride + j0 * L.k_row_stride;
      const uint8_t* vrows = base + L.v_offset + kvh * L.v_head_stride + j0 * L.v_row_stride;
      if (simd_f16) {
        f16k.scores(krows, L.k_row_stride, static_cast<int>(n), qf.data(), group, Dk, dot_scale,
                    scores.data(), B);
      } else {
        for (int g = 0; g < group; ++g) {
          for (int64_t j = 0; j < n; ++j) {
            scores[g * B + j] = dot(Dk, krows + j * L.k_row_stride, qbuf.data() + g * q_row_bytes) * dot_scale;
          }
        }
      }
      if (params.softcap > 0.0f) {
        for (int g = 0; g < group; ++g)
          for (int64_t j = 0; j < n; ++j) scores[g * B + j] = params.softcap * std::tanh(scores[g * B + j]);
      }
      for (int g = 0; g < group; ++g) {
        float* s = scores.data() + g * B;
        float block_max = -INFINITY;
        for (int64_t j = 0; j < n; ++j) block_max = std::max(block_max, s[j]);
        HeadState& hs = state[g];
        const float new_max = std::max(hs.max, block_max);
        const float ms = std::exp(hs.max - new_max);  // 0 on the first block
        if (ms != 1.0f) {
          for (int64_t d = 0; d < Dv; ++d) hs.acc[d] *= ms;
        }
        hs.sum *= ms;
        hs.max = new_max;
        hs.sum += simd_exp ? internal::ExpShiftSumAvx2(s, n, new_max) : internal::ExpShiftSumScalar(s, n, new_max);
      }
      // Accumulate V rows: dequantize each once, add to every head of the group.
      if (simd_f16) {
        // The group's heads are adjacent in `partials`, part_floats apart.
        f16k.accumulate(vrows, L.v_row_stride, static_cast<int>(n), scores.data(), B, group, Dv,
                        state[0].acc, part_floats);
        continue;
      }
      for (int64_t j = 0; j < n; ++j) {
        DequantizeV(L.v_type, vrows + j * L.v_row_stride, vrow.data(), Dv);
        for (int g = 0; g < group; ++g) {
          const float p = scores[g * B + j];
          float* acc = state[g].acc;
          for (int64_t d = 0; d < Dv; ++d) acc[d] += p * vrow[d];
        }
      }
    }
    for (int g = 0; g < group; ++g) {
      float* part = state[g].acc;
      part[Dv] = state[g].max;
      part[Dv + 1] = state[g].sum;
    }
    if (state != st) delete[] state;
  };

  // Merge a query's spans in order, per head (the cascade-attention merge point).
  auto merge = [&](int64_t index, int) {
    const int64_t qi = index / params.n_heads;
    const int h = static_cast<int>(index % params.n_heads);
    internal::MergeSpanPartials(partials.data() + (first_span[qi] * params.n_heads + h) * part_floats,
                                first_span[qi + 1] - first_span[qi], params.n_heads * part_floats, Dv,
                                out + qi * out_stride + h * Dv, params.sinks != nullptr ? params.sinks + h : nullptr);
  };

  const int64_t num_tasks = total_spans * L.n_kv_heads;
  const int64_t num_merges = n_queries * params.n_heads;
  ParallelForOn(params.pool, num_tasks, task);
  ParallelForOn(params.pool, num_merges, merge);
  return Status::OK();
}

Status WriteKvRow(const KvLayerLayout& layout, uint8_t* block, int slot, const float* k,
                  const float* v) {
  SKV_RETURN_IF_ERROR(layout.Validate());
  if (slot < 0 || slot >= layout.block_tokens) {
    return InvalidArgumentError("WriteKvRow: slot " + std::to_string(slot) + " outside block of " +
                                std::to_string(layout.block_tokens) + " tokens");
  }
  for (int h = 0; h < layout.n_kv_heads; ++h) {
    QuantizeKv(layout.k_type, k + h * layout.head_dim_k,
               block + layout.k_offset + h * layout.k_head_stride + slot * layout.k_row_stride,
               layout.head_dim_k);
    QuantizeKv(layout.v_type, v + h * layout.head_dim_v,
               block + layout.v_offset + h * layout.v_head_stride + slot * layout.v_row_stride,
               layout.head_dim_v);
  }
  return Status::OK();
}

}  // namespace swarmkv
