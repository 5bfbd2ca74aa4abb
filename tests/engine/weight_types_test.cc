// Issue 18's weight types end to end: `make-model --shape tiny-k --type T` (every 2-D weight in
// T, rows of 256 so nothing falls back) runs through the engine, and its logits are the same bits
// whether the prompt comes in one step, one token per step or chunks of 7 (batch invariance).
// Parity: against llama.cpp's teacher-forced log-probabilities on the same file when
// scripts/weight_type_references.sh has written BUILD/llamacpp-reference-ISA/tiny-k-T.json
// (local_reference.h; SWARMKV_LOCAL_REFERENCE_DIR overrides), each present reference at its
// build's tolerance, skipped clearly when there is none. The file is regenerated
// here with the script's seed (make-model is deterministic).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/testing.h"
#include "engine_fixture.h"
#include "local_reference.h"
#include "model/synthetic_model.h"
#include "reference_cases.h"

namespace swarmkv::testing {
namespace {

constexpr uint64_t kSeed = 18;  // scripts/weight_type_references.sh

// Tolerance by the llama.cpp build that made the reference (local_reference.h): the same for
// both builds until the AVX2 figures (docs/engine.md) allow tighter ones.
// AVX-512 (-ub 1 -fa on --no-repack), measured max |log-prob diff|:
// q5_K 2.2e-6, q5_1 2.7e-6, q2_K 2.7e-6, q3_K 2.6e-6, iq4_xs 2.4e-6, mxfp4 3.3e-6 — held to
// 1e-3. q4_K 8.2e-3, q6_K 8.6e-3, q4_1 6.6e-3, iq4_nl 6.1e-3 and the shape's own q8_0 1.9e-3
// (f16 4.1e-4) are not: that build's f16 attention dots sum in 16 lanes (head_dim 64 here; the
// shared tiny models' head dims are below 32, summed in double), and IQ4_NL / Q8_0 matmuls go
// through tinyBLAS; in these random-weight models one flipped Q8 activation rounding moves the
// flat log-probs by ~1e-2. Held to 1.5e-2 there (a wrong op lands far above).
double Tolerance(const std::string& type, const LocalReference& ref) {
  (void)ref;
  for (const char* t : {"q4_K", "q6_K", "q4_1", "iq4_nl", "q8_0"})
    if (type == t) return 1.5e-2;
  return 1e-3;
}

class WeightTypesTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::string MakeModel() {
    SyntheticModelOptions o;
    o.shape = "tiny-k";
    o.type = *ParseTensorType(GetParam());
    o.seed = kSeed;
    const std::string path = TempDir() + "/tiny-k-" + GetParam() + ".gguf";
    Status s = MakeSyntheticModel(o, path);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return path;
  }
};

TEST_P(WeightTypesTest, EngineRunsEveryMatrixInTheTypeAndIsBatchInvariant) {
  auto fx = EngineFixture::Load(MakeModel(), TensorType::kF16);
  ASSERT_TRUE(fx.ok()) << fx.status().ToString();
  EngineFixture& f = **fx;
  const TensorType want = *ParseTensorType(GetParam());
  EXPECT_EQ(f.model->weights().layers[0].wq.type(), want);
  EXPECT_EQ(f.model->weights().layers[1].ffn_down.type(), want);
  EXPECT_EQ(f.model->weights().output.type(), want);
  std::vector<int32_t> prompt;
  for (int i = 0; i < 24; ++i) prompt.push_back(static_cast<int32_t>((i * 733 + 300) % 4000));
  std::vector<std::vector<float>> runs;
  for (int64_t chunk : {512, 1, 7}) {
    auto seq = f.memory->CreateSequence(f.ns);
    ASSERT_TRUE(seq.ok());
    auto logits = f.Feed(*seq, prompt, chunk);
    ASSERT_TRUE(logits.ok()) << logits.status().ToString();
    runs.push_back(*logits);
    ASSERT_TRUE(f.memory->Release(*seq).ok());
  }
  ASSERT_EQ(runs[0].size(), static_cast<size_t>(f.vocab()));
  float lo = runs[0][0], hi = runs[0][0];
  for (float v : runs[0]) {
    ASSERT_TRUE(std::isfinite(v));
    lo = std::min(lo, v), hi = std::max(hi, v);
  }
  EXPECT_LT(lo, hi);
  EXPECT_EQ(std::memcmp(runs[0].data(), runs[1].data(), runs[0].size() * 4), 0) << "one step vs one token per step";
  EXPECT_EQ(std::memcmp(runs[0].data(), runs[2].data(), runs[0].size() * 4), 0) << "one step vs chunks of 7";
}

TEST_P(WeightTypesTest, TeacherForcedMatchesLocalLlamaCpp) {
  const std::string file = "tiny-k-" + GetParam() + ".json";
  const std::vector<LocalReference> refs = FindLocalReferences(SWARMKV_LOCAL_REFERENCE_DIR_DEFAULT, file);
  if (refs.empty()) {
    GTEST_SKIP() << NoLocalReferenceMessage(SWARMKV_LOCAL_REFERENCE_DIR_DEFAULT, file,
                                            "scripts/weight_type_references.sh");
  }
  auto fx = EngineFixture::Load(MakeModel(), TensorType::kF16);
  ASSERT_TRUE(fx.ok()) << fx.status().ToString();
  EngineFixture& f = **fx;
  for (const LocalReference& r : refs) {
    SCOPED_TRACE("llama.cpp " + r.isa + " reference " + r.path);
    auto ref = LoadReferenceFile(r.path);
    ASSERT_TRUE(ref.ok()) << ref.status().ToString();
    const double tolerance = Tolerance(GetParam(), r);
    double worst = 0.0;
    int steps = 0, failed = 0;
    std::string first_failure;
    for (const ReferenceCase& c : ref->cases) {
      auto seq = f.memory->CreateSequence(f.ns);
      ASSERT_TRUE(seq.ok());
      auto logits = f.Feed(*seq, c.prompt_tokens, 512);
      ASSERT_TRUE(logits.ok()) << logits.status().ToString();
      for (size_t i = 0; i < c.tokens.size(); ++i) {
        if (!c.top_logprobs[i].empty()) {  // llama-server answers some steps without probabilities
          ++steps;
          worst = std::max(worst, MaxLogProbDiff(c.top_logprobs[i], *logits));
          ParityOptions options;
          options.tolerance = tolerance;
          Status st = CheckStep(c.top_logprobs[i], *logits, static_cast<int>(i), options);
          if (!st.ok() && failed++ == 0) first_failure = c.prompt + ": " + st.ToString();
        }
        logits = f.Feed(*seq, std::span<const int32_t>(&c.tokens[i], 1), 1);
        ASSERT_TRUE(logits.ok()) << logits.status().ToString();
      }
      ASSERT_TRUE(f.memory->Release(*seq).ok());
    }
    ::testing::Test::RecordProperty("max_logprob_diff_" + r.isa, std::to_string(worst));
    std::printf("[ parity ] tiny-k %s vs llama.cpp %s: %d steps, max |log-prob diff| %.3g, %d over %.3g\n",
                GetParam().c_str(), r.isa.c_str(), steps, worst, failed, tolerance);
    EXPECT_GT(steps, 0);
    EXPECT_EQ(failed, 0) << "first: " << first_failure;
  }
}

INSTANTIATE_TEST_SUITE_P(Types, WeightTypesTest,
                         ::testing::Values("q4_K", "q5_K", "q6_K", "q4_1", "q5_1", "q2_K", "q3_K", "iq4_nl", "iq4_xs",
                                           "mxfp4", "q8_0", "f16"),  // q8_0, f16: the shape's baseline
                         [](const auto& p) { return p.param; });

}  // namespace
}  // namespace swarmkv::testing
