// The parity harness itself: the reference files load and are consistent, and CheckStep accepts
// logits that reproduce the reference and rejects ones that do not.
#include "reference_cases.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "base/testing.h"

namespace swarmkv::testing {
namespace {

// Logits whose log-softmax puts the reference's top-5 at their listed values (the rest share the
// remaining mass), i.e. a model that agrees exactly.
std::vector<float> LogitsMatching(const std::vector<std::pair<int32_t, double>>& top, int32_t vocab) {
  double listed = 0.0;
  for (const auto& [id, lp] : top) listed += std::exp(lp);
  const double rest = std::max(1e-12, 1.0 - listed) / (vocab - static_cast<double>(top.size()));
  std::vector<float> logits(vocab, static_cast<float>(std::log(rest)));
  for (const auto& [id, lp] : top) logits[id] = static_cast<float>(lp);
  return logits;
}

class ReferenceFilesTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ReferenceFilesTest, LoadsAndSelfAgrees) {
  const std::string path = SKV_REQUIRE_SHARED("reference/" + GetParam() + ".json");
  auto ref = LoadReferenceFile(path);
  ASSERT_TRUE(ref.ok()) << ref.status().ToString();
  ASSERT_FALSE(ref->cases.empty());
  for (const ReferenceCase& c : ref->cases) {
    ASSERT_FALSE(c.tokens.empty());
    for (size_t i = 0; i < c.tokens.size(); ++i) {
      ASSERT_EQ(c.top_logprobs[i].size(), 5u);
      // Greedy: the generated token is the most likely one.
      EXPECT_EQ(c.top_logprobs[i][0].first, c.tokens[i]) << c.prompt << " step " << i;
      auto logits = LogitsMatching(c.top_logprobs[i], 2048);
      EXPECT_TRUE(CheckStep(c.top_logprobs[i], logits, static_cast<int>(i)).ok());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllModels, ReferenceFilesTest,
                         ::testing::Values("stories260K", "TinyStories-656K.f16", "tinystories-656k-q8_0"));

TEST(CheckStepTest, RejectsLogProbOffByMoreThanTolerance) {
  const std::vector<std::pair<int32_t, double>> top = {{3, -0.2}, {1, -2.5}, {0, -4.0}, {2, -5.0}, {4, -6.0}};
  auto logits = LogitsMatching(top, 16);
  EXPECT_TRUE(CheckStep(top, logits, 0).ok());
  auto off = logits;
  off[1] += 0.01f;  // token 1's log-prob moves by ~0.01
  Status s = CheckStep(top, off, 7);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("step 7: token 1"), std::string::npos) << s.message();
}

TEST(CheckStepTest, TopTokenMustMatchOnlyWhenTheGapIsClear) {
  // Reference top two nearly tied: swapping them within tolerance is allowed.
  const std::vector<std::pair<int32_t, double>> tied = {{3, -0.6930}, {1, -0.6935}};
  std::vector<float> logits(8, -30.0f);
  logits[3] = -0.6935f;
  logits[1] = -0.6930f;
  EXPECT_TRUE(CheckStep(tied, logits, 0).ok());
  // With a loose tolerance but a clear reference gap, a different top token is an error.
  const std::vector<std::pair<int32_t, double>> clear = {{3, -0.5}, {1, -0.9}};
  logits[3] = -0.9f;
  logits[1] = -0.5f;
  ParityOptions loose;
  loose.tolerance = 1.0;
  Status s = CheckStep(clear, logits, 2, loose);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("top token 1"), std::string::npos) << s.message();
}

TEST(LoadReferenceFileTest, MissingAndMalformedFilesGiveClearErrors) {
  EXPECT_EQ(LoadReferenceFile("/nonexistent/ref.json").status().code(), StatusCode::kNotFound);
  const std::string dir = TempDir();
  auto write = [&](const std::string& name, const std::string& body) {
    std::ofstream(dir + "/" + name) << body;
    return dir + "/" + name;
  };
  EXPECT_EQ(LoadReferenceFile(write("a.json", "{not json")).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(LoadReferenceFile(write("b.json", "{\"cases\": 3}")).status().code(), StatusCode::kCorruption);
  auto r = LoadReferenceFile(write(
      "c.json", R"({"cases":[{"prompt":"x","prompt_tokens":[1],"tokens":[2,3],"top_logprobs":[[[2,-0.1]]]}]})"));
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find("2 tokens but 1"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace swarmkv::testing
