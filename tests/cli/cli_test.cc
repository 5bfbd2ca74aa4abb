// The swarmkv binary from a shell: usage errors exit 2 with a message, --help exits 0 for every
// subcommand, bad files are a clear error (exit 1), and the built-in synthetic model generates.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "base/testing.h"

namespace swarmkv {
namespace {

using Outcome = testing::ShellResult;

// The swarmkv binary with `args`; its stderr too unless `with_stderr` is false.
Outcome Sh(const std::string& args, bool with_stderr = true) {
  return testing::RunShell(testing::ShellQuote(SWARMKV_BIN) + " " + args + (with_stderr ? " 2>&1" : " 2>/dev/null"));
}

TEST(CliTest, UsageErrorsExitTwoWithAMessage) {
  Outcome none = Sh("");
  EXPECT_EQ(none.exit_code, 2) << none.out;
  EXPECT_NE(none.out.find("subcommand is required"), std::string::npos) << none.out;
  Outcome unknown = Sh("--bogus");
  EXPECT_EQ(unknown.exit_code, 2) << unknown.out;
  Outcome range = Sh("serve --port abc");
  EXPECT_EQ(range.exit_code, 2) << range.out;
  EXPECT_NE(range.out.find("--port"), std::string::npos) << range.out;
}

TEST(CliTest, EverySubcommandHasHelp) {
  for (const char* sub : {"serve", "swarm-bench", "run", "bench", "make-model", "inspect", "tokenize", "detokenize",
                          "version", "list", "ps", "show", "stop"}) {
    Outcome h = Sh(std::string(sub) + " --help");
    EXPECT_EQ(h.exit_code, 0) << sub << ": " << h.out;
    EXPECT_NE(h.out.find("Usage"), std::string::npos) << sub << ": " << h.out;
  }
}

TEST(CliTest, MissingOrMalformedModelIsAClearErrorNotACrash) {
  const std::string dir = testing::TempDir();
  Outcome missing = Sh("inspect '" + dir + "/nope.gguf'");
  EXPECT_EQ(missing.exit_code, 1) << missing.out;
  EXPECT_NE(missing.out.find("nope.gguf"), std::string::npos) << missing.out;
  FILE* f = fopen((dir + "/bad.gguf").c_str(), "wb");
  ASSERT_NE(f, nullptr);
  fputs("GGUF\x03garbage", f);
  fclose(f);
  Outcome bad = Sh("run -m '" + dir + "/bad.gguf' -p hi -n 2");
  EXPECT_EQ(bad.exit_code, 1) << bad.out;
  EXPECT_EQ(bad.out.find("Segmentation"), std::string::npos) << bad.out;
}

// make-model --arch writes the family's real shape (cut by --layers); a shape of another family
// is a usage error; every family's tiny shape generates in-process.
TEST(CliTest, MakeModelArchAndLayers) {
  const std::string dir = testing::TempDir();
  Outcome meta = Sh("make-model --arch phi3 --shape tiny -o '" + dir + "/x.gguf'");
  EXPECT_EQ(meta.exit_code, 2) << meta.out;
  EXPECT_NE(meta.out.find("is llama, not phi3"), std::string::npos) << meta.out;
  Outcome cut = Sh("make-model --arch qwen3 --layers 1 --type q8_0 -o '" + dir + "/q.gguf'");  // tiny-qwen3
  ASSERT_EQ(cut.exit_code, 0) << cut.out;
  EXPECT_NE(cut.out.find("tiny-qwen3, 1 layers"), std::string::npos) << cut.out;
  // --experts cuts a MoE shape's expert count (not below its top-k; not on a dense shape).
  Outcome moe = Sh("make-model --shape tiny-qwen3moe --experts 4 --layers 1 --type q8_0 -o '" + dir + "/m.gguf'");
  ASSERT_EQ(moe.exit_code, 0) << moe.out;
  EXPECT_NE(moe.out.find("tiny-qwen3moe, 1 layers, 4 experts"), std::string::npos) << moe.out;
  Outcome below = Sh("make-model --shape tiny-qwen3moe --experts 1 -o '" + dir + "/m1.gguf'");
  EXPECT_EQ(below.exit_code, 2) << below.out;
  EXPECT_NE(below.out.find("below the shape's 2 experts used per token"), std::string::npos) << below.out;
  EXPECT_EQ(Sh("make-model --shape tiny --experts 8 -o '" + dir + "/d.gguf'").exit_code, 2);
  for (const char* shape : {"tiny-granite", "tiny-olmo2", "tiny-phi3", "tiny-gemma2", "tiny-gemma3", "tiny-qwen3moe"}) {
    const std::string model = dir + "/" + shape + ".gguf";
    ASSERT_EQ(Sh(std::string("make-model --shape ") + shape + " --type q8_0 -o '" + model + "'").exit_code, 0) << shape;
    Outcome run = Sh("run -m '" + model + "' -p 'Once upon a time' -n 6 --temperature 0", /*with_stderr=*/false);
    EXPECT_EQ(run.exit_code, 0) << shape << ": " << run.out;
  }
}

TEST(CliTest, BuiltInModelGeneratesReproducibly) {
  const std::string model = testing::TempDir() + "/tiny.gguf";
  Outcome make = Sh("make-model --shape tiny --type q8_0 --seed 3 -o '" + model + "'");
  ASSERT_EQ(make.exit_code, 0) << make.out;
  const std::string gen = "run -m '" + model + "' -p 'Once upon a time' -n 12 --temperature 0.8 --seed 5";
  Outcome a = Sh(gen, /*with_stderr=*/false);  // stderr has timings; stdout only the text
  Outcome b = Sh(gen, false);
  ASSERT_EQ(a.exit_code, 0) << a.out;
  EXPECT_GT(a.out.size(), 1u) << "no text generated";
  EXPECT_EQ(a.out, b.out) << "a seeded generation must repeat exactly";
  std::string other = gen;
  other.replace(other.find("--seed 5"), 8, "--seed 6");
  EXPECT_NE(Sh(other, false).out, a.out) << "the seed must matter at temperature 0.8";
}

}  // namespace
}  // namespace swarmkv
