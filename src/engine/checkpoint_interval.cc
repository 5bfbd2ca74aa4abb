#include "engine/checkpoint_interval.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace swarmkv {

std::string CheckpointInterval::DebugString() const {
  std::ostringstream os;
  os << "checkpoint every " << blocks << " blocks (cost-model optimum " << optimum << ")";
  return os.str();
}

CheckpointInterval ChooseCheckpointInterval(const CheckpointCostInputs& in) {
  CheckpointInterval r;
  if (in.state_bytes == 0 || in.block_tokens <= 0) return r;
  const double s = static_cast<double>(in.state_bytes);
  const double k_bytes = in.kv_bytes_per_block > 0 ? static_cast<double>(in.kv_bytes_per_block) : s;
  double two_c_over_r = 2.0 * s / k_bytes;  // budget the checkpoint displaces
  if (in.prefill_tokens_per_second > 0 && in.copy_bytes_per_second > 0 && in.tier_bytes_per_second > 0) {
    const double block_seconds = in.block_tokens / in.prefill_tokens_per_second;
    two_c_over_r += 2.0 * s * (1.0 / in.copy_bytes_per_second + 2.0 / in.tier_bytes_per_second) / block_seconds;
  }
  r.optimum = std::sqrt(two_c_over_r);
  const double capped = std::min<double>(std::round(r.optimum), std::max(1, in.max_interval));
  r.blocks = std::max(1, static_cast<int32_t>(capped));
  return r;
}

int32_t CheckpointIntervalBlocks(int32_t requested, const CheckpointCostInputs& in) {
  return requested > 0 ? requested : ChooseCheckpointInterval(in).blocks;
}

}  // namespace swarmkv
