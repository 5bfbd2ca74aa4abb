// The seam between the server and the engine: submit a generation, receive its tokens.
//
// The engine's scheduler implements GenerationService; the server (HTTP), the CLI (`swarmkv run`)
// and benchmarks call it. A request carries token ids (the caller has already applied the chat
// template and tokenized); results come back through a GenerationObserver, called on an engine
// thread, in order: OnToken* then exactly one OnFinish.
//
// Invariant: for a request with a fixed seed (or greedy sampling), the tokens produced do not
// depend on what else is batched with it or on how much of its prompt came from cached KV.
//
// Thread-safety: Submit and Cancel may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/token_constraint.h"

namespace swarmkv {

struct SamplingParams {
  float temperature = 0.8f;  // 0 => greedy
  int32_t top_k = 40;        // <= 0 => off
  float top_p = 0.95f;       // >= 1 => off
  float min_p = 0.05f;       // <= 0 => off
  float repeat_penalty = 1.0f;  // 1 => off
  int32_t repeat_last_n = 64;
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  uint64_t seed = 0;
  bool has_seed = false;  // without a seed, the engine picks one and reports it
};

struct GenerationRequest {
  std::string model;                   // registry name or path, resolved by the service
  std::vector<int32_t> prompt_tokens;  // BOS included when the model wants one
  SamplingParams sampling;
  int32_t max_new_tokens = -1;         // -1: until EOS/stop or the context is full; 0: prefill
                                       // only (the prompt's KV is computed, nothing is sampled)
  int32_t num_ctx = 0;                 // 0: the model's default context for this server
  std::vector<std::string> stop;       // stop strings, matched on the generated text
  bool ignore_eos = false;
  std::string client_id;               // fairness key (connection, API key, agent)
  // Background work (a pin's preload): its prefill chunks take only what interactive sequences
  // leave of a step, so it never delays their decode by more than the step it shares with them.
  bool background = false;
  // Scheduling priority: higher is admitted first and preempted last; equal priorities are served
  // in arrival order (FIFO). 0 for every HTTP request today.
  int32_t priority = 0;
  // Constrained decoding (structured output, forced tool calls): only tokens it allows are
  // sampled. One per request (it carries the request's state); null: unconstrained.
  std::shared_ptr<TokenConstraint> constraint;
  // -1: no log-probabilities. k >= 0: OnLogprobs before each OnToken with the chosen token's
  // log-probability and the k most likely tokens' (k <= kMaxTopLogprobs).
  int32_t top_logprobs = -1;
};

constexpr int32_t kMaxTopLogprobs = 20;

// Log-probabilities of one sampled token under the model's distribution (softmax of the raw
// logits: before penalties, temperature, truncation and any constraint, as OpenAI reports them).
struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0.0f;
};
struct TokenLogprobs {
  TokenLogprob chosen;
  std::vector<TokenLogprob> top;  // most likely first
};

struct GenerationStats {
  int32_t prompt_tokens = 0;         // tokens in the prompt
  int32_t prompt_tokens_reused = 0;  // served from cached KV (any tier), not computed
  int32_t generated_tokens = 0;
  int64_t queued_ns = 0;             // submit -> admitted
  int64_t prefill_ns = 0;            // admitted -> first token sampled
  int64_t decode_ns = 0;             // first token -> finish
  uint64_t seed = 0;                 // the seed actually used
  int32_t preemptions = 0;           // times the scheduler paused it for memory (output unchanged)
  int32_t tokens_recomputed = 0;     // tokens computed again after those pauses
  std::string finish_reason;         // "stop" (EOS or stop string), "length", "cancelled", "error"
};

class GenerationObserver {
 public:
  virtual ~GenerationObserver() = default;
  // One sampled token and the text it completes: only whole UTF-8 characters, with text that
  // might be the start of a stop string held back until it is known not to be. Return false to
  // cancel (client went away). Must not block.
  virtual bool OnToken(int32_t token, std::string_view text) = 0;
  // With GenerationRequest::top_logprobs >= 0: called right before OnToken for the same token.
  virtual void OnLogprobs(const TokenLogprobs& logprobs) { (void)logprobs; }
  // Called once, last. `status` is OK for stop/length/cancelled; an error otherwise.
  virtual void OnFinish(const Status& status, const GenerationStats& stats) = 0;
};

using RequestId = uint64_t;

class GenerationService {
 public:
  virtual ~GenerationService() = default;
  // Queues a request. Errors (unknown model, prompt longer than the context, queue full) are
  // returned here, before any callback.
  virtual Result<RequestId> Submit(GenerationRequest request, std::shared_ptr<GenerationObserver> observer) = 0;
  // Stops a request early; its observer then gets OnFinish with finish_reason "cancelled".
  virtual void Cancel(RequestId id) = 0;
};

}  // namespace swarmkv
