#include "kernels/matmul.h"

#include <algorithm>
#include <string>

#include "kernels/convert.h"
#include "kernels/quants.h"
#include "kernels/vec_dot.h"

namespace swarmkv {
namespace {

// Output rows per task: small enough to balance 2-16 threads on a 576-row decode matmul,
// large enough that a task's weight rows stay in L1/L2 while every token passes over them.
constexpr int64_t kRowsPerTask = 16;
// Token rows per task for large batches (a multiple of every tile_tokens): prefill tasks stay
// short, so a descheduled thread holding one delays the region's end by little.
constexpr int64_t kTokensPerTask = 96;

std::string TypeName(TensorType t) { return TensorTypeName(static_cast<uint32_t>(t)); }

}  // namespace

Status Activations::Prepare(TensorType vec_dot_type, const float* x, int64_t n_tokens,
                            int64_t cols, int64_t x_stride, ThreadPool* pool) {
  const int64_t rb = RowBytes(vec_dot_type, cols);
  if (rb == 0 || n_tokens < 0) {
    return InvalidArgumentError("Activations: " + std::to_string(cols) +
                                " columns is not a multiple of the " + TypeName(vec_dot_type) +
                                " block size");
  }
  type_ = vec_dot_type;
  n_tokens_ = n_tokens;
  cols_ = cols;
  row_bytes_ = rb;
  buf_.resize(static_cast<size_t>(rb * n_tokens));
  const bool widen = vec_dot_type == TensorType::kF16 || vec_dot_type == TensorType::kBF16;
  constexpr int64_t kLineFloats = 16;
  widened_stride_ = (cols + kLineFloats - 1) / kLineFloats * kLineFloats;
  widened_.resize(widen ? static_cast<size_t>(n_tokens * widened_stride_ + kLineFloats) : 0);
  widened_rows_ = nullptr;
  if (widen) {
    const auto addr = reinterpret_cast<uintptr_t>(widened_.data());
    widened_rows_ = widened_.data() + ((-addr) & 63) / sizeof(float);
  }
  auto convert = [&](int64_t t, int) {
    uint8_t* row = buf_.data() + t * rb;
    ConvertActivationRow(type_, x + t * x_stride, row, cols);
    float* wide = widened_rows_ + t * widened_stride_;
    if (vec_dot_type == TensorType::kF16) F16ToF32Row(reinterpret_cast<const f16_t*>(row), wide, cols);
    if (vec_dot_type == TensorType::kBF16) BF16ToF32Row(reinterpret_cast<const bf16_t*>(row), wide, cols);
  };
  if (pool != nullptr && n_tokens > 1) {
    pool->ParallelFor(n_tokens, convert);
  } else {
    for (int64_t t = 0; t < n_tokens; ++t) convert(t, 0);
  }
  return Status::OK();
}

const float* Activations::row_f32(int64_t t) const {
  if (widened_rows_ != nullptr) return widened_rows_ + t * widened_stride_;
  if (type_ == TensorType::kF32) return reinterpret_cast<const float*>(row(t));
  return nullptr;
}

namespace {

// One validated matmul, cut into tasks of kRowsPerTask output rows.
struct PlannedMatmul {
  VecDotKernel kernel;
  const uint8_t* w = nullptr;
  int64_t row_bytes = 0, rows = 0, cols = 0;
  const Activations* x = nullptr;
  float* y = nullptr;
  int64_t y_stride = 0;
  int64_t row_tasks = 0;    // row blocks of kRowsPerTask
  int64_t token_tasks = 0;  // token blocks of kTokensPerTask
  int64_t num_tasks = 0;    // row_tasks * token_tasks
};

Status Plan(const WeightMatrix& w, const Activations& x, float* y, int64_t y_stride, Isa isa,
            PlannedMatmul* plan) {
  const VecDotKernel kernel = GetVecDotKernel(w.type, isa);
  if (kernel.one == nullptr) {
    return InvalidArgumentError("Matmul: weight type " + TypeName(w.type) +
                                " is not supported (f32, f16, bf16, q8_0, q4_0, q4_K, q5_K, q6_K)");
  }
  const int64_t min_row_bytes = RowBytes(w.type, w.cols);
  if (min_row_bytes == 0) {
    return InvalidArgumentError("Matmul: " + std::to_string(w.cols) + " columns is not a multiple of the " +
                                TypeName(w.type) + " block size");
  }
  const int64_t row_bytes = w.row_bytes == 0 ? min_row_bytes : w.row_bytes;
  if (row_bytes < min_row_bytes) return InvalidArgumentError("Matmul: row_bytes smaller than a row");
  if (x.type() != VecDotType(w.type) || x.cols() != w.cols) {
    return InvalidArgumentError("Matmul: activations are " + TypeName(x.type()) + " x " +
                                std::to_string(x.cols()) + ", weight " + TypeName(w.type) +
                                " needs " + TypeName(VecDotType(w.type)) + " x " +
                                std::to_string(w.cols));
  }
  if (y_stride < w.rows && x.n_tokens() > 1) return InvalidArgumentError("Matmul: y_stride < rows");
  const int64_t row_tasks = (w.rows + kRowsPerTask - 1) / kRowsPerTask;
  const int64_t token_tasks = std::max<int64_t>(1, (x.n_tokens() + kTokensPerTask - 1) / kTokensPerTask);
  *plan = PlannedMatmul{kernel, static_cast<const uint8_t*>(w.data), row_bytes, w.rows, w.cols, &x, y, y_stride,
                        row_tasks, token_tasks, row_tasks * token_tasks};
  return Status::OK();
}

// One row block x token block of the output. Each output is one kernel
// call's result for (W row, X row), whatever the task split (see the header invariant).
void RunTask(const PlannedMatmul& m, int64_t task_index) {
  const VecDotKernel& kernel = m.kernel;
  const Activations& x = *m.x;
  const uint8_t* wbytes = m.w;
  const int64_t row_bytes = m.row_bytes, y_stride = m.y_stride;
  // Row block outer, token block inner: consecutive tasks reuse the same weight rows.
  const int64_t o0 = (task_index / m.token_tasks) * kRowsPerTask;
  const int64_t o1 = std::min(m.rows, o0 + kRowsPerTask);
  const int64_t tb = (task_index % m.token_tasks) * kTokensPerTask;
  const int64_t n_tokens = std::min(x.n_tokens(), tb + kTokensPerTask) - tb;
  float* y = m.y + tb * y_stride;
  // Tiles of tile_rows x tile_tokens share loads; edges use smaller tile shapes. All shapes
  // give identical bits per output (see VecDotTileFn / VecDotMultiFn).
  if (kernel.stream != nullptr && n_tokens > 0 && n_tokens <= kernel.stream_tokens) {
    const void* xs[kTileMax];
    for (int k = 0; k < n_tokens; ++k) xs[k] = x.row(tb + k);
    kernel.stream(m.cols, wbytes + o0 * row_bytes, row_bytes, static_cast<int>(o1 - o0), xs,
                  static_cast<int>(n_tokens), y + o0, y_stride);
    return;
  }
  if (kernel.tile != nullptr) {
    const void* xs[kTileMax];
    const int tr = kernel.tile_rows, tt = kernel.tile_tokens;
    for (int64_t t0 = 0; t0 < n_tokens; t0 += tt) {
      const int tn = static_cast<int>(std::min<int64_t>(tt, n_tokens - t0));
      for (int k = 0; k < tn; ++k) {
        xs[k] = kernel.tile_reads_f32 ? static_cast<const void*>(x.row_f32(tb + t0 + k)) : x.row(tb + t0 + k);
      }
      for (int64_t r0 = o0; r0 < o1; r0 += tr) {
        const int rn = static_cast<int>(std::min<int64_t>(tr, o1 - r0));
        kernel.tile(m.cols, wbytes + r0 * row_bytes, row_bytes, rn, xs, tn, y + t0 * y_stride + r0, y_stride);
      }
    }
    return;
  }
  const int nt = kernel.multi != nullptr ? kernel.multi_tokens : 1;
  int64_t t = 0;
  if (nt > 1) {
    const void* xs[8];
    float res[8];
    for (; t + nt <= n_tokens; t += nt) {
      for (int k = 0; k < nt; ++k) xs[k] = x.row(tb + t + k);
      for (int64_t o = o0; o < o1; ++o) {
        kernel.multi(m.cols, wbytes + o * row_bytes, xs, res);
        for (int k = 0; k < nt; ++k) y[(t + k) * y_stride + o] = res[k];
      }
    }
  }
  for (; t < n_tokens; ++t) {
    const uint8_t* xr = x.row(tb + t);
    float* yr = y + t * y_stride;
    for (int64_t o = o0; o < o1; ++o) yr[o] = kernel.one(m.cols, wbytes + o * row_bytes, xr);
  }
}

}  // namespace

Status Matmul(const WeightMatrix& w, const Activations& x, float* y, int64_t y_stride,
              const MatmulOptions& options) {
  const MatmulJob job{&w, &x, y, y_stride};
  return MatmulMany(std::span<const MatmulJob>(&job, 1), options);
}

Status MatmulMany(std::span<const MatmulJob> jobs, const MatmulOptions& options) {
  constexpr size_t kMaxJobs = 8;
  if (jobs.size() > kMaxJobs) return InvalidArgumentError("MatmulMany: more than 8 matmuls");
  PlannedMatmul plans[kMaxJobs];
  int64_t first_task[kMaxJobs + 1] = {0};
  size_t n = 0;
  for (const MatmulJob& j : jobs) {
    SKV_RETURN_IF_ERROR(Plan(*j.w, *j.x, j.y, j.y_stride, options.isa, &plans[n]));
    first_task[n + 1] = first_task[n] + plans[n].num_tasks;
    ++n;
  }
  auto task = [&](int64_t i, int) {
    size_t k = 0;
    while (i >= first_task[k + 1]) ++k;
    RunTask(plans[k], i - first_task[k]);
  };
  ParallelForOn(options.pool, first_task[n], task);
  return Status::OK();
}

Status Matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, int64_t x_stride, float* y,
              int64_t y_stride, const MatmulOptions& options) {
  if (!IsMatmulWeightType(w.type)) {  // before converting x, whose size assumes a valid type
    return InvalidArgumentError("Matmul: weight type " + TypeName(w.type) + " is not supported");
  }
  thread_local Activations scratch;
  SKV_RETURN_IF_ERROR(scratch.Prepare(VecDotType(w.type), x, n_tokens, w.cols, x_stride, options.pool));
  return Matmul(w, scratch, y, y_stride, options);
}

}  // namespace swarmkv
