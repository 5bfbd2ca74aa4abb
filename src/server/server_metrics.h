// The server's metrics: the one place where swarmkv's Prometheus series are defined and updated.
//
// HTTP handlers and the generation stream report events here (a request finished, a token was
// streamed, a generation ended); the KV gauges are refreshed from a KvSnapshot when /metrics is
// scraped. Nothing below the server knows about metrics: the engine reports GenerationStats, the
// memory core its stats struct, and this class turns them into series.
//
// Series (all prefixed swarmkv_): requests_total{route,code}, prompt_tokens_computed_total,
// prompt_tokens_reused_total, generated_tokens_total, generations_total{finish_reason},
// time_to_first_token_seconds, inter_token_latency_seconds, request_duration_seconds{route},
// kv_bytes{tier}, kv_blocks{tier}, kv_budget_bytes, kv_committed_bytes,
// evictions_total{reason}, kv_prefix_tokens_hit_total/computed_total (memory core's view),
// models_loaded, queue_rejections_total, kv_pin_preloads_total{result}; tiers below RAM: kv_restored_tokens_total{tier},
// kv_tier_written_blocks_total{tier}, kv_tier_errors_total{tier,kind=write|unavailable|corrupt},
// kv_tier_up{tier}, kv_writeback_queue_blocks, kv_writeback_queue_bytes,
// kv_writeback_dropped_total, kv_restore_recompute_chosen_total; preemptions_total and
// preempted_tokens_recomputed_total (counted when the preempted generation ends); context beyond
// RAM (engine/cold_kv.h): kv_cold_blocks, kv_cold_blocks_written_total, kv_cold_read_slices_total,
// kv_cold_read_bytes_total (streamed from disk for attention), kv_cold_errors_total{kind=read|write},
// kv_preemptions_swapped_total, kv_swap_failures_total{kind=write|read}.
//
// Thread-safety: all methods thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "engine/generation.h"
#include "server/backend.h"
#include "server/metrics.h"

namespace swarmkv {

class ServerMetrics {
 public:
  ServerMetrics();

  void OnRequest(const std::string& route, int http_status, double seconds);
  void OnFirstToken(double seconds_since_submit);
  void OnInterToken(double seconds);
  void OnGenerationFinished(const GenerationStats& stats);
  // A pin's preload (a prefill-only job): its prompt tokens count as computed/reused like any
  // request's, and swarmkv_kv_pin_preloads_total{result} counts it.
  void OnPreloadFinished(const GenerationStats& stats);
  void OnQueueRejected();
  // Sets the KV gauges from the memory core's snapshot (called at scrape time).
  void UpdateKv(const KvSnapshot& kv, int models_loaded);
  // Mirrors the engines' step totals (called at scrape time): swarmkv_engine_steps_total{kind},
  // swarmkv_engine_step_rows_total{kind,row}, swarmkv_engine_step_seconds_total{kind},
  // swarmkv_engine_forward_seconds_total{kind}; kind decode|mixed|prefill, row decode|prefill.
  void UpdateSteps(const StepTotals& steps);
  std::string Render() const { return registry_.RenderPrometheus(); }
  MetricsRegistry& registry() { return registry_; }

 private:
  MetricsRegistry registry_;
  MetricsRegistry::Family<Counter>* requests_;
  MetricsRegistry::Family<Histogram>* request_seconds_;
  Counter* prompt_computed_;
  Counter* prompt_reused_;
  Counter* generated_;
  Counter* preemptions_;
  Counter* preempt_recomputed_;
  MetricsRegistry::Family<Counter>* generations_;
  Histogram* ttft_;
  Histogram* itl_;
  MetricsRegistry::Family<Gauge>* kv_bytes_;
  MetricsRegistry::Family<Gauge>* kv_blocks_;
  Gauge* kv_budget_;
  Gauge* kv_committed_;
  MetricsRegistry::Family<Counter>* evictions_;  // mirrors the memory core's totals
  Counter* prefix_hit_;
  Counter* prefix_computed_;
  MetricsRegistry::Family<Counter>* restored_tokens_;
  MetricsRegistry::Family<Counter>* tier_written_;
  MetricsRegistry::Family<Counter>* tier_errors_;
  MetricsRegistry::Family<Gauge>* tier_up_;
  Gauge* writeback_queue_blocks_;
  Gauge* writeback_queue_bytes_;
  Counter* writeback_dropped_;
  Counter* restore_recompute_;
  Gauge* cold_blocks_;
  Counter* cold_written_;
  Counter* cold_read_slices_;
  Counter* cold_read_bytes_;
  MetricsRegistry::Family<Counter>* cold_errors_;
  Counter* preempt_swapped_;
  MetricsRegistry::Family<Counter>* swap_failures_;
  Gauge* models_loaded_;
  Counter* queue_rejections_;
  MetricsRegistry::Family<Counter>* pin_preloads_;
  MetricsRegistry::Family<Counter>* engine_steps_;
  MetricsRegistry::Family<Counter>* engine_step_rows_;
  MetricsRegistry::Family<Counter>* engine_step_seconds_;
  MetricsRegistry::Family<Counter>* engine_forward_seconds_;
};

}  // namespace swarmkv
