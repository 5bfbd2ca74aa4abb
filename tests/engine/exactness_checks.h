// The engine's two properties as reusable checks, used by exactness_test.cc / parity_test.cc
// (the shared tiny models) and arch_test.cc (every architecture's synthetic models):
// - exactness: a prompt's logits are identical, byte for byte, whether it is run (a) in one
//   chunk, (b) in chunks of 1, 7 and 64 tokens, (c) batched with other sequences at other
//   positions, or (d) with its prefix KV taken from the cache;
// - parity: teacher-forced log-probabilities within a tolerance of a llama.cpp reference.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine_fixture.h"

namespace swarmkv::testing {

// The same floats bit for bit (NaN payloads and signed zeros included).
bool SameBytes(const std::vector<float>& a, const std::vector<float>& b);

// REQUIRES: prompt.size() >= 66 (the cache case expects at least 64 cached prefix tokens).
// Reports failures through gtest's EXPECT/ASSERT (call it under ASSERT_NO_FATAL_FAILURE).
void ExpectLogitsIdenticalAcrossChunkingBatchingAndCache(EngineFixture& f, const std::vector<int32_t>& prompt);

// Teacher forcing over every case of `ref_path` (model loaded with f16 KV and `context_length`,
// see EngineFixture::Load): the prompt in one step, then each reference token as a decode step;
// every step of every case is checked (not only up to the first failure), so a failure message
// says how many steps disagree and by how much at worst. Prints and records the max |Δ| and
// returns it (negative when the check could not run).
double ExpectTeacherForcedWithin(const std::string& model_path, const std::string& ref_path, double tolerance,
                                 const std::string& label, int64_t context_length = 0);

// A model name as a gtest parameter name ("tiny-lfm2" -> "tiny_lfm2").
std::string ParamName(const std::string& name);

}  // namespace swarmkv::testing
