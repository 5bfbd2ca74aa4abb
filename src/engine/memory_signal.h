// MemorySignal: tells schedulers that share one KV budget when one of them freed memory, so a
// queue waiting for memory held by another model's sequences wakes when they release it instead of
// polling (docs/memory.md "Admission and preemption").
//
// Each scheduler subscribes a waker (it sets a flag under its own mutex and signals its own
// condition variable) and calls Notify after it released memory for good: a sequence finished,
// was preempted (closed or swapped out). An admission attempt that attaches a prefix and closes
// it again does not notify (two blocked schedulers would wake each other forever).
//
// Invariant: every waker subscribed when Notify starts is called once by it.
// Thread-safety: all methods from any thread. Wakers run under the signal's mutex: they may take
// their scheduler's mutex (lock order: signal, then scheduler) and must not call back here; no
// one may call Notify/Subscribe/Unsubscribe while holding a scheduler's mutex.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>

namespace swarmkv {

class MemorySignal {
 public:
  using Waker = std::function<void()>;
  // Returns the id Unsubscribe takes.
  int64_t Subscribe(Waker waker);
  void Unsubscribe(int64_t id);
  // Calls every subscribed waker.
  void Notify();
  int64_t notifications() const;  // Notify calls so far (tests, debugging)

 private:
  mutable std::mutex mu_;
  std::map<int64_t, Waker> wakers_;  // guarded by mu_
  int64_t next_id_ = 1;              // guarded by mu_
  int64_t notifications_ = 0;        // guarded by mu_
};

}  // namespace swarmkv
