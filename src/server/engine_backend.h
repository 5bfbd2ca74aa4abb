// EngineBackend: the real ServerBackend — every model's weights, tokenizer, runner and scheduler
// over ONE KvMemory (one budget for all models, as DESIGN.md asks).
//
// Load(path) builds Model + Tokenizer + LlamaRunner (registering the model's KV namespace in the
// shared memory) + a Scheduler (continuous batching for that model). generation() is a
// dispatcher: GenerationRequest::model (the weights path) picks the model's scheduler; request
// ids are the dispatcher's own, so two schedulers' ids never collide.
//
// KV tiers (server/kv_tiers.h): blocks evicted from the memory are written back to disk / shared
// dir / Redis; Submit restores a prompt's blocks from them before the scheduler admits it; the
// destructor flushes RAM's cached blocks to them (bounded by --kv-shutdown-flush).
// --no-prefix-cache turns prefix matching off in the memory and opens no tiers.
// All models compute on ONE thread pool of --threads threads: two busy models take turns per
// parallel region instead of running 2x the cores' threads against each other.
//
// Invariant: a model's scheduler is destroyed (its engine thread joined) before its runner, the
// runner before the model; the KvMemory outlives every runner and the tiers. An unloaded model's
// cached KV blocks stay in the memory (evictable, then in the tiers) under its namespace.
//
// Thread-safety: all methods thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>

#include "server/backend.h"
#include "server/backend_factory.h"

namespace swarmkv {

class KvMemory;
class KvTiers;
class ThreadPool;
class EngineModel;
class MemorySignal;
struct RetiredColdCounters;

class EngineBackend final : public ServerBackend, public GenerationService {
 public:
  static Result<std::unique_ptr<EngineBackend>> Create(const BackendOptions& options);
  ~EngineBackend() override;

  Result<std::shared_ptr<LoadedModel>> Load(const std::string& weights_path) override;
  GenerationService* generation() override { return this; }
  KvSnapshot Kv() override;
  Status Pin(const LoadedModel& model, const std::string& name, const std::vector<int32_t>& tokens,
             int64_t ttl_ms) override;
  Status Unpin(const std::string& name) override;
  Result<KvPrefixState> PrefixState(const LoadedModel& model, std::span<const int32_t> tokens) override;
  int64_t RestorePrefix(const LoadedModel& model, std::span<const int32_t> tokens) override;
  std::vector<KvPinState> PinStates() override;
  std::string PinRegistryPath() const override;
  std::vector<QueuedRequestInfo> Queue() override;
  StepTotals EngineSteps() override;

  Result<RequestId> Submit(GenerationRequest request, std::shared_ptr<GenerationObserver> observer) override;
  void Cancel(RequestId id) override;

 private:
  class FinishObserver;
  explicit EngineBackend(const BackendOptions& options);
  void Forget(FinishObserver* observer);

  const BackendOptions options_;
  std::unique_ptr<KvMemory> memory_;
  std::unique_ptr<KvTiers> tiers_;  // after memory_: destroyed (and flushed) first; null without tiers
  std::shared_ptr<ThreadPool> pool_;  // shared with every model (a model may outlive the backend)
  // Every model's scheduler notifies it when it frees KV memory; the others' waiting queues wake.
  std::shared_ptr<MemorySignal> memory_signal_;
  // Cold/preemption counters of unloaded models, so /metrics totals never go down.
  std::shared_ptr<RetiredColdCounters> retired_cold_;

  std::mutex mu_;
  std::map<std::string, std::weak_ptr<EngineModel>> models_;  // by weights path
  struct Route {
    std::weak_ptr<EngineModel> model;
    RequestId local_id = 0;
  };
  std::map<RequestId, Route> routes_;
  RequestId next_id_ = 1;
};

}  // namespace swarmkv
