// GenerationStream: hands a generation's tokens from the engine thread to the HTTP thread.
//
// The engine calls OnToken/OnFinish (must not block: they only append under a short lock and
// notify). The HTTP thread waits for and drains events, writes them to the client, and calls
// MarkClientGone() when a write fails; from then on OnToken returns false, which cancels the
// generation in the engine (the handler also calls GenerationService::Cancel).
//
// Invariant: events are delivered in the order the engine produced them; exactly one Finish
// event, last. Timestamps are MonotonicNanos() at the engine callback (for TTFT/ITL metrics).
//
// Thread-safety: the observer side and the consumer side may run on different threads.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "engine/generation.h"

namespace swarmkv {

class GenerationStream : public GenerationObserver {
 public:
  // `on_finish` runs on the engine thread inside OnFinish — also when nobody drains the stream
  // any more (the client left) — so every generation is accounted for exactly once.
  explicit GenerationStream(std::function<void(const GenerationStats&)> on_finish = nullptr)
      : on_finish_(std::move(on_finish)) {}

  struct Pending {
    std::string text;                    // the text of all tokens since the last Drain
    std::vector<int32_t> tokens;
    std::vector<int64_t> token_times_ns;  // one per token
    std::vector<TokenLogprobs> logprobs;  // one per token when the request asked for them
    bool finished = false;
    Status status;                       // when finished
    GenerationStats stats;               // when finished
  };

  bool OnToken(int32_t token, std::string_view text) override;
  void OnLogprobs(const TokenLogprobs& logprobs) override;
  void OnFinish(const Status& status, const GenerationStats& stats) override;

  // Waits until something is pending or timeout_ms passes, then moves it out.
  // Returns false when nothing arrived in time.
  bool Drain(Pending* out, int64_t timeout_ms);
  void MarkClientGone();
  bool client_gone() const;

 private:
  const std::function<void(const GenerationStats&)> on_finish_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Pending pending_;       // guarded by mu_
  bool has_data_ = false; // guarded by mu_
  bool client_gone_ = false;
};

}  // namespace swarmkv
