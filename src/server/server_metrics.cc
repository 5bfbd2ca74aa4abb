#include "server/server_metrics.h"

namespace swarmkv {

ServerMetrics::ServerMetrics() {
  auto latency = ExponentialBuckets(0.001, 2.0, 16);  // 1 ms .. 33 s
  requests_ = registry_.AddCounter("swarmkv_requests_total", "HTTP requests by route and status code",
                                   {"route", "code"});
  request_seconds_ = registry_.AddHistogram("swarmkv_request_duration_seconds", "HTTP request duration by route",
                                            latency, {"route"});
  prompt_computed_ = registry_.AddCounter("swarmkv_prompt_tokens_computed_total",
                                          "Prompt tokens prefilled by the engine (not found in cached KV)")->Get();
  prompt_reused_ = registry_.AddCounter("swarmkv_prompt_tokens_reused_total",
                                        "Prompt tokens served from cached KV in any tier")->Get();
  generated_ = registry_.AddCounter("swarmkv_generated_tokens_total", "Tokens generated")->Get();
  preemptions_ = registry_.AddCounter("swarmkv_preemptions_total",
                                      "Times generations were paused for KV memory and requeued (counted when they end)")->Get();
  preempt_recomputed_ = registry_.AddCounter("swarmkv_preempted_tokens_recomputed_total",
                                             "Tokens computed again after preemptions")->Get();
  generations_ = registry_.AddCounter("swarmkv_generations_total", "Finished generations by finish reason",
                                      {"finish_reason"});
  ttft_ = registry_.AddHistogram("swarmkv_time_to_first_token_seconds", "Submit to first streamed token",
                                 latency)->Get();
  itl_ = registry_.AddHistogram("swarmkv_inter_token_latency_seconds", "Time between streamed tokens",
                                ExponentialBuckets(0.0005, 2.0, 14))->Get();
  kv_bytes_ = registry_.AddGauge("swarmkv_kv_bytes", "KV bytes held by tier", {"tier"});
  kv_blocks_ = registry_.AddGauge("swarmkv_kv_blocks", "KV blocks held by tier", {"tier"});
  kv_budget_ = registry_.AddGauge("swarmkv_kv_budget_bytes", "RAM budget for KV blocks")->Get();
  kv_committed_ = registry_.AddGauge("swarmkv_kv_committed_bytes", "RAM committed to KV blocks")->Get();
  evictions_ = registry_.AddCounter("swarmkv_evictions_total", "KV blocks evicted from RAM by reason", {"reason"});
  prefix_hit_ = registry_.AddCounter("swarmkv_kv_prefix_tokens_hit_total",
                                     "Prefix tokens found in the KV cache (memory core's count)")->Get();
  prefix_computed_ = registry_.AddCounter("swarmkv_kv_prefix_tokens_computed_total",
                                          "Prefix tokens not found in the KV cache (memory core's count)")->Get();
  restored_tokens_ = registry_.AddCounter("swarmkv_kv_restored_tokens_total",
                                         "Prompt tokens whose KV was restored into RAM from a lower tier", {"tier"});
  tier_written_ = registry_.AddCounter("swarmkv_kv_tier_written_blocks_total",
                                      "Evicted KV blocks written back to a lower tier", {"tier"});
  tier_errors_ = registry_.AddCounter("swarmkv_kv_tier_errors_total",
                                     "Lower-tier problems: failed writes, reads while down, corrupt entries dropped, entries failing --kv-secret's MAC",
                                     {"tier", "kind"});
  tier_up_ = registry_.AddGauge("swarmkv_kv_tier_up", "1 while a lower tier is reachable", {"tier"});
  writeback_queue_blocks_ = registry_.AddGauge("swarmkv_kv_writeback_queue_blocks", "Blocks waiting for write-back")->Get();
  writeback_queue_bytes_ = registry_.AddGauge("swarmkv_kv_writeback_queue_bytes", "Bytes waiting for write-back")->Get();
  writeback_dropped_ = registry_.AddCounter("swarmkv_kv_writeback_dropped_total",
                                            "Evicted blocks not written back (queue full or shutdown deadline)")->Get();
  restore_recompute_ = registry_.AddCounter("swarmkv_kv_restore_recompute_chosen_total",
                                            "Restores skipped because recomputing was estimated cheaper")->Get();
  cold_blocks_ = registry_.AddGauge("swarmkv_kv_cold_blocks", "KV blocks of running sequences held only on disk (hot window, swapped out)")->Get();
  cold_written_ = registry_.AddCounter("swarmkv_kv_cold_blocks_written_total",
                                       "KV blocks moved to disk beyond the hot window or by a swap-out")->Get();
  cold_read_slices_ = registry_.AddCounter("swarmkv_kv_cold_read_slices_total",
                                           "Cold (block, layer) KV slices streamed from disk for attention")->Get();
  cold_read_bytes_ = registry_.AddCounter("swarmkv_kv_cold_read_bytes_total",
                                          "Cold KV bytes streamed from disk for attention")->Get();
  cold_errors_ = registry_.AddCounter("swarmkv_kv_cold_errors_total", "Cold KV file errors by kind", {"kind"});
  preempt_swapped_ = registry_.AddCounter("swarmkv_kv_preemptions_swapped_total",
                                          "Preemptions that kept the sequence's KV on disk instead of recomputing it")->Get();
  swap_failures_ = registry_.AddCounter("swarmkv_kv_swap_failures_total",
                                        "Swapped-out sequences recomputed because their KV could not be written or read back",
                                        {"kind"});
  models_loaded_ = registry_.AddGauge("swarmkv_models_loaded", "Models currently loaded")->Get();
  queue_rejections_ = registry_.AddCounter("swarmkv_queue_rejections_total",
                                           "Generation requests refused with 503 because the queue was full")->Get();
  pin_preloads_ = registry_.AddCounter("swarmkv_kv_pin_preloads_total",
                                       "KV pin preloads (prefill-only jobs) by result: done, cancelled, error",
                                       {"result"});
  engine_steps_ = registry_.AddCounter("swarmkv_engine_steps_total",
                                       "Engine steps by kind: decode (decode rows only), mixed, prefill (prompt rows only)",
                                       {"kind"});
  engine_step_rows_ = registry_.AddCounter("swarmkv_engine_step_rows_total",
                                           "Batch rows by step kind and row kind (decode: a one-token span that samples)",
                                           {"kind", "row"});
  engine_step_seconds_ = registry_.AddCounter("swarmkv_engine_step_seconds_total",
                                              "Time in engine steps by kind (forming, forward, sampling, streaming)",
                                              {"kind"});
  engine_forward_seconds_ = registry_.AddCounter("swarmkv_engine_forward_seconds_total",
                                                 "Time in the forward pass by step kind", {"kind"});
  // These series exist from the start so scrapers see zeros, not absent series.
  evictions_->WithLabels({"budget"});
  for (const char* tier : {"ram", "disk", "redis"}) {
    kv_bytes_->WithLabels({tier});
    kv_blocks_->WithLabels({tier});
  }
}

void ServerMetrics::OnRequest(const std::string& route, int http_status, double seconds) {
  requests_->WithLabels({route, std::to_string(http_status)})->Increment();
  request_seconds_->WithLabels({route})->Observe(seconds);
}

void ServerMetrics::OnFirstToken(double seconds_since_submit) { ttft_->Observe(seconds_since_submit); }
void ServerMetrics::OnInterToken(double seconds) { itl_->Observe(seconds); }
void ServerMetrics::OnQueueRejected() { queue_rejections_->Increment(); }

void ServerMetrics::OnGenerationFinished(const GenerationStats& stats) {
  int32_t reused = std::min(stats.prompt_tokens_reused, stats.prompt_tokens);
  prompt_reused_->Increment(reused);
  prompt_computed_->Increment(stats.prompt_tokens - reused);
  generated_->Increment(stats.generated_tokens);
  preemptions_->Increment(stats.preemptions);
  preempt_recomputed_->Increment(stats.tokens_recomputed);
  generations_->WithLabels({stats.finish_reason.empty() ? "unknown" : stats.finish_reason})->Increment();
}

void ServerMetrics::OnPreloadFinished(const GenerationStats& stats) {
  int32_t reused = std::min(stats.prompt_tokens_reused, stats.prompt_tokens);
  prompt_reused_->Increment(reused);
  prompt_computed_->Increment(stats.prompt_tokens - reused);
  const std::string& r = stats.finish_reason;
  pin_preloads_->WithLabels({r == "length" ? "done" : r == "cancelled" ? "cancelled" : "error"})->Increment();
}

void ServerMetrics::UpdateSteps(const StepTotals& steps) {
  const std::pair<const char*, const StepKindTotals*> kinds[] = {
      {"decode", &steps.decode}, {"mixed", &steps.mixed}, {"prefill", &steps.prefill}};
  for (const auto& [kind, k] : kinds) {
    engine_steps_->WithLabels({kind})->MirrorTotal(static_cast<double>(k->steps));
    engine_step_rows_->WithLabels({kind, "decode"})->MirrorTotal(static_cast<double>(k->decode_rows));
    engine_step_rows_->WithLabels({kind, "prefill"})->MirrorTotal(static_cast<double>(k->prefill_rows));
    engine_step_seconds_->WithLabels({kind})->MirrorTotal(static_cast<double>(k->step_ns) / 1e9);
    engine_forward_seconds_->WithLabels({kind})->MirrorTotal(static_cast<double>(k->forward_ns) / 1e9);
  }
}

void ServerMetrics::UpdateKv(const KvSnapshot& kv, int models_loaded) {
  std::map<std::string, std::pair<uint64_t, uint64_t>> by_tier = {{"ram", {0, 0}}, {"disk", {0, 0}}, {"redis", {0, 0}}};
  for (const auto& u : kv.usage) {
    auto& t = by_tier[u.tier];
    t.first += u.bytes;
    t.second += u.blocks;
  }
  for (const auto& [tier, v] : by_tier) {
    kv_bytes_->WithLabels({tier})->Set(static_cast<double>(v.first));
    kv_blocks_->WithLabels({tier})->Set(static_cast<double>(v.second));
  }
  kv_budget_->Set(static_cast<double>(kv.budget_bytes));
  kv_committed_->Set(static_cast<double>(kv.committed_bytes));
  for (const auto& [reason, n] : kv.evictions_by_reason) evictions_->WithLabels({reason})->MirrorTotal(static_cast<double>(n));
  prefix_hit_->MirrorTotal(static_cast<double>(kv.prefix_tokens_hit));
  prefix_computed_->MirrorTotal(static_cast<double>(kv.prefix_tokens_computed));
  for (const KvTierSnapshot& t : kv.tiers) {
    restored_tokens_->WithLabels({t.name})->MirrorTotal(static_cast<double>(t.restored_tokens));
    tier_written_->WithLabels({t.name})->MirrorTotal(static_cast<double>(t.written_blocks));
    tier_errors_->WithLabels({t.name, "write"})->MirrorTotal(static_cast<double>(t.write_failures));
    tier_errors_->WithLabels({t.name, "unavailable"})->MirrorTotal(static_cast<double>(t.unavailable));
    tier_errors_->WithLabels({t.name, "corrupt"})->MirrorTotal(static_cast<double>(t.corrupt_dropped));
    tier_errors_->WithLabels({t.name, "mac"})->MirrorTotal(static_cast<double>(t.mac_rejected));
    tier_up_->WithLabels({t.name})->Set(t.available ? 1 : 0);
  }
  writeback_queue_blocks_->Set(static_cast<double>(kv.writeback_queue_blocks));
  writeback_queue_bytes_->Set(static_cast<double>(kv.writeback_queue_bytes));
  writeback_dropped_->MirrorTotal(static_cast<double>(kv.writeback_dropped));
  restore_recompute_->MirrorTotal(static_cast<double>(kv.restores_skipped_for_recompute));
  cold_blocks_->Set(static_cast<double>(kv.cold.blocks_cold));
  cold_written_->MirrorTotal(static_cast<double>(kv.cold.blocks_written));
  cold_read_slices_->MirrorTotal(static_cast<double>(kv.cold.slices_read));
  cold_read_bytes_->MirrorTotal(static_cast<double>(kv.cold.bytes_read));
  cold_errors_->WithLabels({"read"})->MirrorTotal(static_cast<double>(kv.cold.read_errors));
  cold_errors_->WithLabels({"write"})->MirrorTotal(static_cast<double>(kv.cold.write_errors));
  preempt_swapped_->MirrorTotal(static_cast<double>(kv.cold.preemptions_swapped));
  swap_failures_->WithLabels({"write"})->MirrorTotal(static_cast<double>(kv.cold.swap_failures));
  swap_failures_->WithLabels({"read"})->MirrorTotal(static_cast<double>(kv.cold.swap_read_failures));
  models_loaded_->Set(models_loaded);
}

}  // namespace swarmkv
