#include <gtest/gtest.h>

#include "cli/swarm/agent_client.h"
#include "cli/swarm/report.h"
#include "cli/swarm/server_process.h"
#include "cli/swarm/workload.h"

namespace swarmkv::cli {
namespace {

TEST(WorkloadTest, DeterministicForASeedAndEndsWithNewline) {
  std::string a = MakeSharedContext(7, 2000, nullptr);
  std::string b = MakeSharedContext(7, 2000, nullptr);
  std::string c = MakeSharedContext(8, 2000, nullptr);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a.back(), '\n');
  EXPECT_GE(a.size(), 2000u * 3);  // ~3.5 characters per estimated token
  EXPECT_LE(a.size() / 3.5, 2000);  // cut back to the target
}

TEST(WorkloadTest, MeetsTheTokenTargetWithinALine) {
  int calls = 0;
  auto count = [&](const std::string& t) -> int64_t {
    ++calls;
    return static_cast<int64_t>(t.size() / 2);  // a tokenizer with 2 characters per token
  };
  std::string text = MakeSharedContext(1, 5000, count);
  EXPECT_LE(static_cast<int64_t>(text.size() / 2), 5000);
  EXPECT_GT(static_cast<int64_t>(text.size() / 2), 5000 - 200) << "cut back by more than a line";
  EXPECT_EQ(text.back(), '\n');
  EXPECT_LE(calls, 40);
}

TEST(WorkloadTest, TasksDifferPerAgent) {
  std::string t0 = MakeAgentTask(1, 0, 20), t1 = MakeAgentTask(1, 1, 20);
  EXPECT_NE(t0, t1);
  EXPECT_EQ(t0, MakeAgentTask(1, 0, 20));
  EXPECT_EQ(t0.rfind("Agent 1: ", 0), 0u);
}

TEST(PrometheusTest, SumsMatchingSeriesOnly) {
  std::string text =
      "# HELP swarmkv_kv_bytes KV bytes by tier\n"
      "# TYPE swarmkv_kv_bytes gauge\n"
      "swarmkv_kv_bytes{tier=\"ram\",model=\"a\"} 100\n"
      "swarmkv_kv_bytes{tier=\"ram\",model=\"b\"} 50\n"
      "swarmkv_kv_bytes{tier=\"disk\"} 7\n"
      "swarmkv_kv_bytes_peak 999\n"
      "swarmkv_prompt_tokens_reused_total 12\n";
  EXPECT_EQ(PrometheusValue(text, "swarmkv_kv_bytes", "tier=\"ram\""), 150);
  EXPECT_EQ(PrometheusValue(text, "swarmkv_kv_bytes"), 157);
  EXPECT_EQ(PrometheusValue(text, "swarmkv_prompt_tokens_reused_total"), 12);
  EXPECT_EQ(PrometheusValue(text, "swarmkv_absent"), 0);
}

TEST(ReportTest, JsonAndSvgCarryTheNumbers) {
  ModeResult m;
  m.name = "shared";
  m.agents = 2;
  m.prompt_tokens_computed = 1234;
  m.prompt_tokens_reused = 4321;
  m.ttft_ms = {10.5, 20.25};
  m.peak_kv_bytes = 3u << 20;
  auto j = m.ToJson();
  EXPECT_EQ(j["prompt_tokens_computed"], 1234);
  EXPECT_EQ(j["prompt_tokens_reused"], 4321);
  ASSERT_EQ(j["ttft_ms"].size(), 2u);
  EXPECT_DOUBLE_EQ(j["ttft_ms_total"].get<double>(), 30.75);
  std::string svg = RenderSvg({m}, "title <x>");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("title &lt;x&gt;"), std::string::npos);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  std::string table = RenderTable({m});
  EXPECT_NE(table.find("shared"), std::string::npos);
  EXPECT_NE(table.find("1234"), std::string::npos);
}

TEST(ServerProcessTest, FreePortIsLoopbackUsable) {
  int port = PickFreeLoopbackPort();
  EXPECT_GT(port, 0);
  // Nothing listens there: a GET fails cleanly with Unavailable instead of hanging.
  auto r = HttpGet(port, "/api/version");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace swarmkv::cli
