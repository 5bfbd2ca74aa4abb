#include "server/generation_stream.h"

#include <chrono>

#include "base/sysinfo.h"

namespace swarmkv {

bool GenerationStream::OnToken(int32_t token, std::string_view text) {
  int64_t now = MonotonicNanos();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (client_gone_) return false;
    pending_.text.append(text);
    pending_.tokens.push_back(token);
    pending_.token_times_ns.push_back(now);
    has_data_ = true;
  }
  cv_.notify_one();
  return true;
}

void GenerationStream::OnLogprobs(const TokenLogprobs& logprobs) {
  std::lock_guard<std::mutex> lock(mu_);
  pending_.logprobs.push_back(logprobs);  // delivered with the OnToken that follows
}

void GenerationStream::OnFinish(const Status& status, const GenerationStats& stats) {
  if (on_finish_) on_finish_(stats);
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.finished = true;
    pending_.status = status;
    pending_.stats = stats;
    has_data_ = true;
  }
  cv_.notify_one();
}

bool GenerationStream::Drain(Pending* out, int64_t timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return has_data_; })) return false;
  *out = std::move(pending_);
  pending_ = Pending{};
  has_data_ = false;
  return true;
}

void GenerationStream::MarkClientGone() {
  std::lock_guard<std::mutex> lock(mu_);
  client_gone_ = true;
}

bool GenerationStream::client_gone() const {
  std::lock_guard<std::mutex> lock(mu_);
  return client_gone_;
}

}  // namespace swarmkv
