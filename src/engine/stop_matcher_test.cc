#include "engine/stop_matcher.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace swarmkv {
namespace {

// Feeds `pieces` and returns everything emitted (Push outputs + Finish).
std::string Feed(StopMatcher& m, const std::vector<std::string>& pieces, std::vector<std::string>* outs = nullptr) {
  std::string all;
  for (const auto& p : pieces) {
    std::string o = m.Push(p);
    if (outs) outs->push_back(o);
    all += o;
  }
  all += m.Finish();
  return all;
}

TEST(StopMatcherTest, NoStopsPassesTextThrough) {
  StopMatcher m;
  std::vector<std::string> outs;
  EXPECT_EQ(Feed(m, {"Hello", ", ", "world"}, &outs), "Hello, world");
  EXPECT_EQ(outs, (std::vector<std::string>{"Hello", ", ", "world"}));
  EXPECT_FALSE(m.stopped());
}

TEST(StopMatcherTest, StopSplitAcrossTokensIsHeldThenDropped) {
  StopMatcher m({"</s>"});
  std::vector<std::string> outs;
  EXPECT_EQ(Feed(m, {"abc<", "/", "s>", "tail"}, &outs), "abc");
  EXPECT_EQ(outs[0], "abc");  // "<" held: it might start the stop string
  EXPECT_EQ(outs[1], "");
  EXPECT_EQ(outs[2], "");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.matched(), "</s>");
}

TEST(StopMatcherTest, FalseStartIsReleased) {
  StopMatcher m({"END"});
  std::vector<std::string> outs;
  EXPECT_EQ(Feed(m, {"the E", "ND", "x"}, &outs), "the ");
  StopMatcher m2({"END"});
  outs.clear();
  EXPECT_EQ(Feed(m2, {"the E", "X", "EN"}, &outs), "the EXEN");  // held "EN" released at Finish
  EXPECT_EQ(outs[0], "the ");
  EXPECT_EQ(outs[1], "EX");
  EXPECT_EQ(outs[2], "");
  EXPECT_FALSE(m2.stopped());
}

TEST(StopMatcherTest, EarliestOfSeveralStopsWins) {
  StopMatcher m({"bb", "a"});
  EXPECT_EQ(Feed(m, {"xxbbya"}), "xx");
  EXPECT_EQ(m.matched(), "bb");
}

TEST(StopMatcherTest, IncompleteUtf8IsHeldUntilComplete) {
  StopMatcher m;
  const std::string euro = "\xE2\x82\xAC";  // U+20AC, 3 bytes
  std::vector<std::string> outs;
  EXPECT_EQ(Feed(m, {"a" + euro.substr(0, 1), euro.substr(1, 1), euro.substr(2) + "b"}, &outs), "a" + euro + "b");
  EXPECT_EQ(outs[0], "a");
  EXPECT_EQ(outs[1], "");
  EXPECT_EQ(outs[2], euro + "b");
}

TEST(StopMatcherTest, TruncatedUtf8AtFinishBecomesReplacementChar) {
  StopMatcher m;
  EXPECT_EQ(Feed(m, {"x\xE2\x82"}), "x\xEF\xBF\xBD");
}

TEST(StopMatcherTest, OutputIndependentOfTokenBoundaries) {
  const std::string text = "one two <stop> three";
  for (size_t cut1 = 0; cut1 <= text.size(); ++cut1) {
    for (size_t cut2 = cut1; cut2 <= text.size(); cut2 += 3) {
      StopMatcher m({"<stop>", "zzz"});
      EXPECT_EQ(Feed(m, {text.substr(0, cut1), text.substr(cut1, cut2 - cut1), text.substr(cut2)}), "one two ")
          << cut1 << " " << cut2;
    }
  }
}

TEST(Utf8Test, IncompleteTailLengths) {
  EXPECT_EQ(IncompleteUtf8Tail(""), 0u);
  EXPECT_EQ(IncompleteUtf8Tail("abc"), 0u);
  EXPECT_EQ(IncompleteUtf8Tail("\xF0\x9F\x98"), 3u);
  EXPECT_EQ(IncompleteUtf8Tail("\xF0\x9F\x98\x80"), 0u);
  EXPECT_EQ(IncompleteUtf8Tail("a\xC3"), 1u);
}

}  // namespace
}  // namespace swarmkv
