#include "base/thread_pool.h"

#include <cstdlib>

#include "base/sysinfo.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SKV_CPU_RELAX() _mm_pause()
#else
#define SKV_CPU_RELAX() std::this_thread::yield()
#endif

namespace swarmkv {
namespace {

// Spin iterations (each a pause, ~40-140 cycles) a worker waits for the next job before sleeping:
// long enough to bridge the gap between the matmuls of one decode step.
constexpr int kSpinIterations = 1 << 14;

thread_local ThreadPool* tls_inside_pool = nullptr;

std::mutex default_mu;
int default_threads = 0;
ThreadPool* default_pool = nullptr;

}  // namespace

ThreadPool::ThreadPool(int num_threads) {
  if (num_threads <= 0) num_threads = PhysicalCoreCount();
  for (int t = 1; t < num_threads; ++t) workers_.emplace_back([this, t] { WorkerLoop(t); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(sleep_mu_);
    stop_.store(true);
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::DrainTasks(int thread) {
  for (;;) {
    const int64_t task = next_task_.fetch_add(1, std::memory_order_relaxed);
    if (task >= job_tasks_) return;
    job_fn_(job_ctx_, task, thread);
  }
}

void ThreadPool::Run(int64_t num_tasks, TaskFn fn, void* ctx) {
  if (num_tasks <= 0) return;
  if (workers_.empty() || num_tasks == 1 || tls_inside_pool == this) {
    for (int64_t t = 0; t < num_tasks; ++t) fn(ctx, t, 0);
    return;
  }
  std::lock_guard<std::mutex> run_lock(run_mu_);
  job_fn_ = fn;
  job_ctx_ = ctx;
  job_tasks_ = num_tasks;
  next_task_.store(0, std::memory_order_relaxed);
  finished_workers_.store(0, std::memory_order_relaxed);
  const uint64_t gen = generation_.load(std::memory_order_relaxed) + 1;
  job_state_.store((gen & 0xffffffffu) << 32, std::memory_order_relaxed);
  {
    // Publish under the sleep mutex so a worker about to sleep cannot miss the wake-up.
    std::lock_guard<std::mutex> lock(sleep_mu_);
    generation_.store(gen, std::memory_order_release);
  }
  if (sleepers_.load(std::memory_order_acquire) > 0) wake_.notify_all();
  tls_inside_pool = this;
  DrainTasks(0);
  tls_inside_pool = nullptr;
  // Every task has been claimed. Close the job: a worker that has not joined yet (asleep, or
  // descheduled on a busy machine) skips it, so the caller waits only for workers that are
  // actually running tasks, never for one the OS has not scheduled.
  const int joined = static_cast<int>(job_state_.fetch_or(kJobClosed, std::memory_order_acq_rel) & kJoinedMask);
  for (int spins = 0; finished_workers_.load(std::memory_order_acquire) != joined; ++spins) {
    if (spins < kSpinIterations) {
      SKV_CPU_RELAX();
    } else {
      std::this_thread::yield();
    }
  }
}

void ThreadPool::WorkerLoop(int thread) {
  tls_inside_pool = this;
  uint64_t seen = 0;
  for (;;) {
    uint64_t gen = generation_.load(std::memory_order_acquire);
    for (int i = 0; gen == seen && i < kSpinIterations; ++i) {
      SKV_CPU_RELAX();
      gen = generation_.load(std::memory_order_acquire);
    }
    if (gen == seen) {
      std::unique_lock<std::mutex> lock(sleep_mu_);
      sleepers_.fetch_add(1);
      wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      sleepers_.fetch_sub(1);
      gen = generation_.load(std::memory_order_acquire);
    }
    seen = gen;
    if (stop_.load()) return;
    // Join the job unless it is already closed (or already replaced by a newer one).
    uint64_t st = job_state_.load(std::memory_order_acquire);
    bool joined = false;
    while ((st >> 32) == (gen & 0xffffffffu) && (st & kJobClosed) == 0) {
      if (job_state_.compare_exchange_weak(st, st + 1, std::memory_order_acq_rel)) {
        joined = true;
        break;
      }
    }
    if (!joined) continue;
    DrainTasks(thread);
    finished_workers_.fetch_add(1, std::memory_order_acq_rel);
  }
}

ThreadPool& ThreadPool::Default() {
  std::lock_guard<std::mutex> lock(default_mu);
  if (default_pool == nullptr) default_pool = new ThreadPool(default_threads);  // lives forever
  return *default_pool;
}

bool ThreadPool::SetDefaultThreads(int num_threads) {
  std::lock_guard<std::mutex> lock(default_mu);
  if (default_pool != nullptr) return default_pool->num_threads() == num_threads;
  default_threads = num_threads;
  return true;
}

}  // namespace swarmkv
