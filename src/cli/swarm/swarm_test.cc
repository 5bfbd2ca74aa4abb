#include <gtest/gtest.h>

#include "cli/swarm/agent_client.h"
#include "cli/swarm/agent_loop.h"
#include "cli/swarm/llama_server.h"
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

// A tokenizer with 2 characters per token: counts are exact and cheap.
int64_t TwoCharsPerToken(const std::string& t) { return static_cast<int64_t>(t.size() / 2); }

TEST(WorkloadTest, DistinctCodebasesDifferAndCodebaseZeroIsTheOldContext) {
  const std::string c0 = MakeSharedContext(3, 1000, TwoCharsPerToken, 0);
  const std::string c1 = MakeSharedContext(3, 1000, TwoCharsPerToken, 1);
  EXPECT_EQ(c0, MakeSharedContext(3, 1000, TwoCharsPerToken));
  EXPECT_NE(c0, c1);
  EXPECT_EQ(c1, MakeSharedContext(3, 1000, TwoCharsPerToken, 1));
  EXPECT_GT(TwoCharsPerToken(c1), 1000 - 200);
  EXPECT_LE(TwoCharsPerToken(c1), 1000);
}

TEST(WorkloadTest, ToolResultsAndAnswersHaveTheirTokenCounts) {
  for (int64_t target : {32, 512, 2000}) {
    const std::string tool = MakeToolResult(1, 2, 0, target, TwoCharsPerToken);
    EXPECT_LE(TwoCharsPerToken(tool), target);
    EXPECT_GT(TwoCharsPerToken(tool), target - 150) << "cut back by more than a line";
    EXPECT_EQ(tool.back(), '\n');
    EXPECT_EQ(tool.rfind("read_file returned src/", 0), 0u);
    const std::string answer = MakeAnswer(1, 2, 0, target, TwoCharsPerToken);
    EXPECT_LE(TwoCharsPerToken(answer), target);
    EXPECT_GT(TwoCharsPerToken(answer), target - 150);
    EXPECT_EQ(answer.back(), '\n');
  }
  // One piece per (agent, turn), the same every time.
  EXPECT_EQ(MakeToolResult(1, 2, 1, 300, nullptr), MakeToolResult(1, 2, 1, 300, nullptr));
  EXPECT_NE(MakeToolResult(1, 2, 1, 300, nullptr), MakeToolResult(1, 2, 2, 300, nullptr));
  EXPECT_NE(MakeToolResult(1, 2, 1, 300, nullptr), MakeToolResult(1, 3, 1, 300, nullptr));
  EXPECT_NE(MakeAnswer(1, 2, 1, 300, nullptr), MakeAnswer(1, 3, 1, 300, nullptr));
}

TEST(AgentLoopTest, AgentsSpreadOverTheCodebases) {
  std::vector<int> per_codebase(3);
  for (int i = 0; i < 10; ++i) ++per_codebase[static_cast<size_t>(CodebaseOfAgent(i, 3))];
  EXPECT_EQ(per_codebase, (std::vector<int>{4, 3, 3}));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(CodebaseOfAgent(i, 1), 0);
}

TEST(AgentLoopTest, EachTurnExtendsTheLastByAnAnswerAndAToolResult) {
  AgentScriptOptions o;
  o.turns = 4;
  o.tool_tokens = 300;
  o.answer_tokens = 100;
  auto context = std::make_shared<const std::string>(MakeSharedContext(1, 500, TwoCharsPerToken));
  const AgentScript s = MakeAgentScript(5, 0, context, o, TwoCharsPerToken);
  ASSERT_EQ(s.answers.size(), 3u);
  ASSERT_EQ(s.tool_results.size(), 3u);
  EXPECT_EQ(s.task, MakeAgentTask(o.seed, 5, o.suffix_tokens / 2));
  auto tokens = [](const std::vector<ChatMessage>& m) {
    int64_t n = 0;
    for (const auto& x : m) n += TwoCharsPerToken(x.content);
    return n;
  };
  std::vector<ChatMessage> last = ConversationAt(s, 0, s.answers);
  ASSERT_EQ(last.size(), 2u);
  EXPECT_EQ(last[0].role, "system");
  EXPECT_EQ(last[0].content, *context);
  EXPECT_EQ(last[1].role, "user");
  for (int t = 1; t < o.turns; ++t) {
    const std::vector<ChatMessage> m = ConversationAt(s, t, s.answers);
    ASSERT_EQ(m.size(), last.size() + 2) << "turn " << t;
    for (size_t k = 0; k < last.size(); ++k) EXPECT_EQ(m[k].content, last[k].content) << "history changed";
    EXPECT_EQ(m[m.size() - 2].role, "assistant");
    EXPECT_EQ(m.back().role, "tool");
    EXPECT_EQ(m.back().name, "read_file");
    const int64_t growth = tokens(m) - tokens(last);
    EXPECT_LE(growth, o.tool_tokens + o.answer_tokens);
    EXPECT_GT(growth, o.tool_tokens + o.answer_tokens - 300);
    last = m;
  }
  // The server's own answers replace the stand-ins.
  const std::vector<ChatMessage> own = ConversationAt(s, 2, {"first", "second"});
  EXPECT_EQ(own[2].content, "first");
  EXPECT_EQ(own[4].content, "second");
}

TEST(ReportTest, PercentilesInterpolateBetweenRanks) {
  EXPECT_EQ(Percentile({}, 50), 0);
  EXPECT_EQ(Percentile({7}, 95), 7);
  EXPECT_DOUBLE_EQ(Percentile({4, 1, 3, 2}, 50), 2.5);
  EXPECT_DOUBLE_EQ(Percentile({4, 1, 3, 2}, 0), 1);
  EXPECT_DOUBLE_EQ(Percentile({4, 1, 3, 2}, 100), 4);
  EXPECT_NEAR(Percentile({4, 1, 3, 2}, 95), 3.85, 1e-12);
  std::vector<double> hundred;
  for (int i = 1; i <= 101; ++i) hundred.push_back(i);
  EXPECT_DOUBLE_EQ(Percentile(hundred, 95), 96);
}

TEST(ReportTest, UnionLengthCountsOverlapsOnce) {
  EXPECT_EQ(UnionLength({}), 0);
  EXPECT_EQ(UnionLength({{0, 10}, {5, 15}}), 15);
  EXPECT_EQ(UnionLength({{0, 10}, {20, 25}}), 15);
  EXPECT_EQ(UnionLength({{0, 10}, {2, 3}, {10, 12}}), 12);
  EXPECT_EQ(UnionLength({{5, 5}, {7, 6}}), 0);
}

RequestRecord Req(int agent, int turn, int64_t prompt, int64_t cached, double first, double last, int64_t streamed) {
  RequestRecord r;
  r.agent = agent, r.turn = turn;
  r.prompt_tokens = prompt, r.cached_tokens = cached;
  r.completion_tokens = streamed, r.streamed_tokens = streamed;
  r.ttft_ms = first, r.first_token_at_ms = first, r.last_token_at_ms = last, r.end_ms = last;
  return r;
}

TEST(ReportTest, DecodeThroughputCountsConcurrentAgentsOnce) {
  ModeResult m;
  // Two agents decoding 11 tokens each over the same second: 20 tokens after their first in 1 s.
  m.requests = {Req(0, 0, 100, 0, 1000, 2000, 11), Req(1, 0, 100, 90, 1000, 2000, 11)};
  EXPECT_DOUBLE_EQ(m.DecodeTokensPerSecond(), 20);
  // One after the other: 20 tokens in 2 s.
  m.requests[1] = Req(1, 0, 100, 90, 3000, 4000, 11);
  EXPECT_DOUBLE_EQ(m.DecodeTokensPerSecond(), 10);
}

TEST(ReportTest, JsonAndSvgCarryTheNumbers) {
  ModeResult m;
  m.name = "shared";
  m.agents = 2;
  m.turns = 2;
  m.requests = {Req(0, 0, 1000, 0, 10.5, 100, 5), Req(1, 0, 1000, 960, 20.25, 100, 5),
                Req(0, 1, 1600, 1000, 5, 50, 5), Req(1, 1, 1634, 1000, 6, 50, 5)};
  m.itl_ms = {1, 2, 3};
  m.peak_kv_bytes = 3u << 20;
  auto j = m.ToJson();
  EXPECT_EQ(j["prompt_tokens"], 5234);
  EXPECT_EQ(j["prompt_tokens_computed"], 2274);
  EXPECT_EQ(j["prompt_tokens_reused"], 2960);
  ASSERT_EQ(j["ttft_ms"].size(), 4u);
  EXPECT_DOUBLE_EQ(j["ttft_ms_first_turn_max"].get<double>(), 20.25);
  EXPECT_DOUBLE_EQ(j["itl_ms_p50"].get<double>(), 2);
  ASSERT_EQ(j["per_turn"].size(), 2u);
  EXPECT_EQ(j["per_turn"][0]["prompt_tokens_computed"], 1040);
  EXPECT_EQ(j["per_turn"][1]["prompt_tokens"], 3234);
  EXPECT_EQ(j["per_turn"][1]["prompt_tokens_reused"], 2000);
  EXPECT_EQ(j["ttft_from"], "reuse");
  std::string svg = RenderSvg({m}, "title <x>");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("title &lt;x&gt;"), std::string::npos);
  EXPECT_NE(svg.find("decode tokens/s"), std::string::npos);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  std::string table = RenderTable({m});
  EXPECT_NE(table.find("shared"), std::string::npos);
  EXPECT_NE(table.find("2274"), std::string::npos);
}

// The server's engine step series, as server_metrics renders them, before and after a mode:
// decode-step throughput counts decode-only steps, never the mixed ones.
TEST(ReportTest, DecodeStepThroughputFromEngineStepMetrics) {
  const std::string before =
      "swarmkv_engine_steps_total{kind=\"decode\"} 10\n"
      "swarmkv_engine_steps_total{kind=\"mixed\"} 2\n"
      "swarmkv_engine_steps_total{kind=\"prefill\"} 3\n"
      "swarmkv_engine_step_rows_total{kind=\"decode\",row=\"decode\"} 10\n"
      "swarmkv_engine_step_rows_total{kind=\"decode\",row=\"prefill\"} 0\n"
      "swarmkv_engine_step_rows_total{kind=\"mixed\",row=\"decode\"} 2\n"
      "swarmkv_engine_step_rows_total{kind=\"mixed\",row=\"prefill\"} 900\n"
      "swarmkv_engine_step_seconds_total{kind=\"decode\"} 0.5\n"
      "swarmkv_engine_step_seconds_total{kind=\"mixed\"} 3\n";
  const std::string after =
      "swarmkv_engine_steps_total{kind=\"decode\"} 110\n"
      "swarmkv_engine_steps_total{kind=\"mixed\"} 12\n"
      "swarmkv_engine_step_rows_total{kind=\"decode\",row=\"decode\"} 1010\n"
      "swarmkv_engine_step_rows_total{kind=\"mixed\",row=\"decode\"} 52\n"
      "swarmkv_engine_step_rows_total{kind=\"mixed\",row=\"prefill\"} 5000\n"
      "swarmkv_engine_step_seconds_total{kind=\"decode\"} 10.5\n"
      "swarmkv_engine_step_seconds_total{kind=\"mixed\"} 23\n";
  ModeResult m;
  m.steps = StepsDelta(StepsFromMetrics(after), StepsFromMetrics(before));
  ASSERT_TRUE(m.steps.known);
  EXPECT_DOUBLE_EQ(m.steps.decode.steps, 100);
  EXPECT_DOUBLE_EQ(m.steps.decode.decode_rows, 1000);
  EXPECT_DOUBLE_EQ(m.steps.mixed.decode_rows, 50);
  EXPECT_DOUBLE_EQ(m.steps.mixed.prefill_rows, 4100);
  EXPECT_DOUBLE_EQ(m.steps.mixed.seconds, 20);
  EXPECT_DOUBLE_EQ(m.DecodeStepTokensPerSecond(), 100);  // 1000 rows in 10 s of decode-only steps
  const nlohmann::json j = m.ToJson();
  EXPECT_DOUBLE_EQ(j["decode_step_tokens_per_s"].get<double>(), 100);
  EXPECT_DOUBLE_EQ(j["engine_steps"]["decode"]["ms_per_step"].get<double>(), 100);
  EXPECT_NE(RenderTable({m}).find("100.0"), std::string::npos);
  // A server without the series (llama-server): unknown, not zero steps.
  ModeResult other;
  other.steps = StepsDelta(StepsFromMetrics("# nothing\n"), StepsFromMetrics(""));
  EXPECT_FALSE(other.steps.known);
  EXPECT_TRUE(other.ToJson()["engine_steps"].is_null());
}

TEST(LlamaServerTest, OneSlotPerAgentWithItsPromptCache) {
  LlamaServerSetup s;
  s.model_path = "/m.gguf";
  s.agents = 10;
  s.num_ctx = 12288;
  s.threads = 2;
  s.kv_type = "q8_0";
  s.extra_args = " -fa on  --poll 0 ";
  const std::vector<std::string> a = LlamaServerArgs(s);
  auto value = [&](const std::string& flag) {
    for (size_t i = 0; i + 1 < a.size(); ++i)
      if (a[i] == flag) return a[i + 1];
    return std::string("(absent)");
  };
  EXPECT_EQ(value("-m"), "/m.gguf");
  EXPECT_EQ(value("-np"), "10");
  EXPECT_EQ(value("-c"), "122880");  // num_ctx per slot
  EXPECT_EQ(value("--cache-reuse"), "256");
  EXPECT_EQ(value("-t"), "2");
  EXPECT_EQ(value("-tb"), "2");
  EXPECT_EQ(value("-ctk"), "q8_0");
  EXPECT_EQ(value("-ctv"), "q8_0");
  ASSERT_GE(a.size(), 4u);
  EXPECT_EQ(std::vector<std::string>(a.end() - 4, a.end()), (std::vector<std::string>{"-fa", "on", "--poll", "0"}));
}

TEST(LlamaServerTest, KvBytesPerDtype) {
  // SmolLM2-135M: 30 layers, K and V rows of 3 heads x 64.
  EXPECT_EQ(KvBytes(1000, 30, 384, "f16"), 1000ull * 30 * 384 * 2);
  EXPECT_EQ(KvBytes(1000, 30, 384, "q8_0"), 1000ull * 30 * 384 * 34 / 32);
  EXPECT_EQ(KvBytes(0, 30, 384, "f16"), 0u);
  EXPECT_EQ(SplitWords("a, b,,c ", ','), (std::vector<std::string>{"a", "b", "c"}));
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
