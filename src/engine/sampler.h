// Sampler: turns one row of logits into the next token, per SamplingParams.
//
// Pipeline, in llama.cpp's default order: repeat/presence/frequency penalties over the last
// `repeat_last_n` accepted tokens -> (temperature <= 0: argmax) -> top-k -> top-p -> min-p ->
// temperature -> draw from the remaining distribution with the sequence's own Rng.
//
// Invariants: the token chosen is a pure function of (logits, accepted history, params, seed,
// number of draws so far) — no global state, no dependence on other sequences. Ties are broken
// by the lower token id, so greedy is deterministic even on equal logits. Only finite logits can
// be chosen; a row with no finite logit yields token 0 rather than a crash (a model bug surfaces
// in the parity tests, not as UB here).
//
// Thread-safety: a value owned by one sequence; used by one thread at a time.
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "engine/generation.h"
#include "engine/rng.h"

namespace swarmkv {

class Sampler {
 public:
  // Validates `params` (clear InvalidArgument on out-of-range values) and seeds the Rng with
  // params.seed (callers pick a seed first when !has_seed; see PickSeed()).
  static Result<Sampler> Create(const SamplingParams& params, int32_t vocab_size);

  // A fresh seed for requests that did not give one (time + counter, mixed).
  static uint64_t PickSeed();

  // Adds prompt tokens to the penalty history (llama.cpp counts the prompt too).
  void AcceptPrompt(std::span<const int32_t> tokens);
  // Adds a generated token to the penalty history.
  void Accept(int32_t token);

  // Chooses the next token. REQUIRES: logits.size() == vocab_size. Does not Accept().
  // `allowed` (constrained decoding): a bitset over the vocabulary (bit t%64 of word t/64); only
  // tokens whose bit is set can be chosen. Empty: every token.
  int32_t Sample(std::span<const float> logits, std::span<const uint64_t> allowed = {});

  // The chosen token's log-probability under softmax(logits) and the `top_n` most likely tokens
  // (ties by lower id). Pure; O(vocab).
  static TokenLogprobs Logprobs(std::span<const float> logits, int32_t token, int32_t top_n);

  const SamplingParams& params() const { return params_; }
  bool greedy() const { return params_.temperature <= 0.0f; }

 private:
  struct Candidate {
    int32_t id;
    float logit;
  };

  Sampler(const SamplingParams& params, int32_t vocab_size);
  void ApplyPenalties(std::vector<Candidate>* cands) const;
  // The lowest allowed token (a row with no finite allowed logit), 0 without a mask.
  int32_t FirstAllowed(std::span<const uint64_t> allowed) const;

  SamplingParams params_;
  int32_t vocab_size_;
  Rng rng_;
  // The penalty window: the last repeat_last_n accepted tokens and their counts.
  std::deque<int32_t> window_;
  std::unordered_map<int32_t, int32_t> counts_;
  std::vector<Candidate> scratch_;
};

}  // namespace swarmkv
