#include "kernels/quants.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "kernels/cpu_features.h"
#include "kernels/quants_more.h"

namespace swarmkv {
namespace {

// ggml's nearest_int: round to nearest, ties to even, for |x| < 2^22.
inline int NearestInt(float fval) {
  float val = fval + 12582912.f;
  int i;
  std::memcpy(&i, &val, sizeof(int));
  return (i & 0x007fffff) - 0x00400000;
}

void QuantizeQ8_0Ref(const float* x, BlockQ8_0* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    float amax = 0.0f;
    for (int j = 0; j < kQK8_0; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = F32ToF16(d);
    for (int j = 0; j < kQK8_0; ++j) y[i].qs[j] = static_cast<int8_t>(std::roundf(x[j] * id));
    x += kQK8_0;
  }
}

// The value of largest magnitude among x[0..n), sign kept (the first one on ties): ggml's
// reference Q4_0/Q5_0 scale it to the most negative quant.
float SignedAbsMax(const float* x, int n) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < n; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

void QuantizeQ4_0Ref(const float* x, BlockQ4_0* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    const float d = SignedAbsMax(x, kQK4_0) / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = F32ToF16(d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      const float x0 = x[j] * id;
      const float x1 = x[kQK4_0 / 2 + j] * id;
      const uint8_t xi0 = static_cast<uint8_t>(std::min<int8_t>(15, static_cast<int8_t>(x0 + 8.5f)));
      const uint8_t xi1 = static_cast<uint8_t>(std::min<int8_t>(15, static_cast<int8_t>(x1 + 8.5f)));
      y[i].qs[j] = static_cast<uint8_t>(xi0 | (xi1 << 4));
    }
    x += kQK4_0;
  }
}

// ggml's reference Q5_0: d = (the signed value of largest magnitude) / -16, q = x/d + 16.5
// truncated and capped at 31; low nibbles in qs (element j and j+16 share a byte), bit 4 of
// element j in bit j of qh.
void QuantizeQ5_0Ref(const float* x, BlockQ5_0* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK5_0; ++i) {
    const float d = SignedAbsMax(x, kQK5_0) / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = F32ToF16(d);
    uint32_t qh = 0;
    for (int j = 0; j < kQK5_0 / 2; ++j) {
      const float x0 = x[j] * id;
      const float x1 = x[kQK5_0 / 2 + j] * id;
      const uint8_t xi0 = static_cast<uint8_t>(std::min<int8_t>(31, static_cast<int8_t>(x0 + 16.5f)));
      const uint8_t xi1 = static_cast<uint8_t>(std::min<int8_t>(31, static_cast<int8_t>(x1 + 16.5f)));
      y[i].qs[j] = static_cast<uint8_t>((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
      qh |= static_cast<uint32_t>((xi0 & 0x10u) >> 4) << j;
      qh |= static_cast<uint32_t>((xi1 & 0x10u) >> 4) << (j + kQK5_0 / 2);
    }
    std::memcpy(y[i].qh, &qh, sizeof(qh));
    x += kQK5_0;
  }
}

}  // namespace

bool CanQuantize(TensorType type) {
  switch (type) {
    case TensorType::kF32:
    case TensorType::kF16:
    case TensorType::kBF16:
    case TensorType::kQ8_0:
    case TensorType::kQ4_0:
    case TensorType::kQ5_0:
    case TensorType::kQ4_1:  // issue 18's reference quantizers (quants_more.h) from here
    case TensorType::kQ5_1:
    case TensorType::kQ2_K:
    case TensorType::kQ3_K:
    case TensorType::kQ4_K:
    case TensorType::kQ5_K:
    case TensorType::kQ6_K:
    case TensorType::kIQ4_NL:
    case TensorType::kIQ4_XS:
    case TensorType::kMXFP4:
      return true;
    default:
      return false;
  }
}

bool CanDequantize(TensorType type) {
  switch (type) {
    case TensorType::kF32:
    case TensorType::kF16:
    case TensorType::kBF16:
    case TensorType::kQ4_0:
    case TensorType::kQ4_1:
    case TensorType::kQ5_0:
    case TensorType::kQ5_1:
    case TensorType::kQ8_0:
    case TensorType::kQ2_K:
    case TensorType::kQ3_K:
    case TensorType::kQ4_K:
    case TensorType::kQ5_K:
    case TensorType::kQ6_K:
    case TensorType::kIQ4_NL:
    case TensorType::kIQ4_XS:
    case TensorType::kMXFP4:
    case TensorType::kQ8_1:
      return true;
    default:
      return false;
  }
}

int BlockElements(TensorType type) {
  switch (type) {
    case TensorType::kF32:
    case TensorType::kF16:
    case TensorType::kBF16:
      return 1;
    case TensorType::kQ4_0:
    case TensorType::kQ4_1:
    case TensorType::kQ5_0:
    case TensorType::kQ5_1:
    case TensorType::kQ8_0:
    case TensorType::kQ8_1:
    case TensorType::kIQ4_NL:
    case TensorType::kMXFP4:
      return 32;
    case TensorType::kQ2_K:
    case TensorType::kQ3_K:
    case TensorType::kQ4_K:
    case TensorType::kQ5_K:
    case TensorType::kQ6_K:
    case TensorType::kQ8_K:
    case TensorType::kIQ4_XS:
      return kQK_K;
    default:
      return 0;
  }
}

int BlockBytes(TensorType type) {
  switch (type) {
    case TensorType::kF32: return 4;
    case TensorType::kF16: return 2;
    case TensorType::kBF16: return 2;
    case TensorType::kQ4_0: return sizeof(BlockQ4_0);
    case TensorType::kQ4_1: return sizeof(BlockQ4_1);
    case TensorType::kQ5_0: return sizeof(BlockQ5_0);
    case TensorType::kQ5_1: return sizeof(BlockQ5_1);
    case TensorType::kQ8_0: return sizeof(BlockQ8_0);
    case TensorType::kQ2_K: return sizeof(BlockQ2_K);
    case TensorType::kQ3_K: return sizeof(BlockQ3_K);
    case TensorType::kQ4_K: return sizeof(BlockQ4_K);
    case TensorType::kQ5_K: return sizeof(BlockQ5_K);
    case TensorType::kQ6_K: return sizeof(BlockQ6_K);
    case TensorType::kQ8_K: return sizeof(BlockQ8_K);
    case TensorType::kQ8_1: return sizeof(BlockQ8_1);
    case TensorType::kIQ4_NL: return sizeof(BlockIQ4_NL);
    case TensorType::kIQ4_XS: return sizeof(BlockIQ4_XS);
    case TensorType::kMXFP4: return sizeof(BlockMXFP4);
    default: return 0;
  }
}

int64_t RowBytes(TensorType type, int64_t n) {
  const int be = BlockElements(type);
  if (be == 0 || n < 0 || n % be != 0) return 0;
  return n / be * BlockBytes(type);
}

static Status CheckRow(TensorType type, int64_t n, const char* what) {
  const int be = BlockElements(type);
  if (n < 0 || be == 0 || n % be != 0) {
    return InvalidArgumentError(std::string(what) + ": row of " + std::to_string(n) +
                                " elements is not a multiple of the " +
                                TensorTypeName(static_cast<uint32_t>(type)) + " block size " +
                                std::to_string(be));
  }
  return Status::OK();
}

Status QuantizeRow(TensorType type, const float* src, void* dst, int64_t n) {
  if (!CanQuantize(type)) {
    return InvalidArgumentError("QuantizeRow: cannot quantize to type " +
                                TensorTypeName(static_cast<uint32_t>(type)));
  }
  SKV_RETURN_IF_ERROR(CheckRow(type, n, "QuantizeRow"));
  switch (type) {
    case TensorType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      break;
    case TensorType::kF16: {
      auto* y = static_cast<f16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) y[i] = F32ToF16(src[i]);
      break;
    }
    case TensorType::kBF16: {
      auto* y = static_cast<bf16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) y[i] = F32ToBF16(src[i]);
      break;
    }
    case TensorType::kQ8_0:
      QuantizeQ8_0Ref(src, static_cast<BlockQ8_0*>(dst), n);
      break;
    case TensorType::kQ4_0:
      QuantizeQ4_0Ref(src, static_cast<BlockQ4_0*>(dst), n);
      break;
    case TensorType::kQ5_0:
      QuantizeQ5_0Ref(src, static_cast<BlockQ5_0*>(dst), n);
      break;
    case TensorType::kQ4_1: QuantizeQ4_1Ref(src, static_cast<BlockQ4_1*>(dst), n); break;
    case TensorType::kQ5_1: QuantizeQ5_1Ref(src, static_cast<BlockQ5_1*>(dst), n); break;
    case TensorType::kQ2_K: QuantizeQ2_KRef(src, static_cast<BlockQ2_K*>(dst), n); break;
    case TensorType::kQ3_K: QuantizeQ3_KRef(src, static_cast<BlockQ3_K*>(dst), n); break;
    case TensorType::kQ4_K: QuantizeQ4_KRef(src, static_cast<BlockQ4_K*>(dst), n); break;
    case TensorType::kQ5_K: QuantizeQ5_KRef(src, static_cast<BlockQ5_K*>(dst), n); break;
    case TensorType::kQ6_K: QuantizeQ6_KRef(src, static_cast<BlockQ6_K*>(dst), n); break;
    case TensorType::kIQ4_NL: QuantizeIQ4_NLRef(src, static_cast<BlockIQ4_NL*>(dst), n); break;
    case TensorType::kIQ4_XS: QuantizeIQ4_XSRef(src, static_cast<BlockIQ4_XS*>(dst), n); break;
    case TensorType::kMXFP4: QuantizeMXFP4Ref(src, static_cast<BlockMXFP4*>(dst), n); break;
    default:
      break;
  }
  return Status::OK();
}

Status DequantizeRow(TensorType type, const void* src, float* dst, int64_t n) {
  if (!CanDequantize(type)) {
    return InvalidArgumentError("DequantizeRow: cannot dequantize type " +
                                TensorTypeName(static_cast<uint32_t>(type)));
  }
  SKV_RETURN_IF_ERROR(CheckRow(type, n, "DequantizeRow"));
  switch (type) {
    case TensorType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      break;
    case TensorType::kF16: {
      const auto* x = static_cast<const f16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = F16ToF32(x[i]);
      break;
    }
    case TensorType::kBF16: {
      const auto* x = static_cast<const bf16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = BF16ToF32(x[i]);
      break;
    }
    case TensorType::kQ4_0: DequantizeQ4_0(static_cast<const BlockQ4_0*>(src), dst, n); break;
    case TensorType::kQ4_1: DequantizeQ4_1(static_cast<const BlockQ4_1*>(src), dst, n); break;
    case TensorType::kQ5_0: DequantizeQ5_0(static_cast<const BlockQ5_0*>(src), dst, n); break;
    case TensorType::kQ5_1: DequantizeQ5_1(static_cast<const BlockQ5_1*>(src), dst, n); break;
    case TensorType::kQ8_0: DequantizeQ8_0(static_cast<const BlockQ8_0*>(src), dst, n); break;
    case TensorType::kQ2_K: DequantizeQ2_K(static_cast<const BlockQ2_K*>(src), dst, n); break;
    case TensorType::kQ3_K: DequantizeQ3_K(static_cast<const BlockQ3_K*>(src), dst, n); break;
    case TensorType::kQ4_K: DequantizeQ4_K(static_cast<const BlockQ4_K*>(src), dst, n); break;
    case TensorType::kQ5_K: DequantizeQ5_K(static_cast<const BlockQ5_K*>(src), dst, n); break;
    case TensorType::kQ6_K: DequantizeQ6_K(static_cast<const BlockQ6_K*>(src), dst, n); break;
    case TensorType::kIQ4_NL: DequantizeIQ4_NL(static_cast<const BlockIQ4_NL*>(src), dst, n); break;
    case TensorType::kIQ4_XS: DequantizeIQ4_XS(static_cast<const BlockIQ4_XS*>(src), dst, n); break;
    case TensorType::kMXFP4: DequantizeMXFP4(static_cast<const BlockMXFP4*>(src), dst, n); break;
    case TensorType::kQ8_1: DequantizeQ8_1(static_cast<const BlockQ8_1*>(src), dst, n); break;
    default: break;
  }
  return Status::OK();
}

namespace internal {
void QuantizeRowQ8_0ActScalar(const float* x, BlockQ8_0* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    float amax = 0.0f;
    for (int j = 0; j < kQK8_0; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.f;
    y[i].d = F32ToF16(d);
    const float id = amax != 0.0f ? 127.f / amax : 0.0f;
    for (int j = 0; j < kQK8_0; ++j) {
      y[i].qs[j] = static_cast<int8_t>(static_cast<int>(std::nearbyintf(x[j] * id)));
    }
    x += kQK8_0;
  }
}
}  // namespace internal

void QuantizeRowQ8_0Act(const float* x, BlockQ8_0* y, int64_t n) {
  // Every matmul and KV write quantizes its activations here; AVX2 gives the scalar bits.
  if (IsaSupported(Isa::kAvx2)) return internal::QuantizeRowQ8_0ActAvx2(x, y, n);
  internal::QuantizeRowQ8_0ActScalar(x, y, n);
}

void QuantizeRowQ8_K(const float* x, BlockQ8_K* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    float max = 0, amax = 0;
    for (int j = 0; j < kQK_K; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (amax == 0.0f) {
      y[i].d = 0;
      std::memset(y[i].qs, 0, sizeof y[i].qs);
      std::memset(y[i].bsums, 0, sizeof y[i].bsums);
      x += kQK_K;
      continue;
    }
    const float iscale = -127.f / max;
    for (int j = 0; j < kQK_K; ++j) {
      const int v = NearestInt(iscale * x[j]);
      y[i].qs[j] = static_cast<int8_t>(std::min(127, v));
    }
    for (int j = 0; j < kQK_K / 16; ++j) {
      int sum = 0;
      for (int ii = 0; ii < 16; ++ii) sum += y[i].qs[j * 16 + ii];
      y[i].bsums[j] = static_cast<int16_t>(sum);
    }
    y[i].d = 1 / iscale;
    x += kQK_K;
  }
}

void DequantizeQ4_0(const BlockQ4_0* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    const float d = F16ToF32(x[i].d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      y[i * kQK4_0 + j] = static_cast<float>((x[i].qs[j] & 0x0F) - 8) * d;
      y[i * kQK4_0 + j + kQK4_0 / 2] = static_cast<float>((x[i].qs[j] >> 4) - 8) * d;
    }
  }
}

void DequantizeQ4_1(const BlockQ4_1* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK4_1; ++i) {
    const float d = F16ToF32(x[i].d);
    const float m = F16ToF32(x[i].m);
    for (int j = 0; j < kQK4_1 / 2; ++j) {
      y[i * kQK4_1 + j] = static_cast<float>(x[i].qs[j] & 0x0F) * d + m;
      y[i * kQK4_1 + j + kQK4_1 / 2] = static_cast<float>(x[i].qs[j] >> 4) * d + m;
    }
  }
}

void DequantizeQ5_0(const BlockQ5_0* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK5_0; ++i) {
    const float d = F16ToF32(x[i].d);
    uint32_t qh;
    std::memcpy(&qh, x[i].qh, sizeof qh);
    for (int j = 0; j < kQK5_0 / 2; ++j) {
      const uint8_t xh0 = ((qh >> (j + 0)) << 4) & 0x10;
      const uint8_t xh1 = ((qh >> (j + 12))) & 0x10;
      const int32_t x0 = ((x[i].qs[j] & 0x0F) | xh0) - 16;
      const int32_t x1 = ((x[i].qs[j] >> 4) | xh1) - 16;
      y[i * kQK5_0 + j] = static_cast<float>(x0) * d;
      y[i * kQK5_0 + j + kQK5_0 / 2] = static_cast<float>(x1) * d;
    }
  }
}

void DequantizeQ5_1(const BlockQ5_1* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK5_1; ++i) {
    const float d = F16ToF32(x[i].d);
    const float m = F16ToF32(x[i].m);
    uint32_t qh;
    std::memcpy(&qh, x[i].qh, sizeof qh);
    for (int j = 0; j < kQK5_1 / 2; ++j) {
      const uint8_t xh0 = ((qh >> (j + 0)) << 4) & 0x10;
      const uint8_t xh1 = ((qh >> (j + 12))) & 0x10;
      const int x0 = (x[i].qs[j] & 0x0F) | xh0;
      const int x1 = (x[i].qs[j] >> 4) | xh1;
      y[i * kQK5_1 + j] = static_cast<float>(x0) * d + m;
      y[i * kQK5_1 + j + kQK5_1 / 2] = static_cast<float>(x1) * d + m;
    }
  }
}

void DequantizeQ8_0(const BlockQ8_0* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const float d = F16ToF32(x[i].d);
    for (int j = 0; j < kQK8_0; ++j) y[i * kQK8_0 + j] = static_cast<float>(x[i].qs[j]) * d;
  }
}

void DequantizeQ2_K(const BlockQ2_K* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = F16ToF32(x[i].d);
    const float min = F16ToF32(x[i].dmin);
    const uint8_t* q = x[i].qs;
    int is = 0;
    for (int nn = 0; nn < kQK_K; nn += 128) {
      int shift = 0;
      for (int j = 0; j < 4; ++j) {
        uint8_t sc = x[i].scales[is++];
        float dl = d * (sc & 0xF), ml = min * (sc >> 4);
        for (int l = 0; l < 16; ++l) *y++ = dl * static_cast<int8_t>((q[l] >> shift) & 3) - ml;
        sc = x[i].scales[is++];
        dl = d * (sc & 0xF);
        ml = min * (sc >> 4);
        for (int l = 0; l < 16; ++l) *y++ = dl * static_cast<int8_t>((q[l + 16] >> shift) & 3) - ml;
        shift += 2;
      }
      q += 32;
    }
  }
}

void DequantizeQ3_K(const BlockQ3_K* x, float* y, int64_t n) {
  const uint32_t kmask1 = 0x03030303;
  const uint32_t kmask2 = 0x0f0f0f0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d_all = F16ToF32(x[i].d);
    const uint8_t* q = x[i].qs;
    const uint8_t* hm = x[i].hmask;
    uint8_t m = 1;
    uint32_t aux[4];
    std::memcpy(aux, x[i].scales, 12);
    const uint32_t tmp = aux[2];
    aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
    aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
    aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
    aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
    int8_t scales[16];
    std::memcpy(scales, aux, 16);
    int is = 0;
    for (int nn = 0; nn < kQK_K; nn += 128) {
      int shift = 0;
      for (int j = 0; j < 4; ++j) {
        float dl = d_all * (scales[is++] - 32);
        for (int l = 0; l < 16; ++l) {
          *y++ = dl * (static_cast<int8_t>((q[l + 0] >> shift) & 3) - ((hm[l + 0] & m) ? 0 : 4));
        }
        dl = d_all * (scales[is++] - 32);
        for (int l = 0; l < 16; ++l) {
          *y++ = dl * (static_cast<int8_t>((q[l + 16] >> shift) & 3) - ((hm[l + 16] & m) ? 0 : 4));
        }
        shift += 2;
        m <<= 1;
      }
      q += 32;
    }
  }
}

void DequantizeQ4_K(const BlockQ4_K* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const uint8_t* q = x[i].qs;
    const float d = F16ToF32(x[i].d);
    const float min = F16ToF32(x[i].dmin);
    int is = 0;
    uint8_t sc, m;
    for (int j = 0; j < kQK_K; j += 64) {
      GetScaleMinK4(is + 0, x[i].scales, &sc, &m);
      const float d1 = d * sc, m1 = min * m;
      GetScaleMinK4(is + 1, x[i].scales, &sc, &m);
      const float d2 = d * sc, m2 = min * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
      q += 32;
      is += 2;
    }
  }
}

void DequantizeQ5_K(const BlockQ5_K* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const uint8_t* ql = x[i].qs;
    const uint8_t* qh = x[i].qh;
    const float d = F16ToF32(x[i].d);
    const float min = F16ToF32(x[i].dmin);
    int is = 0;
    uint8_t sc, m;
    uint8_t u1 = 1, u2 = 2;
    for (int j = 0; j < kQK_K; j += 64) {
      GetScaleMinK4(is + 0, x[i].scales, &sc, &m);
      const float d1 = d * sc, m1 = min * m;
      GetScaleMinK4(is + 1, x[i].scales, &sc, &m);
      const float d2 = d * sc, m2 = min * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
      ql += 32;
      is += 2;
      u1 <<= 2;
      u2 <<= 2;
    }
  }
}

void DequantizeQ6_K(const BlockQ6_K* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = F16ToF32(x[i].d);
    const uint8_t* ql = x[i].ql;
    const uint8_t* qh = x[i].qh;
    const int8_t* sc = x[i].scales;
    for (int nn = 0; nn < kQK_K; nn += 128) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int8_t q1 = static_cast<int8_t>((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int8_t q2 = static_cast<int8_t>((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int8_t q3 = static_cast<int8_t>((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int8_t q4 = static_cast<int8_t>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l + 0] = d * sc[is + 0] * q1;
        y[l + 32] = d * sc[is + 2] * q2;
        y[l + 64] = d * sc[is + 4] * q3;
        y[l + 96] = d * sc[is + 6] * q4;
      }
      y += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
}

}  // namespace swarmkv
