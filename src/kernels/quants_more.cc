#include "kernels/quants_more.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/quants.h"

namespace swarmkv {
namespace {

int Nearest(float v) { return static_cast<int>(std::nearbyint(v)); }
int Clamp(int v, int lo, int hi) { return std::min(hi, std::max(lo, v)); }

// The value of largest magnitude among x[0..n), sign kept (the first on ties).
float SignedMax(const float* x, int n) {
  float amax = 0.0f, m = 0.0f;
  for (int j = 0; j < n; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      m = x[j];
    }
  }
  return m;
}

// f16 round trip: the scale the block will really hold.
float AsF16(float f, f16_t* out) {
  *out = F32ToF16(f);
  return F16ToF32(*out);
}

// Affine sub-blocks (Q2_K, Q4_K, Q5_K): value = d*sc*q - dmin*m with q in [0, nmax] and the
// sub-block scale sc and min m quantized to [0, smax]. Writes the per-element q (0..nmax) and the
// per-sub-block sc/m; returns the f16 d and dmin through `d_out` / `dmin_out`.
void AffineSubBlocks(const float* x, int n_sub, int sub_len, int nmax, int smax, uint8_t* q, uint8_t* sc,
                     uint8_t* m, f16_t* d_out, f16_t* dmin_out) {
  float scale[16], minv[16];
  float max_scale = 0.0f, max_min = 0.0f;
  for (int s = 0; s < n_sub; ++s) {
    const float* xs = x + s * sub_len;
    float lo = 0.0f, hi = xs[0];  // the min is kept <= 0, as llama.cpp's quantizers do
    for (int j = 0; j < sub_len; ++j) {
      lo = std::min(lo, xs[j]);
      hi = std::max(hi, xs[j]);
    }
    scale[s] = std::max(0.0f, hi - lo) / static_cast<float>(nmax);
    minv[s] = -lo;
    max_scale = std::max(max_scale, scale[s]);
    max_min = std::max(max_min, minv[s]);
  }
  const float d = AsF16(max_scale / static_cast<float>(smax), d_out);
  const float dmin = AsF16(max_min / static_cast<float>(smax), dmin_out);
  for (int s = 0; s < n_sub; ++s) {
    sc[s] = static_cast<uint8_t>(d > 0.0f ? Clamp(Nearest(scale[s] / d), 0, smax) : 0);
    m[s] = static_cast<uint8_t>(dmin > 0.0f ? Clamp(Nearest(minv[s] / dmin), 0, smax) : 0);
    const float ds = d * static_cast<float>(sc[s]), dm = dmin * static_cast<float>(m[s]);
    for (int j = 0; j < sub_len; ++j) {
      const int e = s * sub_len + j;
      q[e] = static_cast<uint8_t>(ds > 0.0f ? Clamp(Nearest((x[e] + dm) / ds), 0, nmax) : 0);
    }
  }
}

// Symmetric sub-blocks (Q3_K, Q6_K): value = d*sc*q with q in [qmin, -qmin-1] and the signed
// sub-block scale sc in [smin, -smin-1]; the element of largest magnitude maps to qmin.
void SymmetricSubBlocks(const float* x, int n_sub, int sub_len, int qmin, int smin, int* q, int* sc, f16_t* d_out) {
  float scale[16];
  for (int s = 0; s < n_sub; ++s) scale[s] = SignedMax(x + s * sub_len, sub_len) / static_cast<float>(qmin);
  const float d = AsF16(SignedMax(scale, n_sub) / static_cast<float>(smin), d_out);
  for (int s = 0; s < n_sub; ++s) {
    sc[s] = d != 0.0f ? Clamp(Nearest(scale[s] / d), smin, -smin - 1) : 0;
    const float ds = d * static_cast<float>(sc[s]);
    for (int j = 0; j < sub_len; ++j) {
      const int e = s * sub_len + j;
      q[e] = ds != 0.0f ? Clamp(Nearest(x[e] / ds), qmin, -qmin - 1) : 0;
    }
  }
}

// The index of the code-book value nearest to v (the first on ties).
int NearestIndex(const int8_t table[16], float v) {
  int best = 0;
  float err = std::fabs(v - table[0]);
  for (int k = 1; k < 16; ++k) {
    const float e = std::fabs(v - table[k]);
    if (e < err) {
      err = e;
      best = k;
    }
  }
  return best;
}

// 32 code-book indices packed as ggml's 4-bit blocks: element j low nibble of byte j, element
// j+16 high nibble.
void PackNibbles32(const int idx[32], uint8_t qs[16]) {
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>(idx[j] | (idx[j + 16] << 4));
}

// Q4_1 / Q5_1: value = d*q + m, q in [0, nmax], m the block minimum.
template <int kBits, typename Block>
void QuantizeAffine32(const float* x, Block* y, int64_t n) {
  constexpr int nmax = (1 << kBits) - 1;
  for (int64_t i = 0; i < n / 32; ++i, x += 32) {
    float lo = x[0], hi = x[0];
    for (int j = 1; j < 32; ++j) {
      lo = std::min(lo, x[j]);
      hi = std::max(hi, x[j]);
    }
    const float d = AsF16((hi - lo) / nmax, &y[i].d);
    const float m = AsF16(lo, &y[i].m);
    int q[32];
    for (int j = 0; j < 32; ++j) q[j] = d > 0.0f ? Clamp(Nearest((x[j] - m) / d), 0, nmax) : 0;
    for (int j = 0; j < 16; ++j) y[i].qs[j] = static_cast<uint8_t>((q[j] & 0xF) | ((q[j + 16] & 0xF) << 4));
    if constexpr (kBits == 5) {
      uint32_t qh = 0;
      for (int j = 0; j < 32; ++j) qh |= static_cast<uint32_t>(q[j] >> 4) << j;
      std::memcpy(y[i].qh, &qh, sizeof qh);
    }
  }
}

}  // namespace

void QuantizeQ4_1Ref(const float* x, BlockQ4_1* y, int64_t n) { QuantizeAffine32<4>(x, y, n); }
void QuantizeQ5_1Ref(const float* x, BlockQ5_1* y, int64_t n) { QuantizeAffine32<5>(x, y, n); }

void QuantizeQ2_KRef(const float* x, BlockQ2_K* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    uint8_t q[kQK_K], sc[16], m[16];
    AffineSubBlocks(x, 16, 16, 3, 15, q, sc, m, &y[i].d, &y[i].dmin);
    for (int s = 0; s < 16; ++s) y[i].scales[s] = static_cast<uint8_t>(sc[s] | (m[s] << 4));
    // Element e = 128h + 32j + l: bits 2j..2j+1 of qs[32h + l].
    std::memset(y[i].qs, 0, sizeof y[i].qs);
    for (int e = 0; e < kQK_K; ++e) y[i].qs[32 * (e / 128) + e % 32] |= static_cast<uint8_t>(q[e] << (2 * ((e / 32) % 4)));
  }
}

void QuantizeQ3_KRef(const float* x, BlockQ3_K* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    int q[kQK_K], sc[16];
    SymmetricSubBlocks(x, 16, 16, -4, -32, q, sc, &y[i].d);
    std::memset(y[i].scales, 0, sizeof y[i].scales);
    for (int s = 0; s < 16; ++s) {  // the inverse of UnpackQ3KScales
      const int v = sc[s] + 32;
      y[i].scales[s % 8] |= static_cast<uint8_t>((v & 0xF) << (4 * (s / 8)));
      y[i].scales[8 + s % 4] |= static_cast<uint8_t>((v >> 4) << (2 * (s / 4)));
    }
    // q + 4 in 0..7: low 2 bits as Q2_K, bit 2 in bit e/32 of hmask[e % 32].
    std::memset(y[i].qs, 0, sizeof y[i].qs);
    std::memset(y[i].hmask, 0, sizeof y[i].hmask);
    for (int e = 0; e < kQK_K; ++e) {
      const int u = q[e] + 4;
      y[i].qs[32 * (e / 128) + e % 32] |= static_cast<uint8_t>((u & 3) << (2 * ((e / 32) % 4)));
      y[i].hmask[e % 32] |= static_cast<uint8_t>((u >> 2) << (e / 32));
    }
  }
}

// Q4_K / Q5_K scales: bytes 0-3 scale j (6 bits) + top 2 bits of scale j+4; bytes 4-7 min j +
// top 2 bits of min j+4; bytes 8-11 low nibbles of scale j+4 and min j+4 (GetScaleMinK4).
static void PackScaleMinK4(const uint8_t sc[8], const uint8_t m[8], uint8_t out[12]) {
  for (int j = 0; j < 4; ++j) {
    out[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    out[j + 4] = static_cast<uint8_t>(m[j] | ((m[j + 4] >> 4) << 6));
    out[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xF) | ((m[j + 4] & 0xF) << 4));
  }
}

void QuantizeQ4_KRef(const float* x, BlockQ4_K* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    uint8_t q[kQK_K], sc[8], m[8];
    AffineSubBlocks(x, 8, 32, 15, 63, q, sc, m, &y[i].d, &y[i].dmin);
    PackScaleMinK4(sc, m, y[i].scales);
    // Chunk c of 64: element 64c + l low nibble of qs[32c + l], 64c + 32 + l the high nibble.
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) y[i].qs[32 * c + l] = static_cast<uint8_t>(q[64 * c + l] | (q[64 * c + 32 + l] << 4));
    }
  }
}

void QuantizeQ5_KRef(const float* x, BlockQ5_K* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    uint8_t q[kQK_K], sc[8], m[8];
    AffineSubBlocks(x, 8, 32, 31, 63, q, sc, m, &y[i].d, &y[i].dmin);
    PackScaleMinK4(sc, m, y[i].scales);
    std::memset(y[i].qh, 0, sizeof y[i].qh);
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        y[i].qs[32 * c + l] = static_cast<uint8_t>((q[64 * c + l] & 0xF) | ((q[64 * c + 32 + l] & 0xF) << 4));
      }
    }
    // Bit 4 of element e in bit e/32 of qh[e % 32].
    for (int e = 0; e < kQK_K; ++e) y[i].qh[e % 32] |= static_cast<uint8_t>((q[e] >> 4) << (e / 32));
  }
}

void QuantizeQ6_KRef(const float* x, BlockQ6_K* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    int q[kQK_K], sc[16];
    SymmetricSubBlocks(x, 16, 16, -32, -128, q, sc, &y[i].d);
    for (int s = 0; s < 16; ++s) y[i].scales[s] = static_cast<int8_t>(sc[s]);
    // Element 128h + 32k + l (k 0..3, l 0..31), u = q + 32: low nibble in ql[64h + l + 32(k%2)]
    // (k < 2 low half of the byte, else high), bits 4-5 in qh[32h + l] at 2k.
    std::memset(y[i].ql, 0, sizeof y[i].ql);
    std::memset(y[i].qh, 0, sizeof y[i].qh);
    for (int e = 0; e < kQK_K; ++e) {
      const int h = e / 128, k = (e / 32) % 4, l = e % 32, u = q[e] + 32;
      y[i].ql[64 * h + l + 32 * (k % 2)] |= static_cast<uint8_t>((u & 0xF) << (4 * (k / 2)));
      y[i].qh[32 * h + l] |= static_cast<uint8_t>((u >> 4) << (2 * k));
    }
  }
}

void QuantizeIQ4_NLRef(const float* x, BlockIQ4_NL* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK4_NL; ++i, x += kQK4_NL) {
    const float d = AsF16(SignedMax(x, kQK4_NL) / kIq4NlValues[0], &y[i].d);
    int idx[32];
    for (int j = 0; j < 32; ++j) idx[j] = NearestIndex(kIq4NlValues, d != 0.0f ? x[j] / d : 0.0f);
    PackNibbles32(idx, y[i].qs);
  }
}

void QuantizeIQ4_XSRef(const float* x, BlockIQ4_XS* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float scale[8];
    for (int s = 0; s < 8; ++s) scale[s] = SignedMax(x + 32 * s, 32) / kIq4NlValues[0];
    const float d = AsF16(SignedMax(scale, 8) / -32.0f, &y[i].d);
    y[i].scales_h = 0;
    std::memset(y[i].scales_l, 0, sizeof y[i].scales_l);
    for (int s = 0; s < 8; ++s) {
      const int v = d != 0.0f ? Clamp(Nearest(scale[s] / d), -32, 31) : 0;
      const int ls = v + 32;
      y[i].scales_l[s / 2] |= static_cast<uint8_t>((ls & 0xF) << (4 * (s % 2)));
      y[i].scales_h |= static_cast<uint16_t>((ls >> 4) << (2 * s));
      const float ds = d * static_cast<float>(v);
      int idx[32];
      for (int j = 0; j < 32; ++j) idx[j] = NearestIndex(kIq4NlValues, ds != 0.0f ? x[32 * s + j] / ds : 0.0f);
      PackNibbles32(idx, y[i].qs + 16 * s);
    }
  }
}

void QuantizeMXFP4Ref(const float* x, BlockMXFP4* y, int64_t n) {
  for (int64_t i = 0; i < n / kQKMxfp4; ++i, x += kQKMxfp4) {
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    // The smallest power of two d = 2^(e - 128) with amax / d <= 12 (the largest doubled E2M1).
    int e = 2;
    if (amax > 0.0f) {
      int exp2 = 0;
      const float mant = std::frexp(amax / 12.0f, &exp2);  // amax / 12 = mant * 2^exp2, mant in [0.5, 1)
      e = Clamp(128 + (mant == 0.5f ? exp2 - 1 : exp2), 2, 254);
    }
    y[i].e = static_cast<uint8_t>(e);
    const float d = E8M0ToF32Half(y[i].e);
    int idx[32];
    for (int j = 0; j < 32; ++j) idx[j] = NearestIndex(kMxfp4Values, x[j] / d);
    PackNibbles32(idx, y[i].qs);
  }
}

void DequantizeIQ4_NL(const BlockIQ4_NL* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK4_NL; ++i, y += kQK4_NL) {
    const float d = F16ToF32(x[i].d);
    for (int j = 0; j < 16; ++j) {
      y[j] = d * kIq4NlValues[x[i].qs[j] & 0xF];
      y[j + 16] = d * kIq4NlValues[x[i].qs[j] >> 4];
    }
  }
}

void DequantizeIQ4_XS(const BlockIQ4_XS* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = F16ToF32(x[i].d);
    const uint8_t* qs = x[i].qs;
    for (int ib = 0; ib < 8; ++ib, y += 32, qs += 16) {
      const float dl = d * static_cast<float>(Iq4XsScale(x[i], ib) - 32);
      for (int j = 0; j < 16; ++j) {
        y[j] = dl * kIq4NlValues[qs[j] & 0xF];
        y[j + 16] = dl * kIq4NlValues[qs[j] >> 4];
      }
    }
  }
}

void DequantizeMXFP4(const BlockMXFP4* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQKMxfp4; ++i, y += kQKMxfp4) {
    const float d = E8M0ToF32Half(x[i].e);
    for (int j = 0; j < 16; ++j) {
      y[j] = static_cast<float>(kMxfp4Values[x[i].qs[j] & 0xF]) * d;
      y[j + 16] = static_cast<float>(kMxfp4Values[x[i].qs[j] >> 4]) * d;
    }
  }
}

void DequantizeQ8_1(const BlockQ8_1* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK8_1; ++i) {
    const float d = F16ToF32(x[i].d);
    for (int j = 0; j < kQK8_1; ++j) y[i * kQK8_1 + j] = static_cast<float>(x[i].qs[j]) * d;
  }
}

void QuantizeRowQ8_1Act(const float* x, BlockQ8_1* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK8_1; ++i, x += kQK8_1) {
    BlockQ8_0 b;
    QuantizeRowQ8_0Act(x, &b, kQK8_1);  // ggml's x86 quantize_row_q8_1 quants are q8_0's
    float amax = 0.0f;
    for (int j = 0; j < kQK8_1; ++j) amax = std::max(amax, std::fabs(x[j]));
    int sum = 0;
    for (int j = 0; j < kQK8_1; ++j) sum += b.qs[j];
    y[i].d = b.d;
    y[i].s = F32ToF16(amax / 127.f * static_cast<float>(sum));
    std::memcpy(y[i].qs, b.qs, sizeof b.qs);
  }
}

}  // namespace swarmkv
