#include "engine/memory_signal.h"

namespace swarmkv {

int64_t MemorySignal::Subscribe(Waker waker) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t id = next_id_++;
  wakers_.emplace(id, std::move(waker));
  return id;
}

void MemorySignal::Unsubscribe(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  wakers_.erase(id);
}

void MemorySignal::Notify() {
  std::lock_guard<std::mutex> lock(mu_);
  ++notifications_;
  for (auto& [id, waker] : wakers_) waker();
}

int64_t MemorySignal::notifications() const {
  std::lock_guard<std::mutex> lock(mu_);
  return notifications_;
}

}  // namespace swarmkv
