// PagedAttention's llama.cpp mode (AttentionParams::llama_cpp_f16_v with f16 V): the order of
// llama.cpp's CPU flash attention. For each query head, keys 0..p are visited one at a time:
// score = dot(K row, q) in ggml_vec_dot_f16's order (f16 K) or the K dtype's vec-dot, then
//   s > M: ms = expf(M - s), M = s, acc = f16(acc * ms), vs = 1      (a new running maximum)
//   else:  vs = expf(s - M)
//   acc = f16(fma(V row, vs, acc)),  S = S * ms + vs
// and the output is acc / S. acc is an f16 vector (kept here as f16-exact floats).
//
// Invariant: a (query, head) output is a function of (q, p, KV rows 0..p) only. Work is split
// into blocks of queries x heads so K/V blocks are read once for many queries and decode still
// spreads over every thread, but each (query, head) runs the same operations in the same order
// whatever the split, the thread or the ISA (the SIMD accumulate equals its scalar twin).
#pragma once

#include <cstdint>

#include "base/status.h"
#include "kernels/attention.h"
#include "kernels/fp16.h"
#include "kernels/vec_dot.h"

namespace swarmkv::internal {

// For each head h < nh, with ms_h = ms + h * s_stride, vs_h likewise, acc_h = acc + h * acc_stride:
// for j < n: if ms_h[j] != 1, acc_h = f16(acc_h * ms_h[j]); then acc_h = f16(fma(v_j, vs_h[j], acc_h)),
// where v_j = v + j * v_stride holds dv f16-exact floats and acc_h dv f16-exact floats. (Scaling
// by 1 is the identity on f16-exact values, so skipping it keeps llama.cpp's bits.) Heads are
// independent; the SIMD version interleaves them only to hide the f16 round trip's latency.
using AccumulateF16OrderFn = void (*)(const float* v, int64_t v_stride, int n, const float* ms,
                                      const float* vs, int64_t s_stride, int nh, int64_t dv,
                                      float* acc, int64_t acc_stride);
void AccumulateF16OrderScalar(const float* v, int64_t v_stride, int n, const float* ms,
                              const float* vs, int64_t s_stride, int nh, int64_t dv, float* acc,
                              int64_t acc_stride);
// AVX2 + F16C + FMA; dv a multiple of 8. Same bits as the scalar version. The f16_t overload
// reads V rows straight from a KV block (no f32 copy; one head per task needs each row once).
void AccumulateF16OrderAvx2(const float* v, int64_t v_stride, int n, const float* ms,
                            const float* vs, int64_t s_stride, int nh, int64_t dv, float* acc,
                            int64_t acc_stride);
void AccumulateF16OrderAvx2(const f16_t* v, int64_t v_stride, int n, const float* ms,
                            const float* vs, int64_t s_stride, int nh, int64_t dv, float* acc,
                            int64_t acc_stride);
// AVX-512 (F); dv a multiple of 8 (16-dim registers, an 8-dim rest by the AVX2 version). Same
// bits as the scalar version (every element's chain is the same; 16 per register).
void AccumulateF16OrderAvx512(const float* v, int64_t v_stride, int n, const float* ms,
                              const float* vs, int64_t s_stride, int nh, int64_t dv, float* acc,
                              int64_t acc_stride);

// One head's softmax over n more keys, in key order: for key j with score x = scores[j] and
// running maximum M (*max on entry), x > M: ms[j] = expf(M - x), vs[j] = 1, M = x; else
// ms[j] = 1, vs[j] = expf(x - M); then S = S * ms[j] + vs[j] (a multiply, then an add; S is
// *sum). *max and *sum are updated. vector_exp (needs AVX2 + FMA) runs SoftmaxStepsAvx2: eight
// keys at a time with glibc expf's bits (expf_x8.h), so ms, vs, M and S equal the scalar's.
void SoftmaxSteps(const float* scores, int n, bool vector_exp, float* max, float* sum, float* ms,
                  float* vs);
void SoftmaxStepsAvx2(const float* scores, int n, float* max, float* sum, float* ms, float* vs);

// scores[h * score_stride + j] = scale * dot(k_j, q_h) for h < nq, j < n, in ggml_vec_dot_f16's
// order (DotF16Ggml's bits) from K rows already converted to f32 (k_j = k + j * k_stride) and
// f16-exact query heads q_h = q + h * dk. dk a multiple of 32. AVX2 + FMA.
void ScoresF16GgmlAvx2(const float* k, int64_t k_stride, int n, const float* q, int nq, int64_t dk,
                       float scale, float* scores, int64_t score_stride);
// The same from f16 K rows read in place (same bits: f16 -> f32 is exact).
void ScoresF16GgmlAvx2(const f16_t* k, int64_t k_stride, int n, const float* q, int nq, int64_t dk,
                       float scale, float* scores, int64_t score_stride);

// AVX-512 (F) twins of ScoresF16GgmlAvx2, the same bits (DotF16Ggml's, times scale) for ANY dk:
// one key's a0|a1 and a2|a3 in two 16-lane accumulators, s = lo + hi is (a0+a2)|(a1+a3), sixteen
// keys' lane sums reduced together in DotF16Ggml's tree; dk % 32 elements added in double after.
void ScoresF16GgmlAvx512(const float* k, int64_t k_stride, int n, const float* q, int nq, int64_t dk,
                         float scale, float* scores, int64_t score_stride);
void ScoresF16GgmlAvx512(const f16_t* k, int64_t k_stride, int n, const float* q, int nq, int64_t dk,
                         float scale, float* scores, int64_t score_stride);
using ScoresF16Fn = void (*)(const float* k, int64_t k_stride, int n, const float* q, int nq, int64_t dk,
                             float scale, float* scores, int64_t score_stride);
using ScoresF16InPlaceFn = void (*)(const f16_t* k, int64_t k_stride, int n, const float* q, int nq,
                                    int64_t dk, float scale, float* scores, int64_t score_stride);

// The kernels the llama.cpp-order path runs for one KV layer layout at one ISA level. The solo
// path (LlamaCppF16VAttention) and the shared-prefix path (attention_cascade.cc) both take them
// from ChooseLlamaOrderKernels, so they cannot pick different kernels — and different bits.
struct LlamaOrderKernels {
  TensorType q_type;          // the vec-dot type a query head is converted to
  int64_t q_row_bytes;        // one converted query head
  VecDotFn dot;               // K row x converted query (non-SIMD scores)
  bool avx2;                  // AVX2 softmax steps
  bool f16_k;
  bool simd_scores;           // scores / scores_in_place (f16 K; AVX2: Dk a multiple of 32)
  ScoresF16Fn scores;         // f16 K rows converted to f32: ScoresF16GgmlAvx2 or ...Avx512
  ScoresF16InPlaceFn scores_in_place;  // f16 K rows read in place (same bits as `scores`)
  bool direct_f16;            // f16 K/V rows read in place (no f32 copy)
  AccumulateF16OrderFn accumulate;
};
LlamaOrderKernels ChooseLlamaOrderKernels(const KvLayerLayout& layout, Isa isa);

// PagedAttention with params.llama_cpp_f16_v and f16 V (arguments validated by the caller).
Status LlamaCppF16VAttention(const AttentionParams& params, const PagedKv& kv, const float* q,
                             int64_t q_stride, const int64_t* positions, int64_t n_queries,
                             float* out, int64_t out_stride);

}  // namespace swarmkv::internal
