// Test-only: random data for the dot-product and matmul tests (matmul_test, vec_dot_more_test) —
// normal floats, rows quantized by the reference quantizer, and an activation row dequantized
// back to floats (Q8_K has no DequantizeRow: its int8 quants times the block scale).
//
// Thread-safety: pure functions of their arguments and the caller's generator.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/quants.h"

namespace swarmkv::testing_quant {

inline std::vector<float> RandomFloats(int64_t n, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// `rows` rows of `cols` normal floats each, quantized to `type`. REQUIRES CanQuantize(type).
inline std::vector<uint8_t> QuantizedRandomRows(TensorType type, int64_t rows, int64_t cols, std::mt19937& rng) {
  const int64_t rb = RowBytes(type, cols);
  std::vector<uint8_t> out(rb * rows);
  for (int64_t r = 0; r < rows; ++r) {
    auto f = RandomFloats(cols, rng);
    EXPECT_TRUE(QuantizeRow(type, f.data(), out.data() + r * rb, cols).ok());
  }
  return out;
}

// The activation row `x` (of VecDotType(weight type)) as floats.
inline std::vector<float> DequantizeActivation(TensorType vt, const void* x, int64_t n) {
  std::vector<float> out(n);
  if (vt == TensorType::kQ8_K) {
    const auto* b = static_cast<const BlockQ8_K*>(x);
    for (int64_t i = 0; i < n; ++i) out[i] = b[i / kQK_K].d * b[i / kQK_K].qs[i % kQK_K];
  } else {
    EXPECT_TRUE(DequantizeRow(vt, x, out.data(), n).ok());
  }
  return out;
}

// The dot of a weight row (type `t`) and an activation row (type `vt`), both dequantized, in
// double, and the sum of its terms' magnitudes (the scale of a tolerance).
struct ExactDot {
  double value = 0;
  double magnitude = 0;
};
inline ExactDot DequantizedDot(TensorType t, const uint8_t* w, TensorType vt, const void* x, int64_t n) {
  ExactDot dot;
  std::vector<float> wd(n);
  EXPECT_TRUE(DequantizeRow(t, w, wd.data(), n).ok());
  const std::vector<float> xd = DequantizeActivation(vt, x, n);
  for (int64_t i = 0; i < n; ++i) {
    dot.value += static_cast<double>(wd[i]) * xd[i];
    dot.magnitude += std::fabs(static_cast<double>(wd[i]) * xd[i]);
  }
  return dot;
}

}  // namespace swarmkv::testing_quant
