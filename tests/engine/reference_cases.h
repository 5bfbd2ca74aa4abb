// llama.cpp reference continuations (../shared/reference/*.json) and the parity checks on them.
//
// A ReferenceCase is one prompt with llama.cpp's greedy continuation and, per generated step, the
// five most likely tokens with their log-probabilities. The checks follow the reference README:
// teacher-forced, every listed log-probability agrees within `tolerance`, and the top token
// matches wherever the reference's top two differ by more than `top_gap`; free-running greedy
// output equals `tokens`.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace swarmkv::testing {

struct ReferenceCase {
  std::string prompt;
  std::vector<int32_t> prompt_tokens;  // BOS included
  std::vector<int32_t> tokens;         // greedy continuation
  std::string content;
  // top_logprobs[i]: (token id, log-probability) of step i, most likely first.
  std::vector<std::vector<std::pair<int32_t, double>>> top_logprobs;
};

struct ReferenceFile {
  std::string model;
  std::vector<ReferenceCase> cases;
};

// Reads and validates one reference JSON (Corruption naming the field on a malformed file).
Result<ReferenceFile> LoadReferenceFile(const std::string& path);

struct ParityOptions {
  double tolerance = 1e-3;  // on each listed log-probability
  double top_gap = 0.01;    // top token must match when the reference's top two differ by more
};

// Compares one step's logits (vocab-sized) with the reference's top log-probabilities of that
// step: OK, or FailedPrecondition listing the first disagreement (step, token, values).
Status CheckStep(std::span<const std::pair<int32_t, double>> reference_top, std::span<const float> logits,
                 int step, const ParityOptions& options = {});

// Largest |log-prob - reference| over the step's listed tokens (0 for an empty step; +inf for
// a token outside the vocabulary). For reporting how far from the tolerance an engine is.
double MaxLogProbDiff(std::span<const std::pair<int32_t, double>> reference_top, std::span<const float> logits);

// log-softmax of logits, in double.
std::vector<double> LogSoftmax(std::span<const float> logits);

// The model under test: logits of the next token after `tokens` (a whole sequence).
using NextLogitsFn = std::function<Result<std::vector<float>>(std::span<const int32_t> tokens)>;

// Teacher forcing over the whole case: every step checked with CheckStep.
Status CheckTeacherForced(const ReferenceCase& c, const NextLogitsFn& next, const ParityOptions& options = {});

}  // namespace swarmkv::testing
