// AVX2 + FMA + F16C dot products (compiled with those -m flags only; called only when CPUID
// reports them). Same math and the same bits as vec_dot_scalar.cc (ggml-cpu's AVX2 orders for
// the float and 32-element block types; for K-quants the order of the kernels below).
#include <cstring>
#include <type_traits>

#include "kernels/fp16.h"
#include "kernels/quants.h"
#include "kernels/simd_x86.h"
#include "kernels/vec_dot.h"

namespace swarmkv {
namespace {

using internal::DotI8x32;
using internal::HalfToFloat;
using internal::HsumF32x8;

inline __m256 LoadF16x8(const f16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
inline __m256 LoadBF16x8(const bf16_t* p) {
  const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

inline __m256 LoadF32x8(const float* p) { return _mm256_loadu_ps(p); }
inline float IdF32(float f) { return f; }
inline float F16F(f16_t h) { return HalfToFloat(h); }
inline float BF16F(bf16_t h) { return BF16ToF32(h); }

// Float weight types (f32/f16/bf16) in ggml-cpu's AVX2 vec_dot order (ggml_vec_dot_f32 /
// _f16 / _bf16 of an AVX2+FMA build, as its compiled code runs them):
//  - n32 = n & ~31 elements in four 8-lane accumulators a0..a3, a_j fusing elements
//    [32b + 8j, 32b + 8j + 8) for b = 0, 1, ... in order;
//  - reduced (a0 + a2) + (a1 + a3), then the 128-bit halves added, then a final 4-lane sum:
//    two hadds for f32/f16 (GGML_F32x8_REDUCE), movehl + movehdup for bf16;
//  - the leftovers n32..n-1 in element order: f16/bf16 in double (products are exact), f32 in
//    float — rounded products added unfused for the first (rem & ~3) leftovers, fused for the
//    last rem % 4 (what GCC made of ggml's `sumf += x[i]*y[i]` tail).
// A register tile of R rows x T tokens keeps J of the four accumulators per output in
// registers (R*T*J <= 12) and makes 4/J passes over the row (a one-token tile runs as pairs
// of rows with all four in one pass: decode is bound by streaming W); each accumulator sees the same
// fused sequence in every shape, so every (R, T) — including 1 x 1, the decode kernel — gives
// each output the same bits (batch invariance). The scalar twin (vec_dot_scalar.cc) is equal
// bit for bit.
enum class FloatTail { kF32, kDouble };
// A one-token tile prefetches the rows this far below its own (on the f16 SmolLM2-135M shape,
// one thread, decode ran fastest at 8 or more rows ahead; 16 gained little over 8).
constexpr int64_t kDecodePrefetchRows = 8;

// GGML_F32x8_REDUCE's last step: lo + hi, then hadd twice.
inline float HsumHaddF32x8(__m256 v) {
  const __m128 t0 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t1 = _mm_hadd_ps(t0, t0);
  return _mm_cvtss_f32(_mm_hadd_ps(t1, t1));
}

// s + round(a * b), never fused: this unit is built with -mfma and GCC contracts a*b+c by
// default, so the scalar ss builtins keep the two roundings.
inline float AddProductUnfused(float s, float a, float b) {
  return _mm_cvtss_f32(_mm_add_ss(_mm_set_ss(s), _mm_mul_ss(_mm_set_ss(a), _mm_set_ss(b))));
}

// The activation element a float tile reads: the vec-dot type T, or (kXF32) T's values widened
// to float once per matmul (Activations::row_f32). Same values, so the same products and bits.
template <typename T, bool kXF32> struct FloatX { using type = T; };
template <typename T> struct FloatX<T, true> { using type = float; };

template <typename T, __m256 (*Load)(const T*), bool kXF32>
inline __m256 LoadX(const typename FloatX<T, kXF32>::type* p) {
  if constexpr (kXF32) {
    return _mm256_loadu_ps(p);
  } else {
    return Load(p);
  }
}

template <typename T, float (*ToF)(T), bool kXF32>
inline float XValue(typename FloatX<T, kXF32>::type v) {
  if constexpr (kXF32) {
    return v;
  } else {
    return ToF(v);
  }
}

template <typename T, float (*ToF)(T), FloatTail kTail, bool kHadd, bool kXF32>
inline float FinishFloat(const __m256 a[4], int64_t n, const T* w, const typename FloatX<T, kXF32>::type* x) {
  const __m256 v = _mm256_add_ps(_mm256_add_ps(a[0], a[2]), _mm256_add_ps(a[1], a[3]));
  const float h = kHadd ? HsumHaddF32x8(v) : HsumF32x8(v);
  const int64_t n32 = n & ~int64_t{31};
  if (n32 == n) return h;  // no leftovers (float -> double -> float is exact)
  if constexpr (kTail == FloatTail::kDouble) {
    double s = static_cast<double>(h);
    for (int64_t j = n32; j < n; ++j) s += static_cast<double>(ToF(w[j]) * XValue<T, ToF, kXF32>(x[j]));
    return static_cast<float>(s);
  } else {
    float s = h;
    const int64_t unfused_end = n32 + ((n - n32) & ~int64_t{3});
    for (int64_t j = n32; j < unfused_end; ++j) s = AddProductUnfused(s, ToF(w[j]), XValue<T, ToF, kXF32>(x[j]));
    for (int64_t j = unfused_end; j < n; ++j) {
      s = _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(ToF(w[j])), _mm_set_ss(XValue<T, ToF, kXF32>(x[j])), _mm_set_ss(s)));
    }
    return s;
  }
}

// (GCC cannot see that `part` is written by the first chunk before any later chunk reads it.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
template <typename T, __m256 (*Load)(const T*), float (*ToF)(T), FloatTail kTail, bool kHadd, bool kXF32, int R,
          int TT>
void TileFloat(int64_t n, const uint8_t* w, int64_t w_stride, const void* const* x, float* y,
               int64_t y_stride) {
  if constexpr (TT == 1 && R > 2) {
    // One token (decode streams W from DRAM): rows in pairs, each pair in ONE pass with all
    // four accumulators (8 chains), so no second pass idles the memory pipe over cached lines.
    TileFloat<T, Load, ToF, kTail, kHadd, kXF32, 2, 1>(n, w, w_stride, x, y, y_stride);
    TileFloat<T, Load, ToF, kTail, kHadd, kXF32, R - 2, 1>(n, w + 2 * w_stride, w_stride, x, y + 2, y_stride);
    return;
  }
  constexpr int J = R * TT * 4 <= 12 ? 4 : R * TT * 2 <= 12 ? 2 : 1;
  using X = typename FloatX<T, kXF32>::type;
  const X* xs[TT];
  for (int t = 0; t < TT; ++t) xs[t] = static_cast<const X*>(x[t]);
  const int64_t n32 = n & ~int64_t{31};
  // Rows further down (no effect on bits): spread over the single pass of a J = 4 tile (decode
  // streams W from DRAM; kDecodePrefetchRows ahead). Multi-pass (prefill) tiles prefetch
  // nothing: a task's rows are already in cache after its first token group, so prefetching
  // the next tile's lines only adds loads.
  // A multi-pass tile goes over the row in chunks of 2 KiB per row (all passes of a chunk, then
  // the next), so the later passes find the chunk's lines in L1; whole rows of a wide matrix
  // (4864 columns) do not fit there. Each accumulator still fuses its elements in row order.
  constexpr int64_t kChunk = J == 4 ? (int64_t{1} << 62) : 2048 / static_cast<int64_t>(sizeof(T));
  __m256 part[R][TT][4];  // the first chunk's passes start from zero (c0 == 0), not from here
  for (int64_t c0 = 0; c0 < n32; c0 += kChunk) {
    const int64_t c1 = n32 - c0 < kChunk ? n32 : c0 + kChunk;
    for (int j0 = 0; j0 < 4; j0 += J) {
      __m256 acc[J][R][TT];
#pragma GCC unroll 4
      for (int j = 0; j < J; ++j)
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
          for (int t = 0; t < TT; ++t) acc[j][r][t] = c0 == 0 ? _mm256_setzero_ps() : part[r][t][j0 + j];
      for (int64_t i = c0; i < c1; i += 32) {
#pragma GCC unroll 4
        for (int j = 0; j < J; ++j) {
          const int64_t e = i + 8 * (j0 + j);
          __m256 xv[TT];
#pragma GCC unroll 4
          for (int t = 0; t < TT; ++t) {
            xv[t] = LoadX<T, Load, kXF32>(xs[t] + e);
            // Keep the loaded row in a register: GCC otherwise folds an f32 load into every
            // row's FMA (R loads per token instead of one; the load pipes then bound the tile).
            if constexpr (kXF32) __asm__("" : "+x"(xv[t]));
          }
#pragma GCC unroll 4
          for (int r = 0; r < R; ++r) {
            const T* wr = reinterpret_cast<const T*>(w + r * w_stride);
            if constexpr (J == 4) {
              if (j == 0) {
                const char* next = reinterpret_cast<const char*>(wr + i) + kDecodePrefetchRows * w_stride;
                _mm_prefetch(next, _MM_HINT_T0);
                if constexpr (sizeof(T) == 4) _mm_prefetch(next + 64, _MM_HINT_T0);
              }
            }
            const __m256 wv = Load(wr + e);
#pragma GCC unroll 4
            for (int t = 0; t < TT; ++t) acc[j][r][t] = _mm256_fmadd_ps(wv, xv[t], acc[j][r][t]);
          }
        }
      }
#pragma GCC unroll 4
      for (int j = 0; j < J; ++j)
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
          for (int t = 0; t < TT; ++t) part[r][t][j0 + j] = acc[j][r][t];
    }
  }
  if (n32 == 0) {  // (the chunk loop did not run)
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < TT; ++t)
        for (int j = 0; j < 4; ++j) part[r][t][j] = _mm256_setzero_ps();
  }
  for (int r = 0; r < R; ++r) {
    const T* wr = reinterpret_cast<const T*>(w + r * w_stride);
    for (int t = 0; t < TT; ++t) y[t * y_stride + r] = FinishFloat<T, ToF, kTail, kHadd, kXF32>(part[r][t], n, wr, xs[t]);
  }
}
#pragma GCC diagnostic pop

// The decode stream kernels (RowsFloat, RowsQ8) prefetch this far ahead of what they read, once
// per cache line: a decode step's weights come from DRAM (kernels_bench decode_stream).
constexpr int64_t kStreamPrefetchBytes = 2048;

// Prefetches kStreamPrefetchBytes ahead of every cache line from `mark` up to `end`, and moves
// `mark` past them (start it at the row's first byte).
inline void PrefetchStreamTo(const char*& mark, const void* end) {
  while (static_cast<const char*>(end) > mark) {
    _mm_prefetch(mark + kStreamPrefetchBytes, _MM_HINT_T0);
    mark += 64;
  }
}

// Decode (one token) over float weights: rows one after another, each ONE sequential stream
// with ggml's four accumulators and a software prefetch 2 KiB ahead once per cache line (as
// RowsQ8). Each output is TileFloat<.., 1, 1>'s sequence: same bits.
template <typename T, __m256 (*Load)(const T*), float (*ToF)(T), FloatTail kTail, bool kHadd>
void RowsFloat(int64_t n, const uint8_t* w, int64_t w_stride, int rows, const void* const* x,
               int tokens, float* y, int64_t y_stride) {
  (void)tokens;  // stream_tokens == 1
  (void)y_stride;
  const T* xr = static_cast<const T*>(x[0]);
  const int64_t n32 = n & ~int64_t{31};
  for (int r = 0; r < rows; ++r) {
    const T* wr = reinterpret_cast<const T*>(w + r * w_stride);
    const char* line = reinterpret_cast<const char*>(wr);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t i = 0; i < n32; i += 32) {
      PrefetchStreamTo(line, wr + i + 32);
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) acc[j] = _mm256_fmadd_ps(Load(wr + i + 8 * j), Load(xr + i + 8 * j), acc[j]);
    }
    y[r] = FinishFloat<T, ToF, kTail, kHadd, false>(acc, n, wr, xr);
  }
}

template <typename T, __m256 (*Load)(const T*), float (*ToF)(T), FloatTail kTail, bool kHadd, bool kXF32>
void TileFloatDispatch(int64_t n, const uint8_t* w, int64_t w_stride, int rows,
                       const void* const* x, int tokens, float* y, int64_t y_stride) {
  using Fn = void (*)(int64_t, const uint8_t*, int64_t, const void* const*, float*, int64_t);
#define SKV_TF(R, TT) TileFloat<T, Load, ToF, kTail, kHadd, kXF32, R, TT>
  static constexpr Fn kTable[4][4] = {
      {SKV_TF(1, 1), SKV_TF(1, 2), SKV_TF(1, 3), SKV_TF(1, 4)},
      {SKV_TF(2, 1), SKV_TF(2, 2), SKV_TF(2, 3), SKV_TF(2, 4)},
      {SKV_TF(3, 1), SKV_TF(3, 2), SKV_TF(3, 3), SKV_TF(3, 4)},
      {SKV_TF(4, 1), SKV_TF(4, 2), SKV_TF(4, 3), SKV_TF(4, 4)},
  };
#undef SKV_TF
  kTable[rows - 1][tokens - 1](n, w, w_stride, x, y, y_stride);
}

template <typename T, __m256 (*Load)(const T*), float (*ToF)(T), FloatTail kTail, bool kHadd>
float OneFloat(int64_t n, const void* w, const void* x) {
  float o;
  TileFloat<T, Load, ToF, kTail, kHadd, false, 1, 1>(n, static_cast<const uint8_t*>(w), 0, &x, &o, 0);
  return o;
}

// Bit j of a block's 32-bit qh as byte j: 0xFF where set, 0 where clear.
inline __m256i BitsToBytes32(const uint8_t* qh) {
  uint32_t bits;
  std::memcpy(&bits, qh, sizeof(bits));
  const __m256i spread = _mm256_shuffle_epi8(  // byte j <- byte j / 8 of qh
      _mm256_set1_epi32(static_cast<int>(bits)),
      _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303));
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
  return _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
}

template <typename Block, bool kNibbles>
inline __m256i LoadWeightBlock(const Block& b) {
  if constexpr (std::is_same_v<Block, BlockQ5_0>) {
    // (nibble | bit4) - 16 as int8: the nibble when bit 4 is set, else nibble - 16 = nibble | 0xF0.
    const __m256i hi = _mm256_andnot_si256(BitsToBytes32(b.qh), _mm256_set1_epi8(static_cast<char>(0xF0)));
    return _mm256_or_si256(internal::UnpackNibbles32(b.qs), hi);
  } else if constexpr (kNibbles) {
    return _mm256_sub_epi8(internal::UnpackNibbles32(b.qs), _mm256_set1_epi8(8));
  } else {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs));
  }
}

// Weight blocks are unpacked once and reused for NT activation rows; each token keeps its own
// accumulator with the same instruction sequence as NT = 1.
template <typename Block, bool kNibbles, int NT>
void DotQ8N(int64_t n, const void* w, const void* const* x, float* out) {
  const auto* a = static_cast<const Block*>(w);
  const BlockQ8_0* b[NT];
  __m256 acc[NT];
  for (int t = 0; t < NT; ++t) {
    b[t] = static_cast<const BlockQ8_0*>(x[t]);
    acc[t] = _mm256_setzero_ps();
  }
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const float dw = HalfToFloat(a[i].d);
    const __m256i qx = LoadWeightBlock<Block, kNibbles>(a[i]);
    const __m256i ax = _mm256_sign_epi8(qx, qx);
    for (int t = 0; t < NT; ++t) {
      const __m256 d = _mm256_set1_ps(dw * HalfToFloat(b[t][i].d));
      const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[t][i].qs));
      const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(qy, qx)), _mm256_set1_epi16(1));
      acc[t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) out[t] = HsumF32x8(acc[t]);
}

// Register tile of R weight rows x T tokens for Q8_0/Q4_0 weights. Each output runs exactly
// DotQ8N's per-output sequence (per block: |w|, sign(x, w), maddubs, madd, cvt, fmadd with
// dw*dx; one horizontal sum), so every (R, T) gives the single-token bits. A weight block is
// loaded and made absolute once for T tokens; a token's block once for R rows.

template <typename Block, bool kNibbles, int R, int T>
void TileQ8(int64_t n, const uint8_t* w, int64_t w_stride, const void* const* x, float* y,
            int64_t y_stride) {
  const int64_t nb = n / kQK8_0;
  const BlockQ8_0* xb[T];
  for (int t = 0; t < T; ++t) xb[t] = static_cast<const BlockQ8_0*>(x[t]);
  __m256 acc[R][T];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t i = 0; i < nb; ++i) {
    __m256i qy[T];
    __m256 dx[T];
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      qy[t] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[t][i].qs));
      dx[t] = _mm256_set1_ps(HalfToFloat(xb[t][i].d));
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const Block& a = reinterpret_cast<const Block*>(w + r * w_stride)[i];
      // The same block of the next tile's row (no effect on bits).
      _mm_prefetch(reinterpret_cast<const char*>(&a) + R * w_stride, _MM_HINT_T0);
      const __m256i qw = LoadWeightBlock<Block, kNibbles>(a);
      const __m256i aw = _mm256_sign_epi8(qw, qw);
      const __m256 dw = _mm256_set1_ps(HalfToFloat(a.d));
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) {
        // mul of two broadcasts == broadcast of the scalar product DotQ8N uses (same bits).
        const __m256 d = _mm256_mul_ps(dw, dx[t]);
        const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(aw, _mm256_sign_epi8(qy[t], qw)), ones);
        acc[r][t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), acc[r][t]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) y[t * y_stride + r] = HsumF32x8(acc[r][t]);
}

// Decode (a few tokens): rows one after another, each a single sequential stream — the hardware
// prefetcher follows one stream per core far better than R interleaved rows — plus a software
// prefetch 2 KiB ahead, once per cache line (kernels_bench decode_stream measures both against
// 4-row tiles; docs/kernels.md). Each output is TileQ8<.., 1, 1>'s sequence (same bits whatever
// the rows split or T).
template <typename Block, bool kNibbles, int T>
void RowsQ8(int64_t n, const uint8_t* w, int64_t w_stride, int rows, const void* const* x, float* y,
            int64_t y_stride) {
  const int64_t nb = n / kQK8_0;
  const BlockQ8_0* xb[T];
  for (int t = 0; t < T; ++t) xb[t] = static_cast<const BlockQ8_0*>(x[t]);
  const __m256i ones = _mm256_set1_epi16(1);
  for (int r = 0; r < rows; ++r) {
    const Block* a = reinterpret_cast<const Block*>(w + r * w_stride);
    const char* line = reinterpret_cast<const char*>(a);
    __m256 acc[T];
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; ++i) {
      PrefetchStreamTo(line, a + i + 1);
      const __m256i qw = LoadWeightBlock<Block, kNibbles>(a[i]);
      const __m256i aw = _mm256_sign_epi8(qw, qw);
      const __m256 dw = _mm256_set1_ps(HalfToFloat(a[i].d));
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) {
        const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[t][i].qs));
        const __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(HalfToFloat(xb[t][i].d)));
        const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(aw, _mm256_sign_epi8(qy, qw)), ones);
        acc[t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), acc[t]);
      }
    }
    for (int t = 0; t < T; ++t) y[t * y_stride + r] = HsumF32x8(acc[t]);
  }
}

template <typename Block, bool kNibbles>
void StreamQ8Dispatch(int64_t n, const uint8_t* w, int64_t w_stride, int rows, const void* const* x,
                      int tokens, float* y, int64_t y_stride) {
  using Fn = void (*)(int64_t, const uint8_t*, int64_t, int, const void* const*, float*, int64_t);
  static constexpr Fn kTable[4] = {RowsQ8<Block, kNibbles, 1>, RowsQ8<Block, kNibbles, 2>,
                                   RowsQ8<Block, kNibbles, 3>, RowsQ8<Block, kNibbles, 4>};
  kTable[tokens - 1](n, w, w_stride, rows, x, y, y_stride);
}

template <typename Block, bool kNibbles>
void TileQ8Dispatch(int64_t n, const uint8_t* w, int64_t w_stride, int rows, const void* const* x,
                    int tokens, float* y, int64_t y_stride) {
  using Fn = void (*)(int64_t, const uint8_t*, int64_t, const void* const*, float*, int64_t);
  static constexpr Fn kTable[4][4] = {
      {TileQ8<Block, kNibbles, 1, 1>, TileQ8<Block, kNibbles, 1, 2>, TileQ8<Block, kNibbles, 1, 3>, TileQ8<Block, kNibbles, 1, 4>},
      {TileQ8<Block, kNibbles, 2, 1>, TileQ8<Block, kNibbles, 2, 2>, TileQ8<Block, kNibbles, 2, 3>, TileQ8<Block, kNibbles, 2, 4>},
      {TileQ8<Block, kNibbles, 3, 1>, TileQ8<Block, kNibbles, 3, 2>, TileQ8<Block, kNibbles, 3, 3>, TileQ8<Block, kNibbles, 3, 4>},
      {TileQ8<Block, kNibbles, 4, 1>, TileQ8<Block, kNibbles, 4, 2>, TileQ8<Block, kNibbles, 4, 3>, TileQ8<Block, kNibbles, 4, 4>},
  };
  kTable[rows - 1][tokens - 1](n, w, w_stride, x, y, y_stride);
}

template <void (*Multi)(int64_t, const void*, const void* const*, float*)>
float One(int64_t n, const void* w, const void* x) {
  float o;
  Multi(n, w, &x, &o);
  return o;
}

// fma(a, b, c) as one instruction (the scalar twin's std::fma), never left to contraction.
inline float FmaF32(float a, float b, float c) {
  return _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(c)));
}

template <bool kFive, typename Block>
float DotQ45_K(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const Block*>(w);
  const auto* b = static_cast<const BlockQ8_K*>(x);
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  __m256 acc = _mm256_setzero_ps();
  float mins = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t sc[8], mn[8];
    for (int j = 0; j < 8; ++j) GetScaleMinK4(j, a[i].scales, &sc[j], &mn[j]);
    int32_t summ = 0;
    for (int j = 0; j < 8; ++j) summ += mn[j] * (b[i].bsums[2 * j] + b[i].bsums[2 * j + 1]);
    __m256i sumi = _mm256_setzero_si256();
    __m256i hb;
    if constexpr (kFive) hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qh));
    for (int c = 0; c < 4; ++c) {
      const __m256i q4 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs + 32 * c));
      __m256i ql = _mm256_and_si256(q4, m4);
      __m256i qh = _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4);
      if constexpr (kFive) {
        const __m256i one = _mm256_set1_epi8(1);
        const __m128i sl = _mm_cvtsi32_si128(2 * c), sh = _mm_cvtsi32_si128(2 * c + 1);
        ql = _mm256_or_si256(ql, _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(hb, sl), one), 4));
        qh = _mm256_or_si256(qh, _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(hb, sh), one), 4));
      }
      const __m256i y0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs + 64 * c));
      const __m256i y1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs + 64 * c + 32));
      const __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(ql, y0), _mm256_set1_epi16(sc[2 * c]));
      const __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(qh, y1), _mm256_set1_epi16(sc[2 * c + 1]));
      sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
    }
    const float d = HalfToFloat(a[i].d) * b[i].d;
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    const float dmin = HalfToFloat(a[i].dmin) * b[i].d;
    mins = FmaF32(dmin, static_cast<float>(summ), mins);  // explicit: the twin's fusing
  }
  return HsumF32x8(acc) - mins;
}

float DotQ6_K(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ6_K*>(w);
  const auto* b = static_cast<const BlockQ8_K*>(x);
  const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(3);
  __m256 acc = _mm256_setzero_ps();
  float fix = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int32_t corr = 0;
    for (int g = 0; g < 16; ++g) corr += a[i].scales[g] * b[i].bsums[g];
    __m256i sumi = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = a[i].ql + 64 * h;
      const __m256i la = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
      const __m256i lb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
      const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qh + 32 * h));
      __m256i q[4];
      q[0] = _mm256_or_si256(_mm256_and_si256(la, m4), _mm256_slli_epi16(_mm256_and_si256(hb, m2), 4));
      q[1] = _mm256_or_si256(_mm256_and_si256(lb, m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m2), 4));
      q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(la, 4), m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), m2), 4));
      q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(lb, 4), m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), m2), 4));
      for (int k = 0; k < 4; ++k) {
        const int g = 8 * h + 2 * k;
        const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs + 128 * h + 32 * k));
        const __m256i s16 = _mm256_set_m128i(_mm_set1_epi16(a[i].scales[g + 1]), _mm_set1_epi16(a[i].scales[g]));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_maddubs_epi16(q[k], y), s16));
      }
    }
    const float d = HalfToFloat(a[i].d) * b[i].d;
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    fix = FmaF32(d, static_cast<float>(32 * corr), fix);
  }
  return HsumF32x8(acc) - fix;
}

}  // namespace

namespace internal {
// Full tiles: Q8_0/Q4_0/Q5_0 4 rows x 3 tokens (12 accumulators + 3 activation registers).
// F32 2 rows x 4 tokens (8 accumulators, four passes per chunk). F16/BF16 4 rows x 3 tokens over
// activations widened to f32 once per matmul (tile_reads_f32): per 12 FMAs, 4 weight
// conversions and 3 plain loads. One token (decode) streams rows (RowsFloat, RowsQ8).
// kernels_bench compares the shapes (docs/kernels.md).
#define SKV_FLOAT(T, L, F, TAIL, HADD, XF32, TR, TT)                              \
  {.one = OneFloat<T, L, F, FloatTail::TAIL, HADD>,                                 \
   .tile = TileFloatDispatch<T, L, F, FloatTail::TAIL, HADD, XF32>,                 \
   .tile_rows = TR,                                                                \
   .tile_tokens = TT,                                                              \
   .tile_reads_f32 = XF32,                                                         \
   .stream = RowsFloat<T, L, F, FloatTail::TAIL, HADD>,                             \
   .stream_tokens = 1}
// Q8_0 activations against 32-element weight blocks (kNibbles: Q4_0/Q5_0 unpack nibbles).
#define SKV_Q32(B, NIBBLES)                                       \
  {.one = One<DotQ8N<B, NIBBLES, 1>>,                             \
   .multi = DotQ8N<B, NIBBLES, 4>,                                \
   .multi_tokens = 4,                                             \
   .tile = TileQ8Dispatch<B, NIBBLES>,                            \
   .tile_rows = 4,                                                \
   .tile_tokens = 3,                                              \
   .stream = StreamQ8Dispatch<B, NIBBLES>,                        \
   .stream_tokens = kTileMax}
const VecDotTable kVecDotAvx2 = {
    .f32 = SKV_FLOAT(float, LoadF32x8, IdF32, kF32, true, false, 2, 4),
    .f16 = SKV_FLOAT(f16_t, LoadF16x8, F16F, kDouble, true, true, 4, 3),
    .bf16 = SKV_FLOAT(bf16_t, LoadBF16x8, BF16F, kDouble, false, true, 4, 3),
    .q8_0 = SKV_Q32(BlockQ8_0, false),
    .q4_0 = SKV_Q32(BlockQ4_0, true),
    // K-quants: one row x one token per call (the matmul loops over rows and tokens).
    .q4_k = {.one = DotQ45_K<false, BlockQ4_K>},
    .q5_k = {.one = DotQ45_K<true, BlockQ5_K>},
    .q6_k = {.one = DotQ6_K},
    .q5_0 = SKV_Q32(BlockQ5_0, true),
};
#undef SKV_Q32
#undef SKV_FLOAT

}  // namespace internal

}  // namespace swarmkv
