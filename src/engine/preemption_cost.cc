#include "engine/preemption_cost.h"

#include <sstream>

namespace swarmkv {

PreemptionEstimate ChoosePreemption(const PreemptionInputs& in) {
  PreemptionEstimate e;
  const double swap = static_cast<double>(in.swap_bytes);
  const double cold = static_cast<double>(in.cold_bytes);
  if (in.write_bytes_per_second > 0 && in.read_bytes_per_second > 0) {
    e.swap_seconds = swap / in.write_bytes_per_second +
                     swap * static_cast<double>(in.reads_after_resume) / in.read_bytes_per_second;
  }
  if (in.prefill_tokens_per_second > 0 && (in.write_bytes_per_second > 0 || cold == 0)) {
    e.recompute_seconds = static_cast<double>(in.recompute_tokens) / in.prefill_tokens_per_second +
                          (cold > 0 ? cold / in.write_bytes_per_second : 0.0);
  }
  if (swap + cold == 0) {
    e.choice = PreemptChoice::kRecompute;  // nothing to keep
  } else if (e.swap_seconds == 0 || e.recompute_seconds == 0) {
    e.choice = PreemptChoice::kSwap;  // unmeasured: swapping measures the disk
  } else {
    e.choice = e.swap_seconds <= e.recompute_seconds ? PreemptChoice::kSwap : PreemptChoice::kRecompute;
  }
  return e;
}

std::string PreemptionEstimate::DebugString() const {
  std::ostringstream os;
  os << "PreemptionEstimate{choice=" << (choice == PreemptChoice::kSwap ? "swap" : "recompute")
     << " swap_s=" << swap_seconds << " recompute_s=" << recompute_seconds << "}";
  return os.str();
}

}  // namespace swarmkv
