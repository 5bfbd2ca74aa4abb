// Matrix multiplication for the forward pass: Y[t][o] = sum_i W[o][i] * X[t][i].
//
// W is a weight matrix in its GGUF type (rows = output features, each row `cols` elements);
// X is n_tokens float rows, converted ONCE per token to W's vec-dot type (kernels/vec_dot.h)
// and reused for every output row.
//
// Invariant (batch invariance): Y[t][o] is VecDot(W row o, converted X row t) — one call of one
// pure function — so its bits do not depend on n_tokens, on the other rows in the batch, on the
// thread count or on how rows are split over threads. Only the ISA (options.isa) may change the
// last bits.
//
// Thread-safety: Matmul calls may run concurrently if they use different pools or none.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "gguf/tensor_type.h"
#include "kernels/cpu_features.h"

namespace swarmkv {

struct WeightMatrix {
  TensorType type = TensorType::kF32;
  const void* data = nullptr;
  int64_t rows = 0;       // output features
  int64_t cols = 0;       // input features (a multiple of the type's block size)
  int64_t row_bytes = 0;  // bytes from one row to the next; 0 means RowBytes(type, cols)
};

struct MatmulOptions {
  Isa isa = ActiveIsa();
  ThreadPool* pool = nullptr;  // nullptr: run on the calling thread
};

// Activation rows converted to one vec-dot type, reusable by every matmul that reads the same
// input with a weight of the same vec-dot type (Q/K/V projections, FFN gate/up).
// F16/BF16 rows are also kept widened to f32 (row_f32): the same values exactly (every f16 and
// bf16 is a float), so a tile that reads them gives the same bits without converting each
// activation again for every block of weight rows.
class Activations {
 public:
  // Converts n_tokens rows of `cols` floats, row t starting at x + t * x_stride.
  Status Prepare(TensorType vec_dot_type, const float* x, int64_t n_tokens, int64_t cols,
                 int64_t x_stride, ThreadPool* pool = nullptr);

  TensorType type() const { return type_; }
  int64_t n_tokens() const { return n_tokens_; }
  int64_t cols() const { return cols_; }
  const uint8_t* row(int64_t t) const { return buf_.data() + t * row_bytes_; }
  // Row t as floats: the F16/BF16 row widened, the F32 row itself; nullptr for quantized types.
  const float* row_f32(int64_t t) const;

 private:
  TensorType type_ = TensorType::kF32;
  int64_t n_tokens_ = 0;
  int64_t cols_ = 0;
  int64_t row_bytes_ = 0;
  std::vector<uint8_t> buf_;
  // F16/BF16 only: n_tokens_ rows of cols_ floats, each starting on a 64-byte line
  // (widened_rows_ points into widened_), so no 32-byte load straddles two cache lines.
  std::vector<float> widened_;
  float* widened_rows_ = nullptr;
  int64_t widened_stride_ = 0;  // floats from one row to the next
};

// Y[t * y_stride + o] = W row o . X row t, for t < x.n_tokens(), o < w.rows.
// Errors: unsupported weight type, cols mismatch, activations of the wrong vec-dot type.
Status Matmul(const WeightMatrix& w, const Activations& x, float* y, int64_t y_stride,
              const MatmulOptions& options = {});

// Several matmuls in ONE parallel region (e.g. Q, K and V of the same normed input): tasks of
// every job are handed out together, so a decode step pays one fork/join instead of one per
// matrix. Each output's bits are those of the single Matmul call (same per-row kernel calls).
// At most 8 jobs; every job is validated before any runs.
struct MatmulJob {
  const WeightMatrix* w = nullptr;
  const Activations* x = nullptr;
  float* y = nullptr;
  int64_t y_stride = 0;
};
Status MatmulMany(std::span<const MatmulJob> jobs, const MatmulOptions& options = {});

// Convenience: converts x (n_tokens rows, stride x_stride floats) and multiplies.
Status Matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, int64_t x_stride, float* y,
              int64_t y_stride, const MatmulOptions& options = {});

}  // namespace swarmkv
