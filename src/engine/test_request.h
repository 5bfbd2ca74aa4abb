// Test-only: the GenerationRequest the scheduler tests submit — a prompt, a token budget and
// explicit sampling (temperature; top-k/top-p/min-p off; a fixed seed), so outputs are
// reproducible and comparable across runs.
//
// Thread-safety: a pure function.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "engine/generation.h"

namespace swarmkv::testing {

inline GenerationRequest Req(std::vector<int32_t> prompt, int max_new, float temperature = 0.0f, uint64_t seed = 1) {
  GenerationRequest r;
  r.prompt_tokens = std::move(prompt);
  r.max_new_tokens = max_new;
  r.sampling.temperature = temperature;
  r.sampling.top_k = 0;
  r.sampling.top_p = 1.0f;
  r.sampling.min_p = 0.0f;
  r.sampling.seed = seed;
  r.sampling.has_seed = true;
  return r;
}

}  // namespace swarmkv::testing
