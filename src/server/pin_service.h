// PinService: named KV pins that preload — "load the codebase once" — and survive restarts.
//
// A pin (model, name, prefix tokens, TTL) makes the prefix's KV resident and keeps it there:
//   1. validate (on the caller's thread): the model is leased (loaded if it was not), the prefix
//      fits the model's context and the KV budget (errors name both sizes);
//   2. the memory core pins the prefix's block identities (ServerBackend::Pin): blocks in RAM are
//      pinned now, blocks sealed or restored later are pinned from birth; the record is written
//      to the PinRegistry (a file beside the disk tier);
//   3. a background job (one worker thread, pins in arrival order) restores what the tiers hold
//      beyond RAM, then submits the prefix as a prefill-only generation (max_new_tokens 0,
//      GenerationRequest::background) through the ordinary engine path — one path for requests,
//      warm-ups and pins; agents that arrive meanwhile wait for its blocks (the scheduler's
//      prefix-aware admission) — and releases the model lease: the pin keeps the KV, not the
//      weights (keep_alive unloads them as usual; pinned blocks are evicted last, to the tiers).
// Nobody waiting on a job cancels it: a client that leaves does not undo its pin.
// At Start(), unexpired records of the registry are queued as jobs (restore, else recompute);
// records whose model is gone, or whose weights changed (digest or KV namespace), are dropped
// with a warning.
//
// Pins are named per model: the memory core's pin name is the model name and the pin name joined
// by a newline (names cannot contain control characters).
//
// Invariant: a registry record exists for every pin the service made and has not unpinned or
// seen expire; a job holds the lease of its model until it ends; jobs end before ~PinService
// returns (a running one is cancelled: its record stays, and the next start restores it).
// Thread-safety: all public methods thread-safe; PinJob's too.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "server/backend.h"
#include "server/model_manager.h"
#include "server/model_registry.h"
#include "server/pin_registry.h"
#include "server/server_metrics.h"

namespace swarmkv {

struct PinServiceOptions {
  PinRegistryOptions registry;       // path "" : pins are not persisted
  int64_t progress_interval_ms = 200;  // how often a running job samples its resident tokens
  // KV bytes all live pins may keep (whole blocks x block bytes): a pin past it is
  // ResourceExhausted. 0: max_pinned_budget_share of the KV budget.
  uint64_t max_pinned_bytes = 0;
  double max_pinned_budget_share = 0.5;
};

// What a finished pin did.
struct PinOutcome {
  std::string model, name;
  int64_t tokens = 0;    // the prefix
  int64_t reused = 0;    // already in RAM
  int64_t restored = 0;  // brought back from a lower tier
  int64_t computed = 0;  // prefilled by the job
  uint64_t bytes = 0;    // KV bytes the pin keeps resident
  int64_t expires_unix_ms = 0;  // 0: never
};

// One pin being made. Waiters observe it; it runs to its end whether or not anyone does.
class PinJob {
 public:
  struct State {
    std::string phase = "queued";  // queued, restoring, computing, success, error
    int64_t completed = 0;         // tokens resident so far
    int64_t total = 0;             // whole-block tokens the pin keeps
    bool done = false;
    Status status;                 // when done
    PinOutcome outcome;            // when done and ok
  };
  // Waits until the state's version differs from *version (or timeout_ms passes) and returns it;
  // *version is updated.
  State Wait(uint64_t* version, int64_t timeout_ms);
  State Snapshot() const;

 private:
  friend class PinService;
  void Update(const std::function<void(State*)>& change);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  State state_;
  uint64_t version_ = 1;
};

struct PinListing {
  PinRecord record;
  int64_t resident_tokens = 0;
  uint64_t bytes = 0;
  int64_t hits = 0;         // requests since pinned (or since this start) that began with it
  std::string phase;        // "resident", "partial", or a running job's phase
};

class PinService {
 public:
  PinService(PinServiceOptions options, const ModelRegistry* registry, ModelManager* models, ServerBackend* backend,
             ServerMetrics* metrics);
  ~PinService();
  PinService(const PinService&) = delete;
  PinService& operator=(const PinService&) = delete;

  // Opens the registry (a bad file is moved aside to <path>.bad with an error in the log, and the
  // service starts with no pins), starts the worker and queues the restore of unexpired pins.
  // Until Start, Pin() is Unavailable (no worker would run its job). Idempotent.
  void Start();
  // Cancels the running preload (its record stays: the next start restores it), fails queued ones
  // and stops the worker; waiters wake. Idempotent; the destructor calls it.
  void Stop();

  struct Spec {
    const ModelEntry* entry = nullptr;
    std::string name;
    std::vector<int32_t> tokens;
    int64_t ttl_ms = 3600 * 1000;  // < 0: never expires
  };
  // Validates and starts a pin (steps 1-2 above, then queues its job). Errors: InvalidArgument
  // (prefix longer than the context, or its KV larger than the budget: both sizes named; shorter
  // than one block), FailedPrecondition (a job for this pin with other tokens is running),
  // ResourceExhausted (the live pins' KV plus this one's would pass max_pinned_bytes), the
  // model's load error. A job for the same pin and tokens still running is returned as is.
  Result<std::shared_ptr<PinJob>> Pin(Spec spec);
  // `model` "" : the pin of that name on whichever model has one (InvalidArgument when several
  // do). NotFound when there is none. A running job of the pin is cancelled.
  Status Unpin(const std::string& model, const std::string& name);
  std::vector<PinListing> List();
  // A generation request's prompt on a model of KV namespace `namespace_id` (hex): counts a hit
  // for every pin of that namespace whose first block it starts with.
  void CountHit(const std::string& namespace_id, std::span<const int32_t> prompt);

  static std::string MemoryKey(const std::string& model, const std::string& name) { return model + "\n" + name; }
  static std::string DigestOf(const ModelEntry& entry);

 private:
  struct Job;
  struct Tracked {  // per pin key: what List and CountHit need beyond the record
    std::string namespace_id;
    int64_t block_tokens = 0;
    uint64_t bytes = 0;  // KV the pin keeps: its whole blocks x block bytes
    int64_t hits = 0;
    std::shared_ptr<const std::vector<int32_t>> tokens;
  };
  void WorkerLoop();
  void Run(Job* job);
  Status Prepare(Job* job);  // lease, sizes, memory pin, record
  void Enqueue(std::shared_ptr<Job> job);

  const PinServiceOptions options_;
  const ModelRegistry* registry_;
  ModelManager* models_;
  ServerBackend* backend_;
  ServerMetrics* metrics_;
  std::unique_ptr<PinRegistry> pins_;  // set by Start (in-memory until then)

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;      // guarded by mu_
  std::map<std::string, std::shared_ptr<Job>> jobs_;  // queued or running, by memory key
  std::map<std::string, Tracked> tracked_;      // by memory key
  bool stop_ = false;
  bool started_ = false;  // guarded by mu_
  std::thread worker_;    // set under mu_ by Start
};

}  // namespace swarmkv
