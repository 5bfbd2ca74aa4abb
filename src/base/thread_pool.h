// A pool of persistent worker threads with a low-latency parallel-for.
//
// Invariant: ParallelFor(n, fn) calls fn(task, thread) exactly once for every task in [0, n)
// and returns only after all calls have returned; `thread` is in [0, num_threads()) and no two
// concurrent calls share it (so it can index per-thread scratch). Tasks are handed out
// dynamically, so which thread runs a task is NOT deterministic — callers that need
// reproducible results (the kernels do) make each task's result independent of its thread.
// Workers spin briefly after a job (a decode step launches hundreds of small ones), then sleep.
// The caller runs tasks too and never waits for a worker that has not started on the job (on a
// loaded machine a descheduled worker would otherwise stall every fork/join).
//
// Thread-safety: ParallelFor may be called from several threads; calls are serialized. A call
// from inside a task runs its tasks inline on the calling thread (no nested parallelism).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace swarmkv {

class ThreadPool {
 public:
  // num_threads counts the calling thread: 1 means no workers (everything runs inline).
  // 0 or less means PhysicalCoreCount().
  explicit ThreadPool(int num_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return static_cast<int>(workers_.size()) + 1; }

  template <typename Fn>
  void ParallelFor(int64_t num_tasks, Fn&& fn) {
    auto trampoline = [](void* ctx, int64_t task, int thread) {
      (*static_cast<std::remove_reference_t<Fn>*>(ctx))(task, thread);
    };
    Run(num_tasks, trampoline, const_cast<void*>(static_cast<const void*>(&fn)));
  }

  // A process-wide pool sized by SetDefaultThreads (default: physical cores).
  static ThreadPool& Default();
  // Sets the size of Default() before its first use (the --threads flag). Returns false if
  // Default() was already created with another size.
  static bool SetDefaultThreads(int num_threads);

 private:
  using TaskFn = void (*)(void* ctx, int64_t task, int thread);
  void Run(int64_t num_tasks, TaskFn fn, void* ctx);
  void WorkerLoop(int thread);
  void DrainTasks(int thread);

  // Constant after construction.
  std::vector<std::thread> workers_;

  // Serializes callers of Run.
  std::mutex run_mu_;

  // The current job; written by Run before generation_ is bumped, read by workers after.
  TaskFn job_fn_ = nullptr;
  void* job_ctx_ = nullptr;
  int64_t job_tasks_ = 0;
  std::atomic<int64_t> next_task_{0};
  // Join protocol: bits 63..32 = generation (low 32 bits) of the current job, bit 31 = closed
  // (the caller has drained the queue; no worker may join), bits 30..0 = workers that joined.
  // The caller waits until finished_workers_ equals the joined count at closing.
  static constexpr uint64_t kJobClosed = uint64_t{1} << 31;
  static constexpr uint64_t kJoinedMask = kJobClosed - 1;
  std::atomic<uint64_t> job_state_{0};
  std::atomic<int> finished_workers_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};

  // Sleeping workers wait here for generation_ to change.
  std::mutex sleep_mu_;
  std::condition_variable wake_;
  std::atomic<int> sleepers_{0};
};

// pool->ParallelFor(num_tasks, fn), or with no pool every task in order on the calling thread
// (as thread 0).
template <typename Fn>
void ParallelForOn(ThreadPool* pool, int64_t num_tasks, Fn&& fn) {
  if (pool != nullptr) {
    pool->ParallelFor(num_tasks, fn);
  } else {
    for (int64_t i = 0; i < num_tasks; ++i) fn(i, 0);
  }
}

}  // namespace swarmkv
