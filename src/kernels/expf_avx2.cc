// See expf_avx2.h. Compiled with -mavx2 -mfma; every FMA below is written as an intrinsic and
// nothing else is fused (intrinsics are not contracted), so the bits do not depend on flags.
#include "kernels/expf_avx2.h"

#include <immintrin.h>

#include <cmath>
#include <cstring>

namespace swarmkv::internal {
namespace {

constexpr int kTableBits = 5;  // N = 32 entries of 2^(i/N)
constexpr int kN = 1 << kTableBits;

// The constants of the algorithm (doubles): N/ln2, the shift 1.5 * 2^52 that rounds to an
// integer in the low mantissa bits, and the polynomial 1 + C2 r + C1 r^2 + C0 r^3 ~ 2^(r/N).
constexpr double kInvLn2N = 0x1.71547652b82fep+5;
constexpr double kShift = 0x1.8p+52;
constexpr double kC0 = 0x1.c6af84b912394p-20;
constexpr double kC1 = 0x1.ebfce50fac4f3p-13;
constexpr double kC2 = 0x1.62e42ff0c52d6p-6;
// Float thresholds of the special cases (beyond them glibc does not run the main path).
constexpr float kOverflowAbove = 0x1.62e42ep6f;     // -> +inf
constexpr float kMayUnderflowBelow = -0x1.9d1d9ep6f;  // -> the smallest denormal
constexpr float kUnderflowBelow = -0x1.9fe368p6f;   // -> +0 (and -inf -> +0)

// bits(2^(i/N)) - (i << (52 - kTableBits)): adding the rounded k shifted into the exponent
// field gives 2^(k/N) directly (the subtracted part cancels k's low bits landing there).
struct Table {
  alignas(32) uint64_t bits[kN];
};

double Exp2Frac(int i) {
  // 2^(i/32) in x87 long double (64-bit mantissa), rounded once to double; the test checks the
  // long double lies far from every double rounding boundary, so this is the correctly
  // rounded value the libm table holds.
  return static_cast<double>(std::exp2l(static_cast<long double>(i) / kN));
}

const Table& GetTable() {
  static const Table table = [] {
    Table t;
    for (int i = 0; i < kN; ++i) {
      const double d = Exp2Frac(i);
      uint64_t b;
      std::memcpy(&b, &d, sizeof b);
      t.bits[i] = b - (static_cast<uint64_t>(i) << (52 - kTableBits));
    }
    return t;
  }();
  return table;
}

// The main path for four doubles (exact conversions of the float inputs). The FMAs are where
// __expf_fma has them: kd = fma(x, N/ln2, shift); r = fma(x, N/ln2, -(kd - shift));
// z = fma(r, C0, C1); y = fma(r, C2, 1); y = fma(z, r*r, y); result y * 2^(k/N).
__m256d MainPath(__m256d xd, const uint64_t* table) {
  const __m256d inv_ln2n = _mm256_set1_pd(kInvLn2N);
  const __m256d shift = _mm256_set1_pd(kShift);
  __m256d kd = _mm256_fmadd_pd(inv_ln2n, xd, shift);
  const __m256i ki = _mm256_castpd_si256(kd);
  kd = _mm256_sub_pd(kd, shift);
  const __m256d r = _mm256_fmsub_pd(inv_ln2n, xd, kd);
  const __m256i index = _mm256_and_si256(ki, _mm256_set1_epi64x(kN - 1));
  const __m256i t = _mm256_add_epi64(
      _mm256_i64gather_epi64(reinterpret_cast<const long long*>(table), index, 8),
      _mm256_slli_epi64(ki, 52 - kTableBits));
  const __m256d z = _mm256_fmadd_pd(r, _mm256_set1_pd(kC0), _mm256_set1_pd(kC1));
  const __m256d r2 = _mm256_mul_pd(r, r);
  __m256d y = _mm256_fmadd_pd(r, _mm256_set1_pd(kC2), _mm256_set1_pd(1.0));
  y = _mm256_fmadd_pd(z, r2, y);
  return _mm256_mul_pd(y, _mm256_castsi256_pd(t));
}

__m256 Expf8(__m256 x, const uint64_t* table) {
  const __m128 lo = _mm256_cvtpd_ps(MainPath(_mm256_cvtps_pd(_mm256_castps256_ps128(x)), table));
  const __m128 hi = _mm256_cvtpd_ps(MainPath(_mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)), table));
  __m256 y = _mm256_set_m128(hi, lo);
  // Special cases, later ones win; comparisons with NaN are false so only the last sees it.
  y = _mm256_blendv_ps(y, _mm256_set1_ps(0x1p-149f), _mm256_cmp_ps(x, _mm256_set1_ps(kMayUnderflowBelow), _CMP_LT_OQ));
  y = _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps(x, _mm256_set1_ps(kUnderflowBelow), _CMP_LT_OQ));
  y = _mm256_blendv_ps(y, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x, _mm256_set1_ps(kOverflowAbove), _CMP_GT_OQ));
  y = _mm256_blendv_ps(y, _mm256_add_ps(x, x), _mm256_cmp_ps(x, x, _CMP_UNORD_Q));  // quiets NaN
  return y;
}

}  // namespace

void ExpfAvx2(const float* x, float* y, int64_t n) {
  const uint64_t* table = GetTable().bits;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, Expf8(_mm256_loadu_ps(x + i), table));
  if (i < n) {
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n - i)),
                                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    _mm256_maskstore_ps(y + i, mask, Expf8(_mm256_maskload_ps(x + i, mask), table));
  }
}

double ExpfAvx2TableEntry(int i) {
  const uint64_t b = GetTable().bits[i] + (static_cast<uint64_t>(i) << (52 - kTableBits));
  double d;
  std::memcpy(&d, &b, sizeof d);
  return d;
}

}  // namespace swarmkv::internal
