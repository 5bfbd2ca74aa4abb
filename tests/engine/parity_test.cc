// Parity with llama.cpp: teacher-forced log-probabilities within a tolerance and top tokens
// equal where the reference's top two differ by > 0.01; free-running greedy output equal to the
// reference ids for the full length. All three tiny models, f16 KV (llama.cpp's default).
//
// Two oracles:
// - ../shared/reference (made by an AVX-512 llama.cpp). Q8_0: 1e-3 (the README's figure; ggml's
//   q8_0 arithmetic is the same on every x86 ISA and we reproduce it to 1.04e-5). F16/F32:
//   ggml's float dots, SiLU and tinyBLAS sum in 16 lanes on AVX-512 and in 8 on AVX2, so no AVX2
//   order reaches 1e-3 there: /work/llamacpp's own AVX2 build misses it by 2.7e-3 (F16) and
//   3.34e-3 (F32), we by 2.62e-3 and 3.41e-3 — at every SWARMKV_KERNELS level, since every ISA
//   runs ggml's AVX2 order (one numeric order). Held to kAvx512FloatFloor (4e-3), that floor plus a
//   margin — NOT the README's 1e-3; a wrong op lands far above it — and the greedy
//   continuations must still equal the reference exactly.
// - The llama.cpp of this machine (scripts/llamacpp_reference.py writes the same JSON into the
//   build tree), 1e-3 for every model: measured 2.65e-6 (F32), 1.11e-5 (F16), 1.04e-5 (Q8_0)
//   — the logits are bit-identical to that llama.cpp's (docs/kernels.md, "Parity").
//   Generated with -ub 1, i.e. every token through ggml's vec_dot path. llama.cpp's default
//   sends prompt rows through tinyBLAS (one accumulator per output) and decode rows through
//   vec_dot (four), so it disagrees with itself: the same stories260K context reached as a
//   5-token prompt and as 5 decode steps differs by 1.76e-3 in its own output, and its default
//   run differs from its -ub 1 run by 2.07e-3 (F32) / 1.63e-3 (F16). A batch-invariant engine
//   (same bits whatever the batch) can follow one order; ours is vec_dot's.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "base/testing.h"
#include "engine_fixture.h"
#include "exactness_checks.h"
#include "kernels/cpu_features.h"
#include "local_reference.h"
#include "reference_cases.h"

namespace swarmkv::testing {
namespace {

// The shared reference's F16/F32 models on a machine without AVX-512 (see the header).
constexpr double kAvx512FloatFloor = 4e-3;

class ParityTest : public ::testing::TestWithParam<std::string> {};

// See the header: 1e-3 where the reference's arithmetic can be reproduced on this machine.
double SharedReferenceTolerance(const std::string& model) {
  return model.find("q8_0") != std::string::npos ? 1e-3 : kAvx512FloatFloor;
}

int32_t Argmax(const std::vector<float>& v) {
  return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

TEST_P(ParityTest, TeacherForcedMatchesReference) {
  const std::string path = SKV_REQUIRE_SHARED("models/" + GetParam() + ".gguf");
  const std::string ref = SKV_REQUIRE_SHARED("reference/" + GetParam() + ".json");
  ExpectTeacherForcedWithin(path, ref, SharedReferenceTolerance(GetParam()), GetParam());
}

// The same comparison against the llama.cpp of this machine (scripts/llamacpp_reference.py
// writes it into the build tree, BUILD/llamacpp-reference-ISA; local_reference.h): 1e-3 for
// every model and every build present. Skipped where no local reference was generated. Every
// ISA runs ggml's AVX2 order (one numeric order, docs/kernels.md), so the figures are the same
// at every SWARMKV_KERNELS level.
TEST_P(ParityTest, TeacherForcedMatchesLocalLlamaCpp) {
  const std::string path = SKV_REQUIRE_SHARED("models/" + GetParam() + ".gguf");
  const std::vector<LocalReference> refs = FindLocalReferences(SWARMKV_LOCAL_REFERENCE_DIR_DEFAULT, GetParam() + ".json");
  if (refs.empty()) {
    GTEST_SKIP() << NoLocalReferenceMessage(SWARMKV_LOCAL_REFERENCE_DIR_DEFAULT, GetParam() + ".json",
                                            "scripts/llamacpp_reference.py (see its header)");
  }
  for (const LocalReference& ref : refs) {
    SCOPED_TRACE("llama.cpp " + ref.isa + " reference " + ref.path);
    ExpectTeacherForcedWithin(path, ref.path, 1e-3, GetParam() + " (" + ref.isa + ")");
  }
}

// ../shared/reference-avx2 (llama.cpp's AVX2 build of a newer commit, -ub 1 -fa on -t 1), at the
// shared reference's tolerances: measured max |log-prob diff| 2.26e-3 (stories260K, F32),
// 2.74e-3 (F16), 1.04e-5 (Q8_0) — the same at every SWARMKV_KERNELS level. The float models
// miss 1e-3 against this newer llama.cpp as against the older one (its README: the two builds
// differ from each other by up to 2.5e-3), so they are held to kAvx512FloatFloor.
TEST_P(ParityTest, TeacherForcedMatchesAvx2Reference) {
  const std::string path = SKV_REQUIRE_SHARED("models/" + GetParam() + ".gguf");
  const std::string ref = SKV_REQUIRE_SHARED("reference-avx2/" + GetParam() + ".json");
  ExpectTeacherForcedWithin(path, ref, SharedReferenceTolerance(GetParam()), GetParam());
}

TEST_P(ParityTest, GreedyContinuationEqualsReference) {
  const std::string path = SKV_REQUIRE_SHARED("models/" + GetParam() + ".gguf");
  auto ref = LoadReferenceFile(SKV_REQUIRE_SHARED("reference/" + GetParam() + ".json"));
  ASSERT_TRUE(ref.ok()) << ref.status().ToString();
  auto fx = EngineFixture::Load(path, TensorType::kF16);
  ASSERT_TRUE(fx.ok()) << fx.status().ToString();
  EngineFixture& f = **fx;
  for (const ReferenceCase& c : ref->cases) {
    auto seq = f.memory->CreateSequence(f.ns);
    ASSERT_TRUE(seq.ok());
    auto logits = f.Feed(*seq, c.prompt_tokens, 512);
    ASSERT_TRUE(logits.ok()) << logits.status().ToString();
    std::vector<int32_t> got;
    while (got.size() < c.tokens.size()) {
      got.push_back(Argmax(*logits));
      logits = f.Feed(*seq, std::span<const int32_t>(&got.back(), 1), 1);
      ASSERT_TRUE(logits.ok()) << logits.status().ToString();
    }
    EXPECT_EQ(got, c.tokens) << "prompt '" << c.prompt << "'";
    ASSERT_TRUE(f.memory->Release(*seq).ok());
  }
}

INSTANTIATE_TEST_SUITE_P(TinyModels, ParityTest,
                         ::testing::Values("stories260K", "TinyStories-656K.f16", "tinystories-656k-q8_0"),
                         [](const auto& p) {
                           std::string n = p.param;
                           for (char& ch : n) if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

}  // namespace
}  // namespace swarmkv::testing
