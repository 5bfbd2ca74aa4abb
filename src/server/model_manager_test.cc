#include "server/model_manager.h"

#include <gtest/gtest.h>

#include <thread>

#include "server/test_backend.h"

namespace swarmkv {
namespace {

ModelEntry Entry(const std::string& name, const std::string& key) {
  ModelEntry e;
  e.name = name;
  e.weights_path = key;
  e.weights_key = key;
  return e;
}

TEST(KeepAliveTest, ParsesOllamaDurations) {
  EXPECT_EQ(*ParseKeepAliveMs("5m"), 300000);
  EXPECT_EQ(*ParseKeepAliveMs("30s"), 30000);
  EXPECT_EQ(*ParseKeepAliveMs("1h"), 3600000);
  EXPECT_EQ(*ParseKeepAliveMs("250ms"), 250);
  EXPECT_EQ(*ParseKeepAliveMs("10"), 10000);
  EXPECT_EQ(*ParseKeepAliveMs("0"), 0);
  EXPECT_EQ(*ParseKeepAliveMs("-1"), -1);
  EXPECT_EQ(*ParseKeepAliveMs("-5m"), -1);
  EXPECT_FALSE(ParseKeepAliveMs("soon").ok());
  EXPECT_FALSE(ParseKeepAliveMs("5 days").ok());
  EXPECT_FALSE(ParseKeepAliveMs("").ok());
}

TEST(ModelManagerTest, LoadsOnFirstUseAndSharesWeights) {
  testing::ScriptedBackend backend;
  ModelManager mm(nullptr, &backend, {.default_keep_alive_ms = 60000, .reap_interval_ms = 0});
  auto a = mm.Acquire(Entry("a:latest", "/w1"), std::nullopt);
  auto b = mm.Acquire(Entry("b:latest", "/w1"), std::nullopt);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(backend.loads, 1);
  EXPECT_EQ(&a->model(), &b->model());
  auto loaded = mm.Loaded();
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded[0].active_requests, 2);
  EXPECT_TRUE(mm.CheckInvariants().ok());
}

TEST(ModelManagerTest, UnloadsAfterKeepAliveNeverWhileLeased) {
  testing::ScriptedBackend backend;
  ModelManager mm(nullptr, &backend, {.default_keep_alive_ms = 1000, .reap_interval_ms = 0});
  {
    auto a = mm.Acquire(Entry("a:latest", "/w1"), std::nullopt);
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(mm.Reap(NowUnixMs() + 10'000'000), 0);  // leased: never reaped
  }
  EXPECT_TRUE(mm.IsLoaded("/w1"));
  EXPECT_EQ(mm.Reap(NowUnixMs()), 0);           // not yet expired
  EXPECT_EQ(mm.Reap(NowUnixMs() + 1500), 1);    // expired
  EXPECT_FALSE(mm.IsLoaded("/w1"));
  auto again = mm.Acquire(Entry("a:latest", "/w1"), std::nullopt);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(backend.loads, 2);  // loaded again on next use
}

TEST(ModelManagerTest, KeepAliveZeroUnloadsAtOnceAndNegativeNever) {
  testing::ScriptedBackend backend;
  ModelManager mm(nullptr, &backend, {.default_keep_alive_ms = 1000, .reap_interval_ms = 0});
  { auto a = mm.Acquire(Entry("a", "/w0"), int64_t{0}); }
  EXPECT_FALSE(mm.IsLoaded("/w0"));
  { auto a = mm.Acquire(Entry("a", "/wn"), int64_t{-1}); }
  EXPECT_EQ(mm.Reap(NowUnixMs() + (int64_t{1} << 40)), 0);
  EXPECT_TRUE(mm.IsLoaded("/wn"));
}

TEST(ModelManagerTest, ConcurrentFirstRequestsLoadOnce) {
  testing::ScriptedBackend backend;
  backend.load_delay_ms = 50;
  ModelManager mm(nullptr, &backend, {.default_keep_alive_ms = 1000, .reap_interval_ms = 0});
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i)
    ts.emplace_back([&] {
      auto l = mm.Acquire(Entry("a", "/w"), std::nullopt);
      if (l.ok()) ++ok;
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok, 8);
  EXPECT_EQ(backend.loads, 1);
}

TEST(ModelManagerTest, LoadErrorIsReturnedAndRetried) {
  testing::ScriptedBackend backend;
  ModelManager mm(nullptr, &backend, {.default_keep_alive_ms = 1000, .reap_interval_ms = 0});
  auto a = mm.Acquire(Entry("bad", "/broken.gguf"), std::nullopt);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("loading model 'bad'"), std::string::npos);
  EXPECT_FALSE(mm.Acquire(Entry("bad", "/broken.gguf"), std::nullopt).ok());
  EXPECT_EQ(backend.loads, 2);
  EXPECT_TRUE(mm.Loaded().empty());
}

TEST(ModelManagerTest, AThrowingLoadLeavesNoStuckLoadingState) {
  testing::ScriptedBackend backend;
  ModelManager mm(nullptr, &backend, {.default_keep_alive_ms = 1000, .reap_interval_ms = 0});
  for (int i = 0; i < 2; ++i) {  // the second call would wait forever on a stuck "loading" slot
    auto a = mm.Acquire(Entry("x", "/throws.gguf"), std::nullopt);
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.status().code(), StatusCode::kInternal);
    EXPECT_NE(a.status().message().find("loader exploded"), std::string::npos) << a.status().message();
  }
  EXPECT_TRUE(mm.Loaded().empty());
  EXPECT_TRUE(mm.CheckInvariants().ok());
  EXPECT_TRUE(mm.Acquire(Entry("ok", "/w1"), std::nullopt).ok());
}

TEST(ModelManagerTest, MaxLoadedModelsUnloadsIdleOrRefuses) {
  testing::ScriptedBackend backend;
  ModelManager mm(nullptr, &backend, {.default_keep_alive_ms = 60000, .reap_interval_ms = 0, .max_loaded_models = 2});
  {
    auto a = mm.Acquire(Entry("a", "/w1"), std::nullopt);
    auto b = mm.Acquire(Entry("b", "/w2"), std::nullopt);
    ASSERT_TRUE(a.ok() && b.ok());
    // Both in use: a third is refused with a 503-class error naming the flag.
    auto c = mm.Acquire(Entry("c", "/w3"), std::nullopt);
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().code(), StatusCode::kUnavailable);
    EXPECT_NE(c.status().message().find("--max-loaded-models"), std::string::npos);
    EXPECT_EQ(mm.Loaded().size(), 2u);
  }
  // Idle now: loading a third unloads one, never more than two resident.
  ASSERT_TRUE(mm.Acquire(Entry("c", "/w3"), std::nullopt).ok());
  EXPECT_EQ(mm.Loaded().size(), 2u);
  EXPECT_TRUE(mm.IsLoaded("/w3"));
  EXPECT_TRUE(mm.CheckInvariants().ok());
}

TEST(ModelManagerTest, WithoutBackendSaysSo) {
  ModelManager mm(nullptr, nullptr, {});
  auto a = mm.Acquire(Entry("m", "/w"), std::nullopt);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::kUnavailable);
}

TEST(ModelManagerTest, ReaperThreadUnloadsExpiredModels) {
  testing::ScriptedBackend backend;
  ModelManager mm(nullptr, &backend, {.default_keep_alive_ms = 50, .reap_interval_ms = 10});
  { auto a = mm.Acquire(Entry("a", "/w"), std::nullopt); }
  for (int i = 0; i < 200 && mm.IsLoaded("/w"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_FALSE(mm.IsLoaded("/w"));
}

}  // namespace
}  // namespace swarmkv
