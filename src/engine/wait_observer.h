// WaitObserver: a GenerationObserver that records how a generation ended and lets the caller block
// until it has. Subclasses override OnToken to consume text (the default keeps generating).
//
// Invariant: Wait returns only after OnFinish, and `status`/`stats` are those OnFinish received.
//
// Thread-safety: OnToken/OnFinish on the engine thread, Wait on any one other thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "engine/generation.h"

namespace swarmkv {

class WaitObserver : public GenerationObserver {
 public:
  bool OnToken(int32_t, std::string_view) override { return true; }
  void OnFinish(const Status& s, const GenerationStats& st) override {
    std::lock_guard<std::mutex> lock(mu_);
    status = s;
    stats = st;
    done_ = true;
    cv_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_; });
  }
  // False when `seconds` passed before OnFinish.
  bool Wait(int seconds) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(seconds), [&] { return done_; });
  }
  bool finished() {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }

  Status status;
  GenerationStats stats;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
};

}  // namespace swarmkv
