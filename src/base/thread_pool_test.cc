#include "base/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace swarmkv {
namespace {

TEST(ThreadPoolTest, EveryTaskRunsExactlyOnce) {
  for (int threads : {1, 2, 4}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.num_threads(), threads);
    for (int64_t n : {0, 1, 3, 1000}) {
      std::vector<std::atomic<int>> hits(n);
      pool.ParallelFor(n, [&](int64_t task, int thread) {
        ASSERT_GE(thread, 0);
        ASSERT_LT(thread, threads);
        hits[task].fetch_add(1);
      });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << i;
    }
  }
}

TEST(ThreadPoolTest, ThreadIndexIsNotSharedByConcurrentTasks) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> in_use(3);
  std::atomic<int> violations{0};
  pool.ParallelFor(3000, [&](int64_t, int thread) {
    if (in_use[thread].fetch_add(1) != 0) violations.fetch_add(1);
    in_use[thread].fetch_sub(1);
  });
  EXPECT_EQ(violations.load(), 0);
}

TEST(ThreadPoolTest, ManySmallJobsBackToBackAndAfterSleeping) {
  ThreadPool pool(2);
  int64_t total = 0;
  for (int job = 0; job < 20000; ++job) {
    std::atomic<int64_t> sum{0};
    pool.ParallelFor(4, [&](int64_t task, int) { sum.fetch_add(task + 1); });
    total += sum.load();
  }
  EXPECT_EQ(total, 20000 * 10);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // workers go to sleep
  std::atomic<int64_t> sum{0};
  pool.ParallelFor(100, [&](int64_t task, int) { sum.fetch_add(task); });
  EXPECT_EQ(sum.load(), 4950);
}

TEST(ThreadPoolTest, NestedCallRunsInline) {
  ThreadPool pool(2);
  std::atomic<int> inner{0};
  pool.ParallelFor(4, [&](int64_t, int) {
    pool.ParallelFor(5, [&](int64_t, int) { inner.fetch_add(1); });
  });
  EXPECT_EQ(inner.load(), 20);
}

TEST(ThreadPoolTest, ConcurrentCallersAreSerialized) {
  ThreadPool pool(2);
  std::atomic<int64_t> sum{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 3; ++c) {
    callers.emplace_back([&] {
      for (int j = 0; j < 200; ++j) pool.ParallelFor(10, [&](int64_t, int) { sum.fetch_add(1); });
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(sum.load(), 3 * 200 * 10);
}

}  // namespace
}  // namespace swarmkv
