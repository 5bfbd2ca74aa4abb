#include "server/context_window.h"

#include <gtest/gtest.h>

#include <numeric>

namespace swarmkv {
namespace {

using json = nlohmann::json;

TEST(ContextWindowTest, NumCtxDefaultsToTheModelsTrainingContext) {
  EXPECT_EQ(ResolveNumCtx(0, 0, 32768).num_ctx, 32768);
  EXPECT_FALSE(ResolveNumCtx(0, 0, 32768).clamped);
  EXPECT_EQ(ResolveNumCtx(0, 0, 0).num_ctx, kFallbackNumCtx);  // a model that does not say
  EXPECT_EQ(ResolveNumCtx(0, 2048, 32768).num_ctx, 2048);       // serve --num-ctx
  EXPECT_EQ(ResolveNumCtx(1000, 2048, 32768).num_ctx, 1000);    // the request wins
}

TEST(ContextWindowTest, NumCtxAboveTheModelIsClampedNotRefused) {
  auto r = ResolveNumCtx(100000, 0, 512);
  EXPECT_EQ(r.num_ctx, 512);
  EXPECT_TRUE(r.clamped);
  // A server default above a small model is clamped silently: the client asked for nothing.
  auto d = ResolveNumCtx(0, 4096, 512);
  EXPECT_EQ(d.num_ctx, 512);
  EXPECT_FALSE(d.clamped);
}

TEST(ContextWindowTest, ReserveLeavesRoomForTheAnswer) {
  EXPECT_EQ(ReserveForAnswer(512, 16), 16);
  EXPECT_EQ(ReserveForAnswer(512, 10000), 256);  // at most half
  EXPECT_EQ(ReserveForAnswer(512, -1), 128);     // a quarter without num_predict
  EXPECT_EQ(ReserveForAnswer(2, -1), 1);
}

TEST(ContextWindowTest, TruncateKeepsTheHeadAndTheNewestTokens) {
  std::vector<int32_t> t(20);
  std::iota(t.begin(), t.end(), 0);
  EXPECT_EQ(TruncateTokens(t, 20, 4), t);  // fits: unchanged
  auto cut = TruncateTokens(t, 10, 4);
  EXPECT_EQ(cut, (std::vector<int32_t>{0, 1, 2, 3, 14, 15, 16, 17, 18, 19}));
  EXPECT_EQ(TruncateTokens(t, 6, 100), (std::vector<int32_t>{0, 1, 2, 17, 18, 19}));  // keep <= half
  EXPECT_EQ(TruncateTokens(t, 5, 0), (std::vector<int32_t>{15, 16, 17, 18, 19}));
}

TEST(ContextWindowTest, FirstMessageToKeepFindsTheLongestFittingSuffix) {
  // Message i costs 10 tokens; 35 fit: the last three stay.
  auto fits = [](size_t first, size_t n) { return (n - first) * 10 <= 35; };
  EXPECT_EQ(FirstMessageToKeep(8, [&](size_t f) { return fits(f, 8); }), 5u);
  EXPECT_EQ(FirstMessageToKeep(3, [&](size_t f) { return fits(f, 3); }), 0u);
  // Nothing fits: the last message is still kept (the token-level cut follows).
  EXPECT_EQ(FirstMessageToKeep(4, [](size_t) { return false; }), 3u);
  EXPECT_EQ(FirstMessageToKeep(0, [](size_t) { return true; }), 0u);
}

TEST(ContextWindowTest, ParsesTruncateShiftAndNumKeep) {
  auto d = ParseContextOptions(json::object());
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->truncate);
  EXPECT_TRUE(d->shift);
  EXPECT_EQ(d->num_keep, kDefaultNumKeep);
  auto o = ParseContextOptions(json{{"truncate", false}, {"shift", false}, {"options", {{"num_keep", 0}}}});
  ASSERT_TRUE(o.ok());
  EXPECT_FALSE(o->truncate);
  EXPECT_FALSE(o->shift);
  EXPECT_EQ(o->num_keep, 0);
  auto bad = ParseContextOptions(json{{"truncate", "no"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("truncate"), std::string::npos);
  auto bad_keep = ParseContextOptions(json{{"options", {{"num_keep", -5}}}});
  ASSERT_FALSE(bad_keep.ok());
  EXPECT_NE(bad_keep.status().message().find("num_keep"), std::string::npos);
}

}  // namespace
}  // namespace swarmkv
