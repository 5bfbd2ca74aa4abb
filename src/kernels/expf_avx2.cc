// See expf_avx2.h and expf_x8.h. Compiled with -mavx2 -mfma; every FMA is an intrinsic and
// nothing else is fused (GCC does not contract intrinsics), so the bits do not depend on flags.
#include "kernels/expf_avx2.h"

#include <cmath>
#include <cstring>

#include "kernels/expf_x8.h"

namespace swarmkv::internal {
namespace {

constexpr int kN = 1 << expf_x8::kTableBits;

struct Table {
  alignas(32) uint64_t bits[kN];
};

const Table& GetTable() {
  static const Table table = [] {
    Table t;
    for (int i = 0; i < kN; ++i) {
      // 2^(i/32) in x87 long double (64-bit mantissa) rounded once to double; the test proves
      // with exact integers that every entry is the correctly rounded value libm's table holds.
      const double d = static_cast<double>(std::exp2l(static_cast<long double>(i) / kN));
      uint64_t b;
      std::memcpy(&b, &d, sizeof b);
      t.bits[i] = b - (static_cast<uint64_t>(i) << (52 - expf_x8::kTableBits));
    }
    return t;
  }();
  return table;
}

}  // namespace

const uint64_t* ExpfAvx2Table() { return GetTable().bits; }

void ExpfAvx2(const float* x, float* y, int64_t n) {
  const uint64_t* table = ExpfAvx2Table();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, ExpfX8(_mm256_loadu_ps(x + i), table));
  if (i < n) {
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n - i)),
                                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    _mm256_maskstore_ps(y + i, mask, ExpfX8(_mm256_maskload_ps(x + i, mask), table));
  }
}

double ExpfAvx2TableEntry(int i) {
  const uint64_t b = ExpfAvx2Table()[i] + (static_cast<uint64_t>(i) << (52 - expf_x8::kTableBits));
  double d;
  std::memcpy(&d, &b, sizeof d);
  return d;
}

}  // namespace swarmkv::internal
