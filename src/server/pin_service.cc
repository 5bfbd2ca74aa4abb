#include "server/pin_service.h"

#include <algorithm>

#include "base/hash.h"
#include "base/logging.h"
#include "base/units.h"

namespace swarmkv {

// ---- PinJob

PinJob::State PinJob::Wait(uint64_t* version, int64_t timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return version_ != *version; });
  *version = version_;
  return state_;
}

PinJob::State PinJob::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

void PinJob::Update(const std::function<void(State*)>& change) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    change(&state_);
    ++version_;
  }
  cv_.notify_all();
}

// ---- PinService

struct PinService::Job {
  std::shared_ptr<PinJob> view = std::make_shared<PinJob>();
  std::string key;
  PinRecord record;
  const ModelEntry* entry = nullptr;
  int64_t ttl_ms = 0;           // for the memory pin (< 0 never)
  bool from_registry = false;   // restored at start-up: validated on the worker
  std::optional<ModelLease> lease;
  int64_t block_tokens = 0;
  std::atomic<bool> cancelled{false};
  std::atomic<RequestId> request{0};
};

namespace {

// Waits for a prefill-only generation's end. OnFinish runs on the engine thread and only records.
class FinishWaiter final : public GenerationObserver {
 public:
  bool OnToken(int32_t, std::string_view) override { return true; }  // none: max_new_tokens is 0
  void OnFinish(const Status& status, const GenerationStats& stats) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      status_ = status;
      stats_ = stats;
      done_ = true;
    }
    cv_.notify_all();
  }
  bool Wait(int64_t timeout_ms) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return done_; });
  }
  Status status() {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }
  GenerationStats stats() {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  Status status_;
  GenerationStats stats_;
};

std::optional<KvPinState> FindPinState(ServerBackend* backend, const std::string& key) {
  for (KvPinState& s : backend->PinStates())
    if (s.key == key) return s;
  return std::nullopt;
}

}  // namespace

std::string PinService::DigestOf(const ModelEntry& entry) {
  if (!entry.digest.empty()) return entry.digest;
  return "path:" + HashBytes(entry.weights_key).ToHex();
}

PinService::PinService(PinServiceOptions options, const ModelRegistry* registry, ModelManager* models,
                       ServerBackend* backend, ServerMetrics* metrics)
    : options_(std::move(options)), registry_(registry), models_(models), backend_(backend), metrics_(metrics) {
  PinRegistryOptions memory_only = options_.registry;
  memory_only.path.clear();
  pins_ = std::move(PinRegistry::Open(memory_only)).value();  // no file: cannot fail
}

PinService::~PinService() { Stop(); }

void PinService::Stop() {
  std::deque<std::shared_ptr<Job>> never_run;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    for (auto& [key, job] : jobs_) job->cancelled = true;
  }
  cv_.notify_all();
  std::thread worker;
  {
    std::lock_guard<std::mutex> lock(mu_);
    worker = std::move(worker_);
  }
  if (worker.joinable()) worker.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    never_run.swap(queue_);
    jobs_.clear();
  }
  // Jobs never started: their waiters learn the server is going away; their records stay.
  for (auto& job : never_run)
    job->view->Update([](PinJob::State* s) {
      s->done = true;
      s->phase = "error";
      s->status = UnavailableError("the server is shutting down; the pin is restored at the next start");
    });
}

void PinService::Start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_ || stop_) return;  // started already, or stopped for good
    started_ = true;
  }
  if (!options_.registry.path.empty()) {
    auto opened = PinRegistry::Open(options_.registry);
    if (!opened.ok()) {
      const std::string bad = options_.registry.path + ".bad";
      SKV_LOG(ERROR) << "KV pins: " << opened.status().ToString() << "; moved aside to " << bad
                     << ", starting with no pins";
      Env* env = options_.registry.env != nullptr ? options_.registry.env : Env::Default();
      env->RenameFile(options_.registry.path, bad).IgnoreError();
      PinRegistryOptions fresh = options_.registry;
      opened = PinRegistry::Open(fresh);
    }
    if (opened.ok()) pins_ = std::move(opened).value();
  }
  const int expired = pins_->DropExpired(NowUnixMs());
  if (expired > 0) SKV_LOG(INFO) << "KV pins: " << expired << " expired while the server was down";
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    worker_ = std::thread([this] { WorkerLoop(); });
  }
  int queued = 0;
  for (PinRecord& rec : pins_->List()) {
    const ModelEntry* entry = registry_->Find(rec.model);
    std::string why;
    if (entry == nullptr) why = "model '" + rec.model + "' is not served any more";
    else if (!rec.digest.empty() && rec.digest != DigestOf(*entry)) why = "model '" + rec.model + "' has other weights now";
    if (!why.empty()) {
      SKV_LOG(WARN) << "KV pin '" << rec.name << "' dropped: " << why;
      pins_->Remove(rec.model, rec.name).IgnoreError();
      continue;
    }
    auto job = std::make_shared<Job>();
    job->key = MemoryKey(rec.model, rec.name);
    job->entry = entry;
    job->from_registry = true;
    job->ttl_ms = rec.expires_unix_ms == 0 ? -1 : std::max<int64_t>(1, rec.expires_unix_ms - NowUnixMs());
    job->record = std::move(rec);
    Enqueue(std::move(job));
    ++queued;
  }
  if (queued > 0) SKV_LOG(INFO) << "KV pins: restoring " << queued << " pin(s) in the background";
}

void PinService::Enqueue(std::shared_ptr<Job> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stop_) {
      jobs_[job->key] = job;
      queue_.push_back(std::move(job));
    }
  }
  if (job != nullptr) {  // stopped meanwhile: the record stays for the next start
    job->view->Update([](PinJob::State* s) {
      s->done = true;
      s->phase = "error";
      s->status = UnavailableError("the server is shutting down; the pin is restored at the next start");
    });
    return;
  }
  cv_.notify_all();
}

Result<std::shared_ptr<PinJob>> PinService::Pin(Spec spec) {
  if (spec.entry == nullptr) return InvalidArgumentError("pin: no model");
  auto job = std::make_shared<Job>();
  job->key = MemoryKey(spec.entry->name, spec.name);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return UnavailableError("the server is shutting down");
    // No worker, no preload: a job queued now would never end (and its waiters never wake).
    if (!worker_.joinable()) return UnavailableError("KV pins are not being served yet (the pin service is not started)");
    auto it = jobs_.find(job->key);
    if (it != jobs_.end()) {
      // A client retrying the pin it asked for (or one that left) finds the job still at work.
      if (it->second->record.tokens == spec.tokens) return it->second->view;
      return FailedPreconditionError("KV pin '" + spec.name + "' of model '" + spec.entry->name +
                                     "' is being computed with another prefix; wait for it or unpin it first");
    }
  }
  job->entry = spec.entry;
  job->ttl_ms = spec.ttl_ms;
  job->record.model = spec.entry->name;
  job->record.name = std::move(spec.name);
  job->record.tokens = std::move(spec.tokens);
  job->record.created_unix_ms = NowUnixMs();
  job->record.expires_unix_ms = spec.ttl_ms < 0 ? 0 : job->record.created_unix_ms + spec.ttl_ms;
  SKV_RETURN_IF_ERROR(Prepare(job.get()));
  std::shared_ptr<PinJob> view = job->view;
  Enqueue(std::move(job));
  return view;
}

Status PinService::Prepare(Job* job) {
  const PinRecord& rec = job->record;
  SKV_ASSIGN_OR_RETURN(ModelLease lease, models_->Acquire(*job->entry, std::nullopt));
  const LoadedModel& model = lease.model();
  if (job->from_registry && !rec.namespace_id.empty() && rec.namespace_id != model.info().namespace_id)
    return FailedPreconditionError("model '" + rec.model + "' has another KV namespace now (its weights or KV settings changed)");
  const int64_t n = static_cast<int64_t>(rec.tokens.size());
  const int64_t ctx = model.info().context_length;
  if (ctx > 0 && n > ctx)
    return InvalidArgumentError("the prefix to pin is " + std::to_string(n) + " tokens but the context of model '" +
                                rec.model + "' is " + std::to_string(ctx) + " tokens");
  SKV_ASSIGN_OR_RETURN(KvPrefixState kv, backend_->PrefixState(model, rec.tokens));
  if (kv.block_tokens <= 0) return InternalError("pin: the backend reports no KV block size");
  if (!kv.prefix_cache)
    return FailedPreconditionError("this server runs with --no-prefix-cache: no request would reuse a pinned prefix");
  if (n < kv.block_tokens)
    return InvalidArgumentError("the prefix to pin is " + std::to_string(n) + " tokens, shorter than one KV block (" +
                                std::to_string(kv.block_tokens) + " tokens): a pin keeps whole blocks only");
  const uint64_t blocks = static_cast<uint64_t>((n + kv.block_tokens - 1) / kv.block_tokens);
  const uint64_t need = blocks * kv.block_bytes;
  if (kv.budget_bytes > 0 && need > kv.budget_bytes)
    return InvalidArgumentError("KV pin '" + rec.name + "' needs " + FormatBytes(need) + " of KV (" +
                                std::to_string(n) + " tokens in " + std::to_string(blocks) + " blocks of " +
                                FormatBytes(kv.block_bytes) + ") but the KV budget (--kv-memory) is " +
                                FormatBytes(kv.budget_bytes));
  // The pinned-bytes cap, counted over the live pins (this one replaces its own name's share).
  const uint64_t cap = options_.max_pinned_bytes > 0
                           ? options_.max_pinned_bytes
                           : static_cast<uint64_t>(static_cast<double>(kv.budget_bytes) * options_.max_pinned_budget_share);
  const uint64_t keeps = static_cast<uint64_t>(n / kv.block_tokens) * kv.block_bytes;
  if (cap > 0) {
    pins_->DropExpired(NowUnixMs());
    const std::vector<PinRecord> live = pins_->List();
    uint64_t pinned = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const PinRecord& r : live) {
        const std::string key = MemoryKey(r.model, r.name);
        if (key == job->key) continue;
        if (auto it = tracked_.find(key); it != tracked_.end()) pinned += it->second.bytes;
      }
    }
    if (pinned + keeps > cap)
      return ResourceExhaustedError("KV pin '" + rec.name + "' would keep " + FormatBytes(keeps) + " of KV, and the live pins keep " +
                                    FormatBytes(pinned) + ": more than the " + FormatBytes(cap) +
                                    " pins may hold (--max-pinned-bytes; default half of --kv-memory); unpin some or let them expire");
  }
  SKV_RETURN_IF_ERROR(backend_->Pin(model, job->key, rec.tokens, job->ttl_ms));
  job->record.namespace_id = model.info().namespace_id;
  job->record.digest = DigestOf(*job->entry);
  Status put = pins_->Put(job->record);
  if (put.code() == StatusCode::kIOError) {
    SKV_LOG(WARN) << "KV pin '" << rec.name << "' holds, but will not survive a restart: " << put.ToString();
  } else if (!put.ok()) {
    backend_->Unpin(job->key).IgnoreError();
    return put;
  }
  job->block_tokens = kv.block_tokens;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Tracked& t = tracked_[job->key];
    t.namespace_id = job->record.namespace_id;
    t.block_tokens = kv.block_tokens;
    t.bytes = keeps;
    t.tokens = std::make_shared<const std::vector<int32_t>>(job->record.tokens);
    if (!job->from_registry) t.hits = 0;  // hits since pinned (a replaced pin starts again)
  }
  job->view->Update([&](PinJob::State* s) { s->total = n / kv.block_tokens * kv.block_tokens; });
  job->lease = std::move(lease);
  return Status::OK();
}

void PinService::WorkerLoop() {
  while (true) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    Run(job.get());
    job->lease.reset();  // here, never on an engine thread: keep_alive 0 unloads at once
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(job->key);
    if (it != jobs_.end() && it->second == job) jobs_.erase(it);
  }
}

void PinService::Run(Job* job) {
  auto fail = [&](const Status& s) {
    SKV_LOG(WARN) << "KV pin '" << job->record.name << "' of model '" << job->record.model << "': " << s.ToString();
    job->view->Update([&](PinJob::State* st) {
      st->done = true;
      st->phase = "error";
      st->status = s;
    });
  };
  if (job->cancelled) return fail(CancelledError("unpinned before its preload ran"));
  if (job->from_registry) {
    Status s = Prepare(job);
    if (!s.ok()) {
      // The record cannot be made good on this server (model gone or changed, budget too small).
      if (s.code() != StatusCode::kUnavailable) pins_->Remove(job->record.model, job->record.name).IgnoreError();
      return fail(s.WithContext("restoring the pin at start-up"));
    }
  }
  const LoadedModel& model = job->lease->model();
  const PinRecord& rec = job->record;
  job->view->Update([](PinJob::State* s) { s->phase = "restoring"; });
  const int64_t restored = backend_->RestorePrefix(model, rec.tokens);
  job->view->Update([&](PinJob::State* s) {
    s->phase = "computing";
    auto st = backend_->PrefixState(model, rec.tokens);
    if (st.ok()) s->completed = std::min(s->total, st->resident_tokens);
  });

  GenerationRequest g;
  g.model = job->entry->weights_path;
  g.prompt_tokens = rec.tokens;
  g.max_new_tokens = 0;
  g.background = true;
  g.num_ctx = model.info().context_length;
  g.client_id = "pin:" + rec.name;
  g.sampling.has_seed = true;  // nothing is sampled
  auto waiter = std::make_shared<FinishWaiter>();
  auto id = backend_->generation()->Submit(std::move(g), waiter);
  if (!id.ok()) return fail(id.status());
  job->request = *id;
  bool cancel_sent = false;
  while (!waiter->Wait(options_.progress_interval_ms)) {
    if (job->cancelled && !cancel_sent) {
      backend_->generation()->Cancel(*id);
      cancel_sent = true;
    }
    if (auto st = FindPinState(backend_, job->key))
      job->view->Update([&](PinJob::State* s) { s->completed = std::min(s->total, st->resident_tokens); });
  }
  const GenerationStats stats = waiter->stats();
  if (metrics_ != nullptr) metrics_->OnPreloadFinished(stats);
  if (!waiter->status().ok()) return fail(waiter->status());
  if (stats.finish_reason == "cancelled")
    return fail(CancelledError(stop_ ? "the server stopped before the pin was computed; it is restored at the next start"
                                     : "unpinned while its preload ran"));
  PinOutcome out;
  out.model = rec.model;
  out.name = rec.name;
  out.tokens = static_cast<int64_t>(rec.tokens.size());
  out.restored = std::min<int64_t>(restored, stats.prompt_tokens_reused);
  out.reused = stats.prompt_tokens_reused - out.restored;
  out.computed = stats.prompt_tokens - stats.prompt_tokens_reused;
  out.expires_unix_ms = rec.expires_unix_ms;
  auto st = FindPinState(backend_, job->key);
  if (st) out.bytes = st->resident_bytes;
  SKV_LOG(INFO) << "KV pin '" << rec.name << "' of model '" << rec.model << "': " << out.tokens << " tokens ("
                << out.reused << " in RAM, " << out.restored << " restored, " << out.computed << " computed), "
                << FormatBytes(out.bytes) << " resident";
  job->view->Update([&](PinJob::State* s) {
    s->done = true;
    s->phase = "success";
    if (st) s->completed = std::min(s->total, st->resident_tokens);
    s->outcome = out;
  });
}

Status PinService::Unpin(const std::string& model, const std::string& name) {
  std::string m = model;
  if (m.empty()) {
    std::vector<std::string> models;
    for (const PinRecord& r : pins_->List())
      if (r.name == name) models.push_back(r.model);
    if (models.empty()) return NotFoundError("no KV pin named '" + name + "'");
    if (models.size() > 1) {
      std::string list;
      for (const auto& x : models) list += (list.empty() ? "'" : ", '") + x + "'";
      return InvalidArgumentError("KV pin '" + name + "' exists on several models (" + list + "): give 'model'");
    }
    m = models[0];
  }
  const std::string key = MemoryKey(m, name);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(key);
    if (it != jobs_.end()) {
      it->second->cancelled = true;
      if (RequestId id = it->second->request.load(); id != 0) backend_->generation()->Cancel(id);
    }
    tracked_.erase(key);
  }
  Status removed = pins_->Remove(m, name);
  Status unpinned = backend_->Unpin(key);  // NotFound when the memory core's TTL ran out first
  if (removed.code() == StatusCode::kNotFound && !unpinned.ok())
    return NotFoundError("no KV pin named '" + name + "' on model '" + m + "'");
  if (!removed.ok() && removed.code() != StatusCode::kNotFound) return removed;
  return Status::OK();
}

std::vector<PinListing> PinService::List() {
  pins_->DropExpired(NowUnixMs());
  std::map<std::string, KvPinState> states;
  for (KvPinState& s : backend_->PinStates()) states[s.key] = s;
  std::vector<PinListing> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (PinRecord& r : pins_->List()) {
    PinListing l;
    const std::string key = MemoryKey(r.model, r.name);
    if (auto it = states.find(key); it != states.end()) {
      l.resident_tokens = it->second.resident_tokens;
      l.bytes = it->second.resident_bytes;
    }
    if (auto it = tracked_.find(key); it != tracked_.end()) l.hits = it->second.hits;
    auto job = jobs_.find(key);
    const PinJob::State st = job != jobs_.end() ? job->second->view->Snapshot() : PinJob::State{};
    if (job != jobs_.end() && !st.done) {
      l.phase = st.phase;
    } else {
      const int64_t whole = tracked_.count(key) && tracked_[key].block_tokens > 0
                                ? static_cast<int64_t>(r.tokens.size()) / tracked_[key].block_tokens * tracked_[key].block_tokens
                                : static_cast<int64_t>(r.tokens.size());
      l.phase = l.resident_tokens >= whole ? "resident" : "partial";
    }
    l.record = std::move(r);
    out.push_back(std::move(l));
  }
  return out;
}

void PinService::CountHit(const std::string& namespace_id, std::span<const int32_t> prompt) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [key, t] : tracked_) {
    if (t.namespace_id != namespace_id || t.block_tokens <= 0 || !t.tokens) continue;
    const size_t block = static_cast<size_t>(t.block_tokens);
    if (prompt.size() <= block || t.tokens->size() < block) continue;  // a hit reuses a whole block
    if (std::equal(t.tokens->begin(), t.tokens->begin() + static_cast<ptrdiff_t>(block), prompt.begin())) ++t.hits;
  }
}

}  // namespace swarmkv
