// Preemption cost model: what a preempted sequence's private KV costs to keep on disk (swap it
// out to its cold file and stream it back) versus to drop and recompute on resume.
//
// The two choices (docs/memory.md "Admission and preemption"):
//   swap      = swap_bytes / write_Bps                      write its resident private blocks once
//             + swap_bytes * reads_after_resume / read_Bps  stream them back on every step they
//                                                           would otherwise have been in RAM
//   recompute = recompute_tokens / prefill_tokens_per_second
//             + cold_bytes / write_Bps                      blocks that were already cold are lost
//                                                           and go cold again once recomputed
// The speeds are measured by the runner (cold-file writes, streamed reads, prefill steps). An
// unmeasured speed (0) chooses swap — that is how it gets measured — and a sequence with nothing
// to keep (no full block) is recomputed. Either choice gives the same output bytes (batch
// invariance; streamed attention is bit-identical to RAM), only the time differs.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>

namespace swarmkv {

// How the scheduler preempts (SchedulerOptions::preemption): by the cost model, or forced (tests
// pin both paths; an operator may prefer one).
enum class PreemptionMode { kCostModel, kSwap, kRecompute };

enum class PreemptChoice { kSwap, kRecompute };

struct PreemptionInputs {
  uint64_t swap_bytes = 0;          // resident full blocks a swap writes (shared ones stay: an over-estimate)
  uint64_t cold_bytes = 0;          // blocks on disk already: a swap keeps them, a recompute loses them
  int64_t recompute_tokens = 0;     // tokens a recompute computes again
  int64_t reads_after_resume = 0;   // times the swapped bytes are streamed back before they would be cold anyway
  double write_bytes_per_second = 0;     // measured cold-file writes; 0: unmeasured
  double read_bytes_per_second = 0;      // measured streamed reads; 0: unmeasured
  double prefill_tokens_per_second = 0;  // measured prefill steps; 0: unmeasured
};

struct PreemptionEstimate {
  PreemptChoice choice = PreemptChoice::kRecompute;
  double swap_seconds = 0;       // 0 when a speed is unmeasured
  double recompute_seconds = 0;  // 0 when a speed is unmeasured
  std::string DebugString() const;
};

PreemptionEstimate ChoosePreemption(const PreemptionInputs& in);

}  // namespace swarmkv
