// Mamba-2 kernels: the causal depthwise conv1d with its rolling state, SiLU, the selective
// state-space scan (SSD) with dt softplus, decay dA = exp(dt·A) and the D skip, and the gated,
// grouped RMSNorm — each in llama.cpp's CPU order (ggml_ssm_conv, ggml_ssm_scan, ggml_silu,
// ggml_swiglu_split, ggml_rms_norm), one sequence at a time.
//
// Invariant (one numeric order): every function gives the same bits at every Isa — the scalar
// twin spells the order, the AVX2/AVX-512 code runs the same operations lane by lane:
//  - conv: the one conv kernel, kernels/causal_conv.h (ggml_ssm_conv in the AVX2 build's order:
//    for Mamba-2's 4 taps, the products added one by one from 0), then + bias[c];
//  - scan, per head h and row i of the head: state' = fma(state, dA, B·(x·dt)) and
//    y = Σ state'·C over d_state in ggml's AVX2 order — four 8-lane FMA accumulators over steps
//    of 32, reduced (a0+a2)+(a1+a3), the two 128-bit halves added, two horizontal adds — the
//    remainder (d_state % 32) fused one by one after it; y += x·D[h] (a product, then a sum);
//  - SiLU: ggml's AVX2 vector exp for whole groups of 8, libm's expf for the rest.
// So a token's outputs depend only on its inputs and the state it starts from: prefill over T
// tokens in one call == T one-token (decode) calls, bit for bit, and state computed on one Isa
// continues on another.
//
// The inner loops per ISA are declared in kernels/ssm_simd.h.
//
// State layouts (f32, owned by the caller; what a checkpoint stores):
//  - conv state: the last k-1 input rows, oldest first: [k-1][channels] (time-major, zero at the
//    start of a sequence);
//  - ssm state: [n_head][head_dim][d_state] (llama.cpp's order).
//
// Thread-safety: pure functions over caller-owned buffers; the scan splits heads over `pool`
// (each head is computed the same whatever the split).
#pragma once

#include <cstdint>

#include "base/status.h"
#include "base/thread_pool.h"
#include "kernels/cpu_features.h"
#include "kernels/ssm_simd.h"

namespace swarmkv {

struct SsmConvArgs {
  int64_t channels = 0;  // d_inner + 2·n_group·d_state for Mamba-2
  int kernel = 0;        // ssm.conv_kernel (>= 1)
  const float* weight = nullptr;  // [channels][kernel] (ggml's {d_conv, channels})
  const float* bias = nullptr;    // [channels], or nullptr
  Isa isa = ActiveIsa();
};

// Runs the causal conv over T input rows x[t] (x_stride floats apart) into y[t] (y_stride
// apart; y may not alias x) and advances `state` ([kernel-1][channels]) past them.
// InvalidArgument on bad shapes. T == 0 leaves everything unchanged.
Status SsmConv1d(const SsmConvArgs& args, const float* x, int64_t x_stride, int64_t T, float* state, float* y,
                 int64_t y_stride);

// y[i] = x[i] / (1 + exp(-x[i])) (ggml_vec_silu_f32 of an AVX2 build). y may alias x.
void Silu(const float* x, float* y, int64_t n, Isa isa = ActiveIsa());

// softplus(x) = x > 20 ? x : logf(1 + expf(x)) (ggml_compute_softplus_f32).
float Softplus(float x);

struct SsmScanArgs {
  int64_t n_head = 0;    // ssm.time_step_rank
  int64_t head_dim = 0;  // ssm.inner_size / n_head
  int64_t d_state = 0;   // ssm.state_size
  int64_t n_group = 0;   // ssm.group_count; head h reads B/C of group h / (n_head / n_group)
  const float* A = nullptr;        // [n_head], A = -exp(A_log) as the GGUF stores it (ssm_a)
  const float* D = nullptr;        // [n_head] skip (ssm_d), or nullptr: no skip
  const float* dt_bias = nullptr;  // [n_head] (ssm_dt.bias) added before the softplus, or nullptr
  Isa isa = ActiveIsa();
  ThreadPool* pool = nullptr;      // nullptr: the calling thread only
};

// Per token t (in order) and head h: dt' = softplus(dt[t][h] + dt_bias[h]), dA = expf(dt'·A[h]);
// for each row i of the head: state[h][i][:] = state·dA + B[t][g]·(x[t][h][i]·dt'),
// y[t][h][i] = <state, C[t][g]> + x[t][h][i]·D[h].
// Rows: x[t] = n_head·head_dim floats, dt[t] = n_head, B[t]/C[t] = n_group·d_state, each at
// t·<its stride>; y[t] = n_head·head_dim at t·y_stride. `state` is [n_head][head_dim][d_state].
Status SsmScan(const SsmScanArgs& args, const float* x, int64_t x_stride, const float* dt, int64_t dt_stride,
               const float* B, const float* C, int64_t bc_stride, int64_t T, float* state, float* y,
               int64_t y_stride);

// Mamba-2's output gate and norm for one token, in place on y[n_head·head_dim]:
// y = silu(z) · y per head row of head_dim (ggml_swiglu_split over rows of head_dim), then
// RMSNorm over each of n_group groups of n/n_group elements, times weight (ssm_norm, [n]).
void GatedGroupRmsNorm(const float* z, float* y, const float* weight, int64_t head_dim, int64_t n, int64_t n_group,
                       float eps);

}  // namespace swarmkv
