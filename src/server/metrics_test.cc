#include "server/metrics.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "server/server_metrics.h"

namespace swarmkv {
namespace {

TEST(MetricsTest, RendersCountersGaugesAndHistogramsInPrometheusText) {
  MetricsRegistry reg;
  auto* c = reg.AddCounter("x_total", "Things", {"kind"});
  c->WithLabels({"a"})->Increment(2);
  c->WithLabels({"b\"q"})->Increment();
  c->WithLabels({"a"})->Increment(-5);  // ignored: counters only go up
  reg.AddGauge("g", "A gauge")->Get()->Set(1.5);
  auto* h = reg.AddHistogram("lat_seconds", "Latency", {0.1, 1.0})->Get();
  h->Observe(0.05);
  h->Observe(0.1);  // le is inclusive
  h->Observe(3);
  EXPECT_EQ(reg.RenderPrometheus(),
            "# HELP x_total Things\n# TYPE x_total counter\n"
            "x_total{kind=\"a\"} 2\n"
            "x_total{kind=\"b\\\"q\"} 1\n"
            "# HELP g A gauge\n# TYPE g gauge\ng 1.5\n"
            "# HELP lat_seconds Latency\n# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{le=\"0.1\"} 2\n"
            "lat_seconds_bucket{le=\"1\"} 2\n"
            "lat_seconds_bucket{le=\"+Inf\"} 3\n"
            "lat_seconds_sum 3.15\n"
            "lat_seconds_count 3\n");
}

TEST(MetricsTest, SameDefinitionReturnsSameFamily) {
  MetricsRegistry reg;
  auto* a = reg.AddCounter("c", "h", {"l"});
  auto* b = reg.AddCounter("c", "h", {"l"});
  EXPECT_EQ(a, b);
  EXPECT_EQ(a->WithLabels({"v"}), b->WithLabels({"v"}));
}

TEST(MetricsTest, MirrorTotalNeverGoesDown) {
  Counter c;
  c.MirrorTotal(10);
  c.MirrorTotal(4);
  EXPECT_EQ(c.value(), 10);
  c.MirrorTotal(12);
  EXPECT_EQ(c.value(), 12);
}

TEST(MetricsTest, ConcurrentIncrementsAreAllCounted) {
  MetricsRegistry reg;
  auto* fam = reg.AddCounter("n_total", "n", {"t"});
  auto* hist = reg.AddHistogram("h", "h", {1.0})->Get();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) {
        fam->WithLabels({std::to_string(t % 2)})->Increment();
        hist->Observe(0.5);
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(fam->WithLabels({"0"})->value() + fam->WithLabels({"1"})->value(), 40000);
  EXPECT_EQ(hist->Read().count, 40000u);
}

TEST(ServerMetricsTest, ExposesTheRequiredSeries) {
  ServerMetrics m;
  GenerationStats s;
  s.prompt_tokens = 100;
  s.prompt_tokens_reused = 64;
  s.generated_tokens = 7;
  s.finish_reason = "length";
  s.preemptions = 2;
  s.tokens_recomputed = 40;
  m.OnGenerationFinished(s);
  KvSnapshot kv;
  kv.usage.push_back({"m", "ns", "ram", 3, 3000});
  kv.usage.push_back({"m", "ns", "disk", 2, 1000});
  kv.evictions_by_reason = {{"budget", 5}, {"ttl", 1}};
  m.UpdateKv(kv, 1);
  std::string text = m.Render();
  for (const char* want : {"swarmkv_prompt_tokens_computed_total 36\n", "swarmkv_prompt_tokens_reused_total 64\n",
                           "swarmkv_generated_tokens_total 7\n", "swarmkv_preemptions_total 2\n",
                           "swarmkv_preempted_tokens_recomputed_total 40\n", "swarmkv_kv_bytes{tier=\"ram\"} 3000\n",
                           "swarmkv_kv_bytes{tier=\"disk\"} 1000\n", "swarmkv_kv_bytes{tier=\"redis\"} 0\n",
                           "swarmkv_evictions_total{reason=\"budget\"} 5\n", "swarmkv_evictions_total{reason=\"ttl\"} 1\n",
                           "swarmkv_generations_total{finish_reason=\"length\"} 1\n", "swarmkv_models_loaded 1\n",
                           "# TYPE swarmkv_time_to_first_token_seconds histogram\n",
                           "# TYPE swarmkv_inter_token_latency_seconds histogram\n"})
    EXPECT_NE(text.find(want), std::string::npos) << want << " missing from:\n" << text;
}

// The engine's step totals become counters by step kind, in the label order swarm-bench reads.
TEST(ServerMetricsTest, EngineStepSeriesByKind) {
  ServerMetrics m;
  StepTotals t;
  t.decode = {.steps = 4, .decode_rows = 40, .prefill_rows = 0, .forward_ns = 1500000000, .step_ns = 2000000000};
  t.mixed = {.steps = 1, .decode_rows = 3, .prefill_rows = 509, .forward_ns = 900000000, .step_ns = 1000000000};
  m.UpdateSteps(t);
  const std::string text = m.Render();
  for (const char* want : {"swarmkv_engine_steps_total{kind=\"decode\"} 4\n",
                           "swarmkv_engine_steps_total{kind=\"mixed\"} 1\n",
                           "swarmkv_engine_steps_total{kind=\"prefill\"} 0\n",
                           "swarmkv_engine_step_rows_total{kind=\"decode\",row=\"decode\"} 40\n",
                           "swarmkv_engine_step_rows_total{kind=\"mixed\",row=\"prefill\"} 509\n",
                           "swarmkv_engine_step_seconds_total{kind=\"decode\"} 2\n",
                           "swarmkv_engine_forward_seconds_total{kind=\"mixed\"} 0.9\n"})
    EXPECT_NE(text.find(want), std::string::npos) << want << " missing from:\n" << text;
}

}  // namespace
}  // namespace swarmkv
