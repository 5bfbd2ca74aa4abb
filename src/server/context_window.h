// Ollama's context handling for one generation request: which num_ctx it runs with, and how a
// prompt that does not fit is cut down (or refused).
//
// Rules (Ollama's, as docs/api.md states them; the differences are listed there):
// - num_ctx: a request's options.num_ctx, else the server's --num-ctx, else the model's training
//   context (paged KV costs nothing until used). Above the model's context it is clamped to it,
//   with a warning in the log (Ollama does the same), never refused.
// - A prompt fits when at least one token can still be generated: prompt_tokens < num_ctx.
// - `truncate` (a top-level request field, default true): a prompt that does not fit is cut to
//   num_ctx - Reserve() tokens. Chat: the oldest non-system messages are dropped first (the
//   system messages and the newest message always stay), then, if one message is still too
//   long, the token-level cut below. Generate: the token-level cut — the first `num_keep`
//   tokens (options.num_keep, default 4 as Ollama) and the newest tokens are kept, the middle
//   dropped. Both are logged. `truncate: false`: a 400 naming the prompt length and num_ctx.
// - `shift` (default true): Ollama slides the window when generation reaches num_ctx; swarmkv
//   ends the generation there with done_reason "length" either way (what Ollama does with
//   shift:false). Accepted, documented as a difference.
//
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace swarmkv {

constexpr int32_t kFallbackNumCtx = 4096;  // when neither the request, the server nor the model says
constexpr int32_t kDefaultNumKeep = 4;     // Ollama's default options.num_keep

// The request fields of the context rules (not in ApiRequest: they only matter here).
struct ContextOptions {
  bool truncate = true;
  bool shift = true;
  int32_t num_keep = kDefaultNumKeep;
};

// Reads `truncate`, `shift` (booleans) and options.num_keep (integer >= -1; -1 = the whole
// prompt's head is kept, i.e. nothing can be cut at token level) from an Ollama/OpenAI body.
// Errors name the field.
Result<ContextOptions> ParseContextOptions(const nlohmann::json& body);

struct ResolvedNumCtx {
  int32_t num_ctx = 0;
  bool clamped = false;  // the request asked for more than the model's context
};

// `requested` 0: not given. `server_default` 0: the model's. `model_ctx` 0: unknown.
ResolvedNumCtx ResolveNumCtx(int32_t requested, int32_t server_default, int32_t model_ctx);

// Tokens kept free for the answer when a prompt is cut: num_predict when given (at most half of
// num_ctx), else a quarter of num_ctx; at least 1.
int32_t ReserveForAnswer(int32_t num_ctx, int32_t num_predict);

// The token-level cut: the first min(num_keep, limit/2) tokens and the newest ones, `limit` in all.
// REQUIRES: limit >= 1. Returns `tokens` unchanged when it already fits.
std::vector<int32_t> TruncateTokens(const std::vector<int32_t>& tokens, size_t limit, int32_t num_keep);

// The message-level cut: the smallest `first` such that the prompt made of the system messages
// before `first` plus messages[first..] fits (`fits(first)` true); the last message is always
// kept. `fits` must be monotonic (dropping messages never makes a prompt longer). Binary search:
// O(log n) renders however long the history is.
template <typename Fits>
size_t FirstMessageToKeep(size_t num_messages, Fits&& fits) {
  if (num_messages == 0) return 0;
  size_t lo = 0, hi = num_messages - 1;  // hi always "fits or is the last message"
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (fits(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

}  // namespace swarmkv
