// Shared pieces of the hybrid-model exactness tests (hybrid_test.cc: LFM2, granitehybrid_test.cc:
// Granite 4.0 H): a synthetic model file made once per process, a fixed prompt, logits from
// scratch, and a run whose prefix comes from the cache's checkpoints.
//
// Invariant the helpers check on every run with a split: the match is whole blocks with the
// recurrent state of the last one (empty only when nothing matched), and every sequence they
// open is released and forgotten by the forward pass, so a fixture serves many runs.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <span>
#include <string>
#include <vector>

#include "base/testing.h"
#include "engine_fixture.h"
#include "model/synthetic_model.h"

namespace swarmkv::testing {

// The synthetic `shape` in `type` (seed 19), written once per process and type.
inline std::string SyntheticModelOnce(const std::string& shape, TensorType type) {
  static std::map<std::pair<std::string, TensorType>, std::string> paths;
  auto [it, fresh] = paths.try_emplace({shape, type});
  if (fresh) {
    SyntheticModelOptions o;
    o.shape = shape;
    o.type = type;
    o.seed = 19;
    it->second = TempDir() + "/" + shape + "-" + TensorTypeName(static_cast<uint32_t>(type)) + ".gguf";
    EXPECT_TRUE(MakeSyntheticModel(o, it->second).ok());
  }
  return it->second;
}

// A fixed prompt of `n` ids below 2700 (every tiny vocabulary is larger).
inline std::vector<int32_t> HybridPrompt(size_t n = 100) {
  std::vector<int32_t> p;
  for (size_t i = 0; i < n; ++i) p.push_back(static_cast<int32_t>((i * 613 + 17) % 2700));
  return p;
}

// Logits of `prompt` computed from scratch in one step on a fresh sequence (its blocks stay cached).
inline std::vector<float> FromScratch(EngineFixture& f, const std::vector<int32_t>& prompt) {
  auto seq = f.memory->CreateSequence(f.ns);
  EXPECT_TRUE(seq.ok());
  auto logits = f.Feed(*seq, prompt, 1 << 20);
  EXPECT_TRUE(logits.ok()) << logits.status().ToString();
  EXPECT_TRUE(f.memory->Release(*seq).ok());
  f.forward->ForgetSequence(*seq);
  return logits.ok() ? *logits : std::vector<float>{};
}

// A new sequence whose first `split` tokens come from the cache as far as checkpoints allow
// (whole blocks), the rest of them and then the remainder computed in two steps.
struct SplitRun {
  int64_t matched = 0;
  std::vector<float> logits;
};
inline SplitRun RunWithSplit(EngineFixture& f, const std::vector<int32_t>& prompt, int64_t split) {
  SplitRun r;
  auto seq = f.memory->CreateSequence(f.ns);
  EXPECT_TRUE(seq.ok());
  auto match = f.memory->AttachPrefix(*seq, std::span<const int32_t>(prompt).first(split));
  EXPECT_TRUE(match.ok()) << match.status().ToString();
  if (!match.ok()) return r;
  r.matched = match->matched_tokens;
  EXPECT_EQ(match->partial_tokens, 0);
  EXPECT_EQ(match->recurrent_state.empty(), r.matched == 0);
  EXPECT_TRUE(f.forward->SetRecurrentState(*seq, match->recurrent_state).ok());
  const std::span<const int32_t> all(prompt);
  if (split > r.matched) {
    EXPECT_TRUE(f.Feed(*seq, all.subspan(r.matched, split - r.matched), 1 << 20).ok());
  }
  auto logits = f.Feed(*seq, all.subspan(split), 1 << 20);
  EXPECT_TRUE(logits.ok()) << logits.status().ToString();
  if (logits.ok()) r.logits = *logits;
  EXPECT_TRUE(f.memory->Release(*seq).ok());
  f.forward->ForgetSequence(*seq);
  return r;
}

}  // namespace swarmkv::testing
