#include "server/engine_backend.h"

#include <cstdio>
#include <filesystem>

#include "base/env.h"
#include "base/logging.h"
#include "base/sysinfo.h"
#include "base/thread_pool.h"
#include "base/units.h"
#include "engine/memory_signal.h"
#include "engine/model_runner.h"
#include "engine/scheduler.h"
#include "gguf/tensor_type.h"
#include "memory/kv_memory.h"
#include "model/model.h"
#include "server/kv_tiers.h"
#include "tiers/disk_backend.h"
#include "tiers/memory_bridge.h"
#include "structured/token_mask.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace swarmkv {

struct RetiredColdCounters {
  std::mutex mu;
  KvColdSnapshot totals;  // guarded by mu
};

namespace {

// One model's cold-KV and preemption counters now.
KvColdSnapshot ColdCounters(const LlamaRunner& runner, const Scheduler::Counters& sc) {
  KvColdSnapshot c;
  if (const ColdKv* cold = runner.cold_kv()) {
    const ColdKvStats st = cold->stats();
    c.blocks_cold = static_cast<uint64_t>(st.blocks_cold);
    c.blocks_written = static_cast<uint64_t>(st.blocks_written);
    c.blocks_exported = static_cast<uint64_t>(st.blocks_exported);
    c.write_errors = static_cast<uint64_t>(st.write_errors);
    c.slices_read = static_cast<uint64_t>(st.stream.slices_read);
    c.bytes_read = static_cast<uint64_t>(st.stream.bytes_read);
    c.read_errors = static_cast<uint64_t>(st.stream.read_errors);
  }
  c.preemptions = static_cast<uint64_t>(sc.preemptions);
  c.preemptions_swapped = static_cast<uint64_t>(sc.preemptions_swapped);
  c.swap_failures = static_cast<uint64_t>(sc.swap_failures);
  c.swap_read_failures = static_cast<uint64_t>(sc.swap_read_failures);
  return c;
}

}  // namespace

// One loaded model. Members are declared so that destruction runs scheduler, runner, pool,
// tokenizer, model — the engine thread stops before anything it reads goes away.
class EngineModel final : public LoadedModel {
 public:
  std::shared_ptr<const Model> model;
  std::shared_ptr<const Tokenizer> tokenizer;
  std::shared_ptr<ThreadPool> pool;  // the backend's one pool
  std::shared_ptr<LlamaRunner> runner;
  std::unique_ptr<Scheduler> scheduler;
  ChatTemplate chat_template;
  LoadedModelInfo model_info;
  std::shared_ptr<RetiredColdCounters> retired;  // receives this model's counters when it goes

  ~EngineModel() override {
    Scheduler::Counters last;
    if (scheduler != nullptr) last = scheduler->counters();
    scheduler.reset();  // its sequences are released: the runner's cold counters are final
    if (runner != nullptr && retired != nullptr) {
      const KvColdSnapshot c = ColdCounters(*runner, last);
      std::lock_guard<std::mutex> lock(retired->mu);
      retired->totals += c;
    }
    runner.reset();
    pool.reset();
  }
  const LoadedModelInfo& info() const override { return model_info; }
  Result<std::vector<int32_t>> Tokenize(std::string_view text, bool add_special) const override {
    EncodeOptions eo;
    eo.add_special = add_special;
    eo.parse_special = true;  // the rendered chat template contains control tokens
    return tokenizer->Encode(text, eo);
  }
  Result<std::string> RenderChat(const std::vector<ApiChatMessage>& messages, const std::string& template_text,
                                 bool required) const override {
    std::vector<ChatMessage> m;
    for (const auto& a : messages) m.push_back({a.role, a.content});
    const std::span<const ChatMessage> span(m.data(), m.size());
    if (!template_text.empty()) {
      Result<ChatTemplate> t = ChatTemplate::Parse(template_text);
      if (t.ok()) return t->Render(span, /*add_generation_prompt=*/true);
      if (required) return t.status();
    }
    return chat_template.Render(span, /*add_generation_prompt=*/true);
  }
  Result<std::string> RenderChatWith(const std::vector<ApiChatMessage>& messages, const ChatRenderOptions& options,
                                     const std::string& template_text, bool required) const override {
    ChatRenderInput in;
    for (const auto& a : messages) {
      nlohmann::ordered_json m = {{"role", a.role}, {"content", a.content}};
      if (!a.tool_calls.empty()) {
        nlohmann::ordered_json calls = nlohmann::ordered_json::array();
        for (const auto& c : a.tool_calls) {
          nlohmann::ordered_json call = {{"type", "function"}, {"function", {{"name", c.name}, {"arguments", c.arguments}}}};
          if (!c.id.empty()) call["id"] = c.id;
          calls.push_back(std::move(call));
        }
        m["tool_calls"] = std::move(calls);
      }
      if (!a.tool_call_id.empty()) m["tool_call_id"] = a.tool_call_id;
      if (!a.tool_name.empty()) m["name"] = a.tool_name;
      if (!a.thinking.empty()) m["reasoning_content"] = a.thinking;
      if (!a.thinking.empty() && SpeaksHarmony()) m["thinking"] = a.thinking;  // gpt-oss's template reads it
      in.messages.push_back(std::move(m));
    }
    in.tools = options.tools;
    in.extra = options.extra;
    in.add_generation_prompt = true;
    if (!template_text.empty()) {
      Result<ChatTemplate> t = ChatTemplate::Parse(template_text, &tokenizer->vocab());
      if (t.ok()) return t->RenderJson(in);
      if (required) return t.status();
    }
    return chat_template.RenderJson(in);
  }
  bool RendersTools() const override {
    return chat_template.is_jinja() && tokenizer->vocab().chat_template().find("tools") != std::string::npos;
  }
  bool Thinks() const override {
    const std::string& t = tokenizer->vocab().chat_template();
    return SpeaksHarmony() || (chat_template.is_jinja() && (t.find("enable_thinking") != std::string::npos ||
                                                            t.find("<think>") != std::string::npos));
  }
  bool SpeaksHarmony() const override {
    return chat_template.is_jinja() && tokenizer->vocab().chat_template().find("<|channel|>") != std::string::npos &&
           tokenizer->vocab().Find("<|message|>") >= 0;
  }
  Result<std::shared_ptr<TokenConstraint>> MakeConstraint(const std::string& key,
                                                          const std::function<Result<JsonGrammar>()>& make) const override {
    std::call_once(constraints_once_, [this] {
      // The vocabulary's token bytes, once per loaded model (~0.1 s for 150k tokens).
      // The model's logit rows may be longer than the tokenizer's vocabulary (padding): those
      // ids get no bytes, so the mask never allows them, and it covers every logit.
      const int32_t n = tokenizer->vocab().size();
      std::vector<std::string> pieces(static_cast<size_t>(std::max(n, runner->vocab_size())));
      for (int32_t t = 0; t < n; ++t) {
        Result<std::string> p = tokenizer->TokenToPiece(t);
        if (p.ok()) pieces[static_cast<size_t>(t)] = std::move(p).value();
      }
      constraints_ = std::make_unique<ConstraintCache>(TokenTrie::Build(std::move(pieces), tokenizer->vocab().eog_tokens()));
    });
    SKV_ASSIGN_OR_RETURN(std::shared_ptr<GrammarMasks> masks, constraints_->Get(key, make));
    return std::shared_ptr<TokenConstraint>(std::make_shared<JsonConstraint>(std::move(masks)));
  }
  std::string TokenText(int32_t token) const override {
    Result<std::string> p = tokenizer->TokenToPiece(token, /*render_special=*/true);
    return p.ok() ? *p : std::string();
  }

 private:
  mutable std::once_flag constraints_once_;
  mutable std::unique_ptr<ConstraintCache> constraints_;  // built by the first constrained request
};

// Forwards the engine's callbacks and drops the dispatcher's route when the request ends.
class EngineBackend::FinishObserver final : public GenerationObserver {
 public:
  FinishObserver(EngineBackend* backend, std::shared_ptr<GenerationObserver> inner)
      : backend_(backend), inner_(std::move(inner)) {}
  void set_id(RequestId id) { id_ = id; }
  bool OnToken(int32_t token, std::string_view text) override { return inner_->OnToken(token, text); }
  void OnLogprobs(const TokenLogprobs& logprobs) override { inner_->OnLogprobs(logprobs); }
  void OnFinish(const Status& status, const GenerationStats& stats) override {
    // A prefill-only request (a pin's preload, num_predict 0) that ran to its end measured one too.
    if (backend_->tiers_ != nullptr && (stats.generated_tokens > 0 || (status.ok() && stats.finish_reason == "length")))
      backend_->tiers_->OnPrefillMeasured(stats.prompt_tokens - stats.prompt_tokens_reused, stats.prefill_ns);
    inner_->OnFinish(status, stats);
    backend_->Forget(this);
  }
  RequestId id() const { return id_.load(); }

 private:
  EngineBackend* backend_;
  std::shared_ptr<GenerationObserver> inner_;
  std::atomic<RequestId> id_{0};
};

namespace {
Result<TensorType> KvTypeFromName(const std::string& name) {
  if (name == "f16") return TensorType::kF16;
  if (name == "bf16") return TensorType::kBF16;
  if (name == "q8_0") return TensorType::kQ8_0;
  if (name == "q4_0") return TensorType::kQ4_0;
  return InvalidArgumentError("--kv-type '" + name + "': expected f16, bf16, q8_0 or q4_0");
}
}  // namespace

EngineBackend::EngineBackend(const BackendOptions& options)
    : options_(options),
      memory_signal_(std::make_shared<MemorySignal>()),
      retired_cold_(std::make_shared<RetiredColdCounters>()) {}

EngineBackend::~EngineBackend() {
  // Models are owned by leases (ModelManager); by now they are gone, so their sequences are
  // released: the tiers flush RAM's cached blocks, then memory_ can go.
  tiers_.reset();
}

Result<std::unique_ptr<EngineBackend>> EngineBackend::Create(const BackendOptions& options) {
  SKV_RETURN_IF_ERROR(KvTypeFromName(options.kv_type).status());
  SKV_ASSIGN_OR_RETURN(uint64_t budget, ParseByteSize(options.kv_memory, TotalRamBytes()));
  std::unique_ptr<EngineBackend> b(new EngineBackend(options));
  // The process-wide pool (model fingerprinting uses it too) when it can have --threads threads;
  // otherwise one of our own. Never both idle pools' threads plus per-model ones.
  if (ThreadPool::SetDefaultThreads(options.threads)) {
    b->pool_ = std::shared_ptr<ThreadPool>(&ThreadPool::Default(), [](ThreadPool*) {});  // lives forever
  } else {
    b->pool_ = std::make_shared<ThreadPool>(options.threads);
  }
  KvMemoryOptions mo;
  mo.budget_bytes = budget;
  mo.prefix_matching = options.prefix_cache;
  SKV_ASSIGN_OR_RETURN(b->memory_, KvMemory::Create(mo));
  if (options.prefix_cache) {
    SKV_ASSIGN_OR_RETURN(b->tiers_, KvTiers::Open(options, b->memory_.get()));
  } else {
    SKV_LOG(INFO) << "--no-prefix-cache: no prompt prefix is reused; the KV tiers are not opened";
  }
  return b;
}

Result<std::shared_ptr<LoadedModel>> EngineBackend::Load(const std::string& weights_path) {
  auto m = std::make_shared<EngineModel>();
  SKV_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, Model::Load(weights_path));
  m->model = std::move(model);
  SKV_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tok, Tokenizer::Load(weights_path));
  m->tokenizer = std::move(tok);
  m->pool = pool_;
  LlamaRunnerOptions ro;
  SKV_ASSIGN_OR_RETURN(ro.kv_type, KvTypeFromName(options_.kv_type));
  ro.block_tokens = options_.block_tokens;
  ro.pool = m->pool.get();
  ro.kv_hot_window_tokens = options_.kv_hot_window;
  ro.checkpoint_interval_blocks = options_.kv_checkpoint_interval;
  {
    // Cold blocks beyond the hot window, and preempted sequences swapped out (with or without a
    // window: the scheduler's cost model chooses swap or recompute), live here.
    const std::string& d = options_.tiers.disk_dir;
    ro.cold_dir = d == "off" ? JoinPath(std::filesystem::temp_directory_path().string(), "swarmkv-cold")
                             : JoinPath(d.empty() ? DefaultDiskTierDir() : d, "cold");
  }
  // Blocks that go cold also become ordinary tier entries (queued like evicted blocks), so a
  // sequence's context beyond RAM survives a restart.
  if (tiers_ != nullptr) ro.export_cold_block = tiers_->WriteHook();
  SKV_ASSIGN_OR_RETURN(std::unique_ptr<LlamaRunner> runner, LlamaRunner::Create(m->model, m->tokenizer, memory_.get(), ro));
  m->runner = std::move(runner);
  SchedulerOptions so;
  so.memory_signal = memory_signal_;
  // Waiting for another request to compute a shared prefix only pays when prefixes are reused.
  if (!options_.prefix_cache) so.prefix_wait_min_tokens = 0;
  // A preempted request resumes from the tiers what was evicted while it was paused (on the engine
  // thread, once per pause, only when its KV fits again; a failed restore means recompute).
  if (tiers_ != nullptr) {
    KvTiers* tiers = tiers_.get();
    const Hash128 ns = m->runner->namespace_id();
    so.before_resume = [tiers, ns](std::span<const int32_t> tokens) { tiers->BeforeAdmission(ns, tokens); };
  }
  SKV_ASSIGN_OR_RETURN(m->scheduler, Scheduler::Create(m->runner, so));
  const ModelHParams& h = m->model->hparams();
  m->chat_template = ChatTemplate::ForVocab(m->tokenizer->vocab(), nullptr, ModelArchName(h.arch));
  m->model_info.context_length = m->runner->context_length();
  m->model_info.architecture = std::string(ModelArchName(h.arch));
  m->model_info.namespace_id = m->runner->namespace_id().ToHex();
  m->model_info.weights_bytes = m->model->gguf().file_size();
  m->retired = retired_cold_;
  std::lock_guard<std::mutex> lock(mu_);
  models_[weights_path] = m;
  return std::shared_ptr<LoadedModel>(m);
}

Result<RequestId> EngineBackend::Submit(GenerationRequest request, std::shared_ptr<GenerationObserver> observer) {
  std::shared_ptr<EngineModel> model;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = models_.find(request.model);
    if (it != models_.end()) model = it->second.lock();
  }
  if (!model) return FailedPreconditionError("model " + request.model + " is not loaded");
  // Before the scheduler's AttachPrefix: bring the prompt's blocks that follow its RAM chain back
  // from the tiers (on this thread, not the engine's; see kv_tiers.h).
  if (tiers_ != nullptr) tiers_->BeforeAdmission(model->runner->namespace_id(), request.prompt_tokens);
  auto fo = std::make_shared<FinishObserver>(this, std::move(observer));
  std::lock_guard<std::mutex> lock(mu_);  // held across Submit so a fast finish finds the route
  SKV_ASSIGN_OR_RETURN(RequestId local, model->scheduler->Submit(std::move(request), fo));
  RequestId id = next_id_++;
  routes_[id] = {model, local};
  fo->set_id(id);
  return id;
}

void EngineBackend::Cancel(RequestId id) {
  std::shared_ptr<EngineModel> model;
  RequestId local = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = routes_.find(id);
    if (it == routes_.end()) return;
    model = it->second.model.lock();
    local = it->second.local_id;
  }
  if (model) model->scheduler->Cancel(local);
}

void EngineBackend::Forget(FinishObserver* observer) {
  // Under mu_, so a Submit that is still registering this request has finished doing so.
  std::lock_guard<std::mutex> lock(mu_);
  routes_.erase(observer->id());
}

KvSnapshot EngineBackend::Kv() {
  MemoryStats st = memory_->Stats();
  KvSnapshot kv;
  kv.budget_bytes = st.budget_bytes;
  kv.committed_bytes = st.committed_bytes;
  for (const auto& ns : st.namespaces) {
    KvUsage u;
    u.namespace_id = ns.id.ToHex();
    u.tier = "ram";
    u.blocks = static_cast<uint64_t>(ns.blocks_in_use + ns.blocks_cached);
    u.bytes = ns.bytes_in_use + ns.bytes_cached;
    u.checkpoint_interval_blocks = ns.checkpoint_interval_blocks;
    u.blocks_with_checkpoint = static_cast<uint64_t>(ns.blocks_with_checkpoint);
    u.checkpoint_rollback_tokens = static_cast<uint64_t>(ns.checkpoint_rollback_tokens);
    kv.usage.push_back(u);
    kv.prefix_tokens_hit += static_cast<uint64_t>(ns.prefix_tokens_hit);
    kv.prefix_tokens_computed += static_cast<uint64_t>(ns.prefix_tokens_computed);
    kv.pinned_blocks += static_cast<uint64_t>(ns.blocks_pinned);
  }
  for (int r = 0; r < kNumEvictionReasons; ++r)
    kv.evictions_by_reason.emplace_back(std::string(EvictionReasonName(static_cast<EvictionReason>(r))),
                                        static_cast<uint64_t>(st.evictions[static_cast<size_t>(r)]));
  for (const SharedPrefix& p : memory_->MostSharedPrefixes(10)) {
    KvSharedPrefix s;
    s.namespace_id = p.namespace_id.ToHex();
    s.model = p.namespace_name;
    s.tokens = static_cast<uint64_t>(p.tokens);
    s.sequences = static_cast<uint64_t>(p.sequences);
    s.bytes = p.bytes;
    s.bytes_saved = p.bytes_saved;
    s.pinned = p.pinned;
    kv.most_shared.push_back(std::move(s));
  }
  if (tiers_ != nullptr) tiers_->FillSnapshot(&kv);
  kv.queue = Queue();
  std::vector<std::shared_ptr<EngineModel>> models;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [path, weak] : models_)
      if (auto m = weak.lock()) models.push_back(std::move(m));
  }
  for (const auto& m : models) kv.cold += ColdCounters(*m->runner, m->scheduler->counters());
  {
    std::lock_guard<std::mutex> lock(retired_cold_->mu);
    kv.cold += retired_cold_->totals;
  }
  return kv;
}

StepTotals EngineBackend::EngineSteps() {
  StepTotals total;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [path, weak] : models_)
    if (auto m = weak.lock()) total += m->scheduler->step_totals();
  return total;
}

std::vector<QueuedRequestInfo> EngineBackend::Queue() {
  std::vector<std::shared_ptr<EngineModel>> models;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [path, weak] : models_)
      if (auto m = weak.lock()) models.push_back(std::move(m));
  }
  std::vector<QueuedRequestInfo> out;
  std::vector<const EngineModel*> owner;  // parallel to out
  for (const auto& model : models) {
    for (const QueuedRequest& q : model->scheduler->Queue()) {
      QueuedRequestInfo i;
      i.namespace_id = model->model_info.namespace_id;
      i.id = q.id;  // the scheduler's id until mapped below
      i.position = q.position;
      i.tokens = q.tokens;
      i.preemptions = q.preemptions;
      i.waiting_for_memory = q.waiting_for_memory;
      out.push_back(i);
      owner.push_back(model.get());
    }
  }
  if (out.empty()) return out;
  // Scheduler ids -> the backend's request ids.
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, route] : routes_) {
    auto m = route.model.lock();
    for (size_t k = 0; k < out.size(); ++k) {
      if (owner[k] == m.get() && route.local_id == out[k].id) {
        out[k].id = id;
        owner[k] = nullptr;  // mapped
        break;
      }
    }
  }
  return out;
}

Status EngineBackend::Pin(const LoadedModel& model, const std::string& name, const std::vector<int32_t>& tokens,
                          int64_t ttl_ms) {
  const auto& em = static_cast<const EngineModel&>(model);
  int64_t ttl_ns = ttl_ms < 0 ? 0 : ttl_ms * 1000000;  // 0: never expires
  auto r = memory_->PinPrefix(name, em.runner->namespace_id(), tokens, ttl_ns);
  return r.status();
}

Status EngineBackend::Unpin(const std::string& name) { return memory_->UnpinPrefix(name); }

namespace {
uint64_t SlotBytes(const MemoryStats& st, const Hash128& ns) {
  for (const auto& n : st.namespaces)
    if (n.id == ns) return n.slot_bytes;
  return 0;
}
}  // namespace

Result<KvPrefixState> EngineBackend::PrefixState(const LoadedModel& model, std::span<const int32_t> tokens) {
  const Hash128 ns = static_cast<const EngineModel&>(model).runner->namespace_id();
  SKV_ASSIGN_OR_RETURN(KvLayout layout, memory_->Layout(ns));
  SKV_ASSIGN_OR_RETURN(PrefixProbe probe, memory_->ProbePrefix(ns, tokens, 0));
  const MemoryStats st = memory_->Stats();
  KvPrefixState out;
  out.block_tokens = layout.shape().block_tokens;
  out.block_bytes = SlotBytes(st, ns);
  out.budget_bytes = st.budget_bytes;
  out.resident_tokens = probe.cached_blocks * out.block_tokens;
  out.prefix_cache = options_.prefix_cache;
  return out;
}

int64_t EngineBackend::RestorePrefix(const LoadedModel& model, std::span<const int32_t> tokens) {
  if (tiers_ == nullptr) return 0;
  return tiers_->BeforeAdmission(static_cast<const EngineModel&>(model).runner->namespace_id(), tokens);
}

std::string EngineBackend::PinRegistryPath() const {
  // Beside the disk tier's entries (its fan-out directories): the tier and its pins go together.
  if (!options_.prefix_cache || options_.tiers.disk_dir == "off") return "";
  return JoinPath(options_.tiers.disk_dir.empty() ? DefaultDiskTierDir() : options_.tiers.disk_dir, "pins.json");
}

std::vector<KvPinState> EngineBackend::PinStates() {
  const MemoryStats st = memory_->Stats();
  std::vector<KvPinState> out;
  for (const PinInfo& p : memory_->ListPins()) {
    auto layout = memory_->Layout(p.namespace_id);
    const int64_t block_tokens = layout.ok() ? layout->shape().block_tokens : 1;
    out.push_back({p.name, p.namespace_id.ToHex(), p.pinned_tokens,
                   static_cast<uint64_t>(p.pinned_tokens / block_tokens) * SlotBytes(st, p.namespace_id)});
  }
  return out;
}

}  // namespace swarmkv
