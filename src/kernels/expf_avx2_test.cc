// ExpfAvx2 against this machine's libm expf, bit for bit: a strided sweep over every float the
// softmax feeds it (x <= 0: -0, denormals, down past the underflow point, -inf, NaNs), a coarser
// sweep over x > 0, every edge value, every tail length; and the table against the exactly
// checked correctly rounded 2^(i/32). DISABLED_EveryFloat covers all 2^32 bit patterns (~35 s;
// run it with --gtest_also_run_disabled_tests --gtest_filter='*EveryFloat*').
#include "kernels/expf_avx2.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/cpu_features.h"

namespace swarmkv {
namespace {

// Through a volatile pointer so the compiler cannot fold a call on a constant (it would use
// its own correctly rounded exp, not libm's bits).
float (*volatile libm_expf)(float) = ::expf;

uint32_t Bits(float x) {
  uint32_t b;
  std::memcpy(&b, &x, 4);
  return b;
}
float FromBits(uint32_t b) {
  float x;
  std::memcpy(&x, &b, 4);
  return x;
}

// Compares bit patterns first, first + stride, ... up to last (inclusive) in chunks; returns the
// number of mismatches (reporting the first few).
int64_t CompareRange(uint64_t first, uint64_t last, uint64_t stride) {
  constexpr int kChunk = 4096;
  std::vector<float> x(kChunk), y(kChunk);
  int64_t bad = 0;
  for (uint64_t b = first; b <= last;) {
    int n = 0;
    for (; n < kChunk && b <= last; ++n, b += stride) x[n] = FromBits(static_cast<uint32_t>(b));
    internal::ExpfAvx2(x.data(), y.data(), n);
    for (int i = 0; i < n; ++i) {
      const float want = libm_expf(x[i]);
      if (Bits(y[i]) != Bits(want)) {
        if (++bad <= 5)
          ADD_FAILURE() << std::hex << "x bits 0x" << Bits(x[i]) << " (" << x[i] << "): got 0x" << Bits(y[i])
                        << " want 0x" << Bits(want);
      }
    }
  }
  return bad;
}

#define SKIP_WITHOUT_AVX2() \
  if (!IsaSupported(Isa::kAvx2)) GTEST_SKIP() << "CPU lacks AVX2/FMA: ExpfAvx2 cannot run (and libm would not use __expf_fma)"

TEST(ExpfAvx2Test, EqualsLibmOnSoftmaxRangeEvery29thFloat) {
  SKIP_WITHOUT_AVX2();
  // 0x80000000 (-0) .. 0xffffffff: negative denormals, normals to -FLT_MAX, -inf, negative NaNs.
  EXPECT_EQ(CompareRange(0x80000000u, 0xffffffffu, 29), 0);
  // The tail of the range again with a different phase, and the dense neighbourhood of the
  // underflow thresholds (-103.97 .. -103.28) and of the special-path entry at -88.
  EXPECT_EQ(CompareRange(0x80000001u, 0xffffffffu, 9973), 0);
  EXPECT_EQ(CompareRange(Bits(-0x1.9c0000p6f), Bits(-0x1.a10000p6f), 1), 0);
  EXPECT_EQ(CompareRange(Bits(-0x1.5f0000p6f), Bits(-0x1.610000p6f), 1), 0);
}

TEST(ExpfAvx2Test, EqualsLibmOnPositiveFloatsStrided) {
  SKIP_WITHOUT_AVX2();
  EXPECT_EQ(CompareRange(0x00000000u, 0x7fffffffu, 997), 0);
  EXPECT_EQ(CompareRange(Bits(0x1.600000p6f), Bits(0x1.640000p6f), 1), 0);  // around overflow
}

TEST(ExpfAvx2Test, EqualsLibmOnEdgeValues) {
  SKIP_WITHOUT_AVX2();
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {0.0f, -0.0f, 1.0f, -1.0f, inf, -inf,
                          std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::quiet_NaN(),
                          FromBits(0x7f800001u), FromBits(0xff800001u),  // signalling NaNs: quieted
                          FromBits(0x7fc12345u), FromBits(0xffbfffffu),  // payloads survive
                          std::numeric_limits<float>::denorm_min(), -std::numeric_limits<float>::denorm_min(),
                          FromBits(0x007fffffu), FromBits(0x807fffffu), std::numeric_limits<float>::min(),
                          -std::numeric_limits<float>::min(), std::numeric_limits<float>::max(),
                          -std::numeric_limits<float>::max(), 88.0f, -88.0f, 0x1.62e42ep6f, -0x1.9fe368p6f,
                          -0x1.9d1d9ep6f, 1e-8f, -1e-8f, 0x1p-126f};
  for (float t : {0x1.62e42ep6f, -0x1.9fe368p6f, -0x1.9d1d9ep6f, 88.0f, -88.0f, -87.33655f, -103.27893f, -149.0f}) {
    x.push_back(std::nextafter(t, inf));
    x.push_back(std::nextafter(t, -inf));
  }
  // Multiples of ln2/32 and their neighbours: r near 0 and the shift trick's rounding boundaries.
  for (int k = -4800; k <= 4096; k += 37) {
    const float c = static_cast<float>(k * (0.6931471805599453 / 32));
    const float h = static_cast<float>((k + 0.5) * (0.6931471805599453 / 32));
    for (float t : {c, h}) {
      x.push_back(t);
      x.push_back(std::nextafter(t, inf));
      x.push_back(std::nextafter(t, -inf));
    }
  }
  std::vector<float> y(x.size());
  internal::ExpfAvx2(x.data(), y.data(), static_cast<int64_t>(x.size()));
  for (size_t i = 0; i < x.size(); ++i)
    EXPECT_EQ(Bits(y[i]), Bits(libm_expf(x[i]))) << std::hex << "x bits 0x" << Bits(x[i]) << " (" << x[i] << ")";
}

TEST(ExpfAvx2Test, EveryLengthAndInPlace) {
  SKIP_WITHOUT_AVX2();
  for (int n = 0; n <= 33; ++n) {
    std::vector<float> x(n + 1), y(n + 1, 7.0f);
    for (int i = 0; i <= n; ++i) x[i] = -0.37f * static_cast<float>(i);
    internal::ExpfAvx2(x.data(), y.data(), n);
    for (int i = 0; i < n; ++i) ASSERT_EQ(Bits(y[i]), Bits(libm_expf(x[i]))) << "n " << n << " i " << i;
    ASSERT_EQ(y[n], 7.0f) << "wrote past n=" << n;  // the tail is a masked store
    std::vector<float> z = x;
    internal::ExpfAvx2(z.data(), z.data(), n);
    ASSERT_EQ(std::memcmp(z.data(), y.data(), n * sizeof(float)), 0) << "in place, n " << n;
  }
}

// Unsigned big integers (little-endian 64-bit limbs), just enough to raise to the 32nd power.
using Big = std::vector<uint64_t>;
Big Mul(const Big& a, const Big& b) {
  Big r(a.size() + b.size(), 0);
  for (size_t i = 0; i < a.size(); ++i) {
    unsigned __int128 carry = 0;
    for (size_t j = 0; j < b.size(); ++j) {
      carry += static_cast<unsigned __int128>(a[i]) * b[j] + r[i + j];
      r[i + j] = static_cast<uint64_t>(carry);
      carry >>= 64;
    }
    r[i + b.size()] = static_cast<uint64_t>(carry);
  }
  while (r.size() > 1 && r.back() == 0) r.pop_back();
  return r;
}
int Compare(const Big& a, const Big& b) {
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  for (size_t i = a.size(); i-- > 0;)
    if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}
Big Pow32(uint64_t x) {
  Big r = {x};
  for (int i = 0; i < 5; ++i) r = Mul(r, r);
  return r;
}

// The table is the correctly rounded 2^(i/32), proved with integers: d = M * 2^-52 is the
// nearest double iff (d - ulp/2)^32 < 2^i < (d + ulp/2)^32, i.e. with d +- ulp/2 =
// (2M +- 1) * 2^-53: (2M-1)^32 < 2^(i + 53*32) < (2M+1)^32. glibc's table holds exactly these
// (checked once against the bytes of this machine's libm.so.6; the sweeps above confirm it).
TEST(ExpfAvx2Test, TableIsCorrectlyRounded) {
  SKIP_WITHOUT_AVX2();
  EXPECT_EQ(internal::ExpfAvx2TableEntry(0), 1.0);
  for (int i = 1; i < 32; ++i) {
    const double d = internal::ExpfAvx2TableEntry(i);
    ASSERT_TRUE(d > 1.0 && d < 2.0);
    const auto m = static_cast<uint64_t>(std::ldexp(d, 52));
    const int p = i + 53 * 32;
    Big power(p / 64 + 1, 0);
    power[p / 64] = uint64_t{1} << (p % 64);
    EXPECT_LT(Compare(Pow32(2 * m - 1), power), 0) << "entry " << i << " too large";
    EXPECT_GT(Compare(Pow32(2 * m + 1), power), 0) << "entry " << i << " too small";
  }
}

TEST(ExpfAvx2Test, DISABLED_EveryFloat) {
  SKIP_WITHOUT_AVX2();
  EXPECT_EQ(CompareRange(0, 0xffffffffu, 1), 0);
}

}  // namespace
}  // namespace swarmkv
