// AVX-512 kernels of issue 18's weight types (placeholder table: empty entries use AVX2).
#include "kernels/vec_dot_more.h"

namespace swarmkv::internal {
const VecDotTableMore kVecDotMoreAvx512 = {};
}  // namespace swarmkv::internal
