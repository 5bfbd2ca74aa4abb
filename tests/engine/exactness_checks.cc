#include "exactness_checks.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "reference_cases.h"

namespace swarmkv::testing {

bool SameBytes(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

namespace {

}  // namespace

void ExpectLogitsIdenticalAcrossChunkingBatchingAndCache(EngineFixture& f, const std::vector<int32_t>& prompt) {
  // (a) one chunk.
  auto seq_a = f.memory->CreateSequence(f.ns);
  ASSERT_TRUE(seq_a.ok());
  auto a = f.Feed(*seq_a, prompt, 1000);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_EQ(a->size(), static_cast<size_t>(f.vocab()));

  // (b) chunks of 1, 7, 64.
  for (int64_t chunk : {1, 7, 64}) {
    auto seq = f.memory->CreateSequence(f.ns);
    ASSERT_TRUE(seq.ok());
    auto b = f.Feed(*seq, prompt, chunk);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    EXPECT_TRUE(SameBytes(*a, *b)) << "chunk " << chunk;
    ASSERT_TRUE(f.memory->Release(*seq).ok());
  }

  // (c) batched: every step also carries a decode row of another sequence and a prefill chunk
  // of a third, at unrelated positions.
  {
    auto x = f.memory->CreateSequence(f.ns), y = f.memory->CreateSequence(f.ns), z = f.memory->CreateSequence(f.ns);
    ASSERT_TRUE(x.ok() && y.ok() && z.ok());
    std::vector<int32_t> other(prompt.rbegin(), prompt.rend());
    ASSERT_TRUE(f.Feed(*y, std::span<const int32_t>(other).first(40), 40).ok());
    StepBatch batch;
    StepOutput out;
    int64_t px = 0, py = 40, pz = 0;
    std::vector<float> c_logits;
    for (int64_t i = 0; i < static_cast<int64_t>(prompt.size()); i += 9) {
      const int64_t n = std::min<int64_t>(9, prompt.size() - i);
      batch.Clear();
      batch.Add(*y, py, std::span<const int32_t>(other).subspan(py % 60, 1), true);
      batch.Add(*x, px, std::span<const int32_t>(prompt).subspan(i, n), i + n == static_cast<int64_t>(prompt.size()));
      batch.Add(*z, pz, std::span<const int32_t>(other).subspan(0, 3), true);
      auto st = f.forward->Run(batch, &out);
      ASSERT_TRUE(st.ok()) << st.ToString();
      px += n;
      py += 1;
      pz += 3;
      if (i + n == static_cast<int64_t>(prompt.size())) {
        c_logits.assign(out.Row(1).begin(), out.Row(1).end());
      }
    }
    EXPECT_TRUE(SameBytes(*a, c_logits)) << "batched with other sequences";
    for (auto s : {*x, *y, *z}) ASSERT_TRUE(f.memory->Release(s).ok());
  }

  // (d) prefix from the cache: release (a), then a new sequence attaches the cached prefix.
  ASSERT_TRUE(f.memory->Release(*seq_a).ok());
  auto seq_d = f.memory->CreateSequence(f.ns);
  ASSERT_TRUE(seq_d.ok());
  auto match = f.memory->AttachPrefix(*seq_d, std::span<const int32_t>(prompt).first(prompt.size() - 1));
  ASSERT_TRUE(match.ok()) << match.status().ToString();
  EXPECT_GE(match->matched_tokens, 64) << "the prefix should come from the cache";
  // Hybrid models continue from the checkpoint of the last matched block.
  ASSERT_TRUE(f.forward->SetRecurrentState(*seq_d, match->recurrent_state).ok());
  auto d = f.Feed(*seq_d, std::span<const int32_t>(prompt).subspan(match->matched_tokens), 1000);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_TRUE(SameBytes(*a, *d)) << "with " << match->matched_tokens << " prefix tokens from the cache";
  ASSERT_TRUE(f.memory->Release(*seq_d).ok());
  EXPECT_TRUE(f.memory->CheckInvariants().ok());
}

double ExpectTeacherForcedWithin(const std::string& model_path, const std::string& ref_path, double tolerance,
                                 const std::string& label, int64_t context_length) {
  auto ref = LoadReferenceFile(ref_path);
  EXPECT_TRUE(ref.ok()) << ref.status().ToString();
  if (!ref.ok()) return -1;
  auto fx = EngineFixture::Load(model_path, TensorType::kF16, 64ull << 20, context_length);
  EXPECT_TRUE(fx.ok()) << fx.status().ToString();
  if (!fx.ok()) return -1;
  EngineFixture& f = **fx;
  ParityOptions options;
  options.tolerance = tolerance;
  double worst = 0.0;
  int failed_steps = 0, steps = 0;
  std::string first_failure;
  for (const ReferenceCase& c : ref->cases) {
    auto seq = f.memory->CreateSequence(f.ns);
    EXPECT_TRUE(seq.ok());
    if (!seq.ok()) return -1;
    auto logits = f.Feed(*seq, c.prompt_tokens, 512);
    EXPECT_TRUE(logits.ok()) << logits.status().ToString();
    if (!logits.ok()) return -1;
    for (size_t i = 0; i < c.tokens.size(); ++i) {
      ++steps;
      worst = std::max(worst, MaxLogProbDiff(c.top_logprobs[i], *logits));
      Status st = CheckStep(c.top_logprobs[i], *logits, static_cast<int>(i), options);
      if (!st.ok() && failed_steps++ == 0) first_failure = "prompt '" + c.prompt + "': " + st.ToString();
      if (i + 1 < c.tokens.size()) {
        logits = f.Feed(*seq, std::span<const int32_t>(&c.tokens[i], 1), 1);
        EXPECT_TRUE(logits.ok()) << logits.status().ToString();
        if (!logits.ok()) return -1;
      }
    }
    EXPECT_TRUE(f.memory->Release(*seq).ok());
  }
  ::testing::Test::RecordProperty("max_logprob_diff", std::to_string(worst));
  std::printf("[ parity ] %s vs %s: %d steps, max |log-prob diff| %.3g, %d steps over %.3g\n", label.c_str(),
              ref_path.c_str(), steps, worst, failed_steps, tolerance);
  EXPECT_EQ(failed_steps, 0) << "first: " << first_failure;
  return worst;
}

std::string ParamName(const std::string& name) {
  std::string n = name;
  for (char& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
}

}  // namespace swarmkv::testing
