// `swarmkv swarm-bench` end to end on the built-in tiny model: two agents in a two-turn loop
// against a real `swarmkv serve` child over loopback HTTP. Turn 2 re-sends each agent's history
// plus its answer and a tool result, so most of its prompt must come from the prefix cache.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "base/testing.h"

namespace swarmkv {
namespace {

using Outcome = testing::ShellResult;

// The swarmkv binary with `args`, stdout and stderr.
Outcome Sh(const std::string& args) { return testing::RunShell(testing::ShellQuote(SWARMKV_BIN) + " " + args + " 2>&1"); }

TEST(SwarmBenchE2eTest, SecondTurnReusesTheAgentsHistory) {
  const std::string dir = testing::TempDir();
  const std::string model = dir + "/tiny.gguf";
  Outcome make = Sh("make-model --shape tiny --type q8_0 --seed 1 -o '" + model + "'");
  ASSERT_EQ(make.exit_code, 0) << make.out;
  Outcome run = Sh("swarm-bench --model '" + model +
                   "' --agents 2 --prefix-tokens 256 --turns 2 -n 8 --tool-tokens 48 --modes shared --threads 1 "
                   "--kv-memory 64MiB --out '" + dir + "/out'");
  ASSERT_EQ(run.exit_code, 0) << run.out;
  std::ifstream f(dir + "/out/swarm-bench.json");
  std::stringstream text;
  text << f.rdbuf();
  const nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << text.str();
  const nlohmann::json& shared = j["shared"];
  EXPECT_TRUE(shared["errors"].empty()) << shared["errors"];
  EXPECT_EQ(shared["requests"], 4);
  EXPECT_EQ(shared["generated_tokens"], 2 * 2 * 8);
  ASSERT_EQ(shared["per_turn"].size(), 2u);
  const nlohmann::json& t1 = shared["per_turn"][0];
  const nlohmann::json& t2 = shared["per_turn"][1];
  // Turn 2's prompt is turn 1's plus an answer (8 tokens) and a tool result (<= 48) per agent.
  EXPECT_GT(t2["prompt_tokens"].get<int64_t>(), t1["prompt_tokens"].get<int64_t>() + 2 * 40);
  EXPECT_LT(t2["prompt_tokens_computed"].get<int64_t>(), t2["prompt_tokens"].get<int64_t>());
  // Each agent reuses its own turn-1 prompt but for at most a partial block (32 tokens) or so.
  EXPECT_GE(t2["prompt_tokens_reused"].get<int64_t>(), t1["prompt_tokens"].get<int64_t>() - 2 * 64);
  EXPECT_GT(shared["itl_ms_p50"].get<double>(), 0);
  EXPECT_GT(shared["decode_tokens_per_s"].get<double>(), 0);
}

TEST(SwarmBenchE2eTest, BadModesAreUsageErrors) {
  Outcome unknown = Sh("swarm-bench --modes shared,bogus");
  EXPECT_EQ(unknown.exit_code, 2) << unknown.out;
  EXPECT_NE(unknown.out.find("bogus"), std::string::npos) << unknown.out;
  Outcome llama = Sh("swarm-bench --modes llama_server");
  EXPECT_EQ(llama.exit_code, 2) << llama.out;
  EXPECT_NE(llama.out.find("--llama-server"), std::string::npos) << llama.out;
  Outcome prefixes = Sh("swarm-bench --agents 2 --distinct-prefixes 3");
  EXPECT_EQ(prefixes.exit_code, 2) << prefixes.out;
}

}  // namespace
}  // namespace swarmkv
