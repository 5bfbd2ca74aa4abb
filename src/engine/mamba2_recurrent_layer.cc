#include "engine/mamba2_recurrent_layer.h"

#include <cstring>

namespace swarmkv {

Status Mamba2RecurrentLayer::Forward(const RecurrentContext& ctx, const float* xn, int64_t T,
                                     std::span<const RecurrentSpan> spans, float* out) {
  if (layer_ == nullptr || layer_pool_ != ctx.pool || layer_isa_ != ctx.isa) {
    layer_ = std::make_unique<Mamba2Layer>(config_, ctx.pool, ctx.isa);
    layer_pool_ = ctx.pool;
    layer_isa_ = ctx.isa;
  }
  const int64_t e = config_.n_embd;
  const size_t bytes = state_bytes();
  // The projections once over every span's rows; the mixer per span, cut at the snapshots.
  SKV_RETURN_IF_ERROR(layer_->Project(weights_, xn, e, T));
  for (const RecurrentSpan& s : spans) {
    if (s.num_tokens <= 0 || s.first_row < 0 || s.first_row + s.num_tokens > T || s.state_in == nullptr ||
        s.state_out == nullptr)
      return InternalError("mamba2: bad span rows [" + std::to_string(s.first_row) + ", +" +
                           std::to_string(s.num_tokens) + ") of " + std::to_string(T));
    // state_out starts as state_in and is advanced in place (they never alias).
    std::memcpy(s.state_out, s.state_in, bytes);
    float* conv = reinterpret_cast<float*>(s.state_out);
    const Mamba2State st{conv, conv + config_.conv_state_floats()};
    int32_t done = 0;
    auto run_to = [&](int32_t end) -> Status {  // tokens [done, end)
      if (end <= done) return Status::OK();
      SKV_RETURN_IF_ERROR(layer_->Mix(weights_, s.first_row + done, end - done, st));
      done = end;
      return Status::OK();
    };
    for (const RecurrentSnapshot& snap : s.snapshots) {
      if (snap.index < done - 1 || snap.index >= s.num_tokens || snap.dest == nullptr)
        return InternalError("mamba2: snapshot index " + std::to_string(snap.index) + " out of order");
      SKV_RETURN_IF_ERROR(run_to(snap.index + 1));
      std::memcpy(snap.dest, s.state_out, bytes);
    }
    SKV_RETURN_IF_ERROR(run_to(s.num_tokens));
  }
  return layer_->Output(weights_, out, e);
}

}  // namespace swarmkv
