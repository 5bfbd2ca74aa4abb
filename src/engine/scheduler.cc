#include "engine/scheduler.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "base/logging.h"
#include "base/sysinfo.h"

namespace swarmkv {

struct Scheduler::Sequence {
  RequestId id = 0;
  int32_t priority = 0;
  GenerationRequest request;
  std::shared_ptr<GenerationObserver> observer;
  std::optional<Sampler> sampler;
  StopMatcher stop;
  int64_t num_ctx = 0;
  int64_t prompt_size = 0;

  bool open = false;  // holds a runner slot
  SlotId slot = 0;
  int64_t length = 0;               // tokens whose KV the runner holds (next position to feed)
  std::vector<int32_t> tokens;      // prompt, then every sampled token
  bool finished = false;
  bool admitted_once = false;       // left the queue at least once (stats.queued_ns is set)
  bool waited_for_memory = false;   // counted in memory_waits
  bool restore_pending = false;     // preempted: before_resume not yet called for this pause
  bool swapped = false;             // preempted by swap: queued with its slot open, KV on disk
  bool resumed_from_swap = false;   // its KV includes blocks swapped out and streamed back
  bool never_swap = false;          // a swap of it failed once: recompute from now on
  // In running_ but neither open nor finished: waiting for another sequence to prefill its prefix.
  bool waiting() const { return !open && !finished; }

  GenerationStats stats;
  int64_t submit_ns = 0, admit_ns = 0, first_token_ns = 0;

  // Tokens to feed before the next logits: the prompt (or what a preemption dropped), else the
  // last sampled token. Every sampled token is fed, so tokens.size() - length >= 1 while open.
  int64_t pending() const { return static_cast<int64_t>(tokens.size()) - length; }
  bool prefilling() const { return pending() > 1; }
  // Scheduling order: higher priority first, then arrival.
  bool Before(const Sequence& o) const { return priority != o.priority ? priority > o.priority : id < o.id; }
};

Result<std::unique_ptr<Scheduler>> Scheduler::Create(std::shared_ptr<ModelRunner> runner, SchedulerOptions options) {
  if (runner == nullptr) return InvalidArgumentError("scheduler: no model runner");
  if (options.max_step_tokens < 1 || options.max_running < 1 || options.max_queued < 0)
    return InvalidArgumentError("scheduler: max_step_tokens and max_running must be >= 1, max_queued >= 0");
  if (options.max_running > options.max_step_tokens)
    return InvalidArgumentError("scheduler: max_running " + std::to_string(options.max_running) +
                                " exceeds max_step_tokens " + std::to_string(options.max_step_tokens) +
                                " (every running sequence needs a decode row per step)");
  if (options.default_num_ctx < 0) return InvalidArgumentError("scheduler: default_num_ctx must be >= 0");
  if (options.memory_recheck_ms < 1) return InvalidArgumentError("scheduler: memory_recheck_ms must be >= 1");
  return std::unique_ptr<Scheduler>(new Scheduler(std::move(runner), options));
}

Scheduler::Scheduler(std::shared_ptr<ModelRunner> runner, SchedulerOptions options)
    : runner_(std::move(runner)), options_(options) {
  if (options_.memory_signal != nullptr) {
    memory_subscription_ = options_.memory_signal->Subscribe([this] {
      std::lock_guard<std::mutex> lock(mu_);
      memory_freed_ = true;
      cv_.notify_all();
    });
  }
  thread_ = std::thread([this] { Loop(); });
}

Scheduler::~Scheduler() {
  if (options_.memory_signal != nullptr) options_.memory_signal->Unsubscribe(memory_subscription_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

namespace {

std::string Bytes(uint64_t b) {
  std::ostringstream os;
  if (b >= (1ull << 20)) {
    os.precision(1);
    os << std::fixed << static_cast<double>(b) / (1ull << 20) << " MiB";
  } else {
    os << b << " bytes";
  }
  return os.str();
}

}  // namespace

Result<RequestId> Scheduler::Submit(GenerationRequest request, std::shared_ptr<GenerationObserver> observer) {
  if (observer == nullptr) return InvalidArgumentError("generation: no observer");
  const int64_t model_ctx = runner_->context_length();
  int64_t num_ctx = request.num_ctx > 0 ? request.num_ctx : options_.default_num_ctx;
  if (num_ctx <= 0 || num_ctx > model_ctx) num_ctx = model_ctx;  // NOTE: never beyond what the model was trained for
  const int64_t prompt_size = static_cast<int64_t>(request.prompt_tokens.size());
  if (prompt_size == 0) return InvalidArgumentError("generation: the prompt has no tokens");
  const bool prefill_only = request.max_new_tokens == 0;
  if (prompt_size > num_ctx || (prompt_size == num_ctx && !prefill_only))
    return InvalidArgumentError("generation: the prompt has " + std::to_string(prompt_size) +
                                " tokens but the context is " + std::to_string(num_ctx) +
                                " tokens (at least one must be left to generate)");
  const int32_t vocab = runner_->vocab_size();
  for (size_t i = 0; i < request.prompt_tokens.size(); ++i) {
    const int32_t t = request.prompt_tokens[i];
    if (t < 0 || t >= vocab)
      return InvalidArgumentError("generation: prompt token " + std::to_string(i) + " is " + std::to_string(t) +
                                  ", outside the vocabulary [0, " + std::to_string(vocab) + ")");
  }
  if (request.max_new_tokens < -1)
    return InvalidArgumentError("generation: max_new_tokens " + std::to_string(request.max_new_tokens) +
                                " must be >= 0 (0: prefill only) or -1 (until EOS or the context is full)");
  // KV that cannot fit even alone: the only memory error, and it comes before anything starts.
  const KvCapacity cap = runner_->kv_capacity();
  if (cap.budget_bytes > 0 && cap.block_bytes > 0 && cap.block_tokens > 0) {
    // NOTE: one block of the budget is kept for the copy-on-write copy a Reserve may hold.
    const int64_t blocks_alone = static_cast<int64_t>(cap.budget_bytes / cap.block_bytes) - 1;
    const int64_t max_tokens = std::max<int64_t>(0, blocks_alone) * cap.block_tokens;
    const int64_t asked = std::min<int64_t>(num_ctx, prompt_size + std::max<int32_t>(request.max_new_tokens, prefill_only ? 0 : 1));
    // With a hot window, blocks older than it go to disk after each step: RAM holds the window,
    // one step's chunk and the partial tail block, whatever the context.
    const int64_t in_ram = cap.hot_window_tokens > 0
                               ? std::min<int64_t>(asked, cap.hot_window_tokens + options_.max_step_tokens + cap.block_tokens)
                               : asked;
    if (in_ram > max_tokens) {
      const int64_t blocks = (asked + cap.block_tokens - 1) / cap.block_tokens + 1;
      return InvalidArgumentError(
          "generation: the request needs KV for " + std::to_string(asked) + " tokens (prompt " +
          std::to_string(prompt_size) +
          (request.max_new_tokens > 0 ? " + " + std::to_string(asked - prompt_size) + " to generate" : " + 1") +
          "): " + Bytes(static_cast<uint64_t>(blocks) * cap.block_bytes) + " (" + std::to_string(blocks) +
          " blocks of " + Bytes(cap.block_bytes) + "), but the KV memory budget is " + Bytes(cap.budget_bytes) +
          ", room for " + std::to_string(max_tokens) +
          " tokens of this model even with everything else evicted; raise --kv-memory or ask for fewer tokens");
    }
    // An unbounded request gets the context the budget can hold: it ends with "length" there.
    if (cap.hot_window_tokens <= 0) num_ctx = std::min(num_ctx, max_tokens);
  }

  auto seq = std::make_unique<Sequence>();
  if (!request.sampling.has_seed) {
    request.sampling.seed = Sampler::PickSeed();
    request.sampling.has_seed = true;
  }
  SKV_ASSIGN_OR_RETURN(Sampler sampler, Sampler::Create(request.sampling, vocab));
  sampler.AcceptPrompt(request.prompt_tokens);
  seq->sampler.emplace(std::move(sampler));
  seq->stop = StopMatcher(request.stop);
  seq->priority = request.priority;
  seq->num_ctx = num_ctx;
  seq->prompt_size = prompt_size;
  seq->tokens = request.prompt_tokens;
  seq->stats.prompt_tokens = static_cast<int32_t>(prompt_size);
  seq->stats.seed = request.sampling.seed;
  seq->submit_ns = MonotonicNanos();
  seq->request = std::move(request);
  seq->observer = std::move(observer);

  RequestId id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return UnavailableError("generation: the engine is shutting down");
    if (static_cast<int32_t>(queue_.size()) >= options_.max_queued)
      return ResourceExhaustedError("generation: " + std::to_string(queue_.size()) +
                                    " requests are already queued (the limit); retry later");
    id = next_id_++;
    seq->id = id;
    InsertOrdered(&queue_, std::move(seq));
  }
  cv_.notify_all();
  return id;
}

void Scheduler::InsertOrdered(std::deque<std::unique_ptr<Sequence>>* q, std::unique_ptr<Sequence> s) {
  auto it = q->end();
  while (it != q->begin() && s->Before(**std::prev(it))) --it;  // new arrivals land at the back
  q->insert(it, std::move(s));
}

void Scheduler::InsertOrdered(std::vector<std::unique_ptr<Sequence>>* v, std::unique_ptr<Sequence> s) {
  auto it = v->end();
  while (it != v->begin() && s->Before(**std::prev(it))) --it;
  v->insert(it, std::move(s));
}

void Scheduler::Cancel(RequestId id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (id == 0 || id >= next_id_) return;
    cancelled_.insert(id);
  }
  cv_.notify_all();
}

std::vector<QueuedRequest> Scheduler::Queue() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<QueuedRequest> out;
  out.reserve(queue_.size());
  for (const auto& s : queue_) {
    QueuedRequest q;
    q.id = s->id;
    q.position = static_cast<int32_t>(out.size());
    q.priority = s->priority;
    q.tokens = static_cast<int64_t>(s->tokens.size());
    q.preemptions = s->stats.preemptions;
    q.waiting_for_memory = memory_blocked_;
    out.push_back(q);
  }
  return out;
}

Scheduler::Counters Scheduler::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

std::string Scheduler::DebugString() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::ostringstream os;
  os << "Scheduler{queued=" << queue_.size() << " memory_blocked=" << memory_blocked_ << " steps=" << counters_.steps
     << " tokens_computed=" << counters_.tokens_computed << " preemptions=" << counters_.preemptions
     << " max_step_tokens=" << options_.max_step_tokens << " max_running=" << options_.max_running << "}";
  return os.str();
}

bool Scheduler::AnyOpen() const {
  for (const auto& s : running_)
    if (s->open) return true;
  return false;
}

void Scheduler::Loop() {
  // NOTE: when the queue's head waits for memory that only other models' sequences hold, their
  // scheduler's notification (options_.memory_signal) wakes this one; the re-check period is only
  // a backstop for memory freed outside the schedulers.
  const auto memory_recheck = std::chrono::milliseconds(options_.memory_recheck_ms);
  while (true) {
    std::vector<std::unique_ptr<Sequence>> cancelled_queued;
    std::unordered_set<RequestId> cancels;
    {
      std::unique_lock<std::mutex> lock(mu_);
      auto ready = [&] {
        return stop_ || !running_.empty() || !cancelled_.empty() ||
               (!queue_.empty() && (!memory_blocked_ || memory_freed_) &&
                static_cast<int32_t>(running_.size()) < options_.max_running);
      };
      if (memory_blocked_ && running_.empty()) {
        cv_.wait_for(lock, memory_recheck, ready);
        if (memory_freed_) ++counters_.memory_wakeups;
      } else {
        cv_.wait(lock, ready);
      }
      memory_freed_ = false;  // the admission below sees whatever was freed until now
      if (stop_) {
        for (auto& s : queue_) running_.push_back(std::move(s));
        queue_.clear();
        break;
      }
      cancels.swap(cancelled_);
      // Cancelled requests still waiting are finished without being admitted.
      for (auto it = queue_.begin(); it != queue_.end();) {
        if (cancels.erase((*it)->id) > 0) {
          cancelled_queued.push_back(std::move(*it));
          it = queue_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& s : cancelled_queued) Finish(s.get(), Status::OK(), "cancelled");
    for (auto& s : running_) {
      if (cancels.count(s->id) > 0) Finish(s.get(), Status::OK(), "cancelled");
    }
    ReapFinished();
    std::vector<Planned> owners;
    const int64_t step_begin_ns = MonotonicNanos();
    BuildStep(&batch_, &owners);
    ReapFinished();
    if (batch_.spans.empty()) continue;
    const StepShape shape = ShapeOf(batch_);
    const int64_t formed_ns = MonotonicNanos();
    RunStep(owners);
    step_stats_.Record(shape, step_begin_ns, formed_ns, forward_done_ns_, MonotonicNanos());
    ReapFinished();
  }
  // Shutdown: everything still in flight is cancelled.
  for (auto& s : running_) {
    if (!s->finished) Finish(s.get(), Status::OK(), "cancelled");
  }
  running_.clear();
}

Scheduler::Sequence* Scheduler::NextToAdmitLocked() const {
  // queue_ is ordered by (priority desc, id asc): the candidates are its leading run of equal
  // priority, and the first of each client in that run is its earliest.
  Sequence* best = nullptr;
  uint64_t best_turn = 0;
  for (const auto& q : queue_) {
    if (q->priority != queue_.front()->priority) break;
    auto it = client_turns_.find(q->request.client_id);
    const uint64_t turn = it == client_turns_.end() ? 0 : it->second;
    if (best == nullptr || turn < best_turn) {
      best = q.get();
      best_turn = turn;
    }
  }
  return best;
}

void Scheduler::NoteAdmittedLocked(const std::string& client_id) {
  client_turns_[client_id] = ++admission_turn_;
  // Client ids come from requests: bound the map by forgetting clients with nothing queued (a
  // forgotten client's next request counts as a newcomer's).
  if (client_turns_.size() > static_cast<size_t>(options_.max_queued) + static_cast<size_t>(options_.max_running)) {
    std::unordered_set<std::string> queued;
    for (const auto& q : queue_) queued.insert(q->request.client_id);
    std::erase_if(client_turns_, [&](const auto& entry) { return !queued.count(entry.first); });
  }
}

int32_t Scheduler::Admit(int32_t step_budget, std::unordered_map<Sequence*, int64_t>* want) {
  bool blocked = false;
  while (step_budget > 0 && static_cast<int32_t>(running_.size()) < options_.max_running) {
    Sequence* head = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.empty()) break;
      head = NextToAdmitLocked();
    }
    auto take = [&]() {
      std::unique_ptr<Sequence> owned;
      {
        std::lock_guard<std::mutex> lock(mu_);
        // Still queued (only this thread removes), though a higher-priority Submit may have been
        // inserted before it meanwhile; it was the head when chosen.
        auto it = std::find_if(queue_.begin(), queue_.end(), [&](const auto& q) { return q.get() == head; });
        SKV_CHECK(it != queue_.end()) << "a queued request vanished";
        owned = std::move(*it);
        queue_.erase(it);
        NoteAdmittedLocked(owned->request.client_id);
      }
      if (!owned->admitted_once) {
        owned->admitted_once = true;
        owned->admit_ns = MonotonicNanos();
        owned->stats.queued_ns = owned->admit_ns - owned->submit_ns;
      }
      return owned;
    };
    if (!head->swapped && ShouldWaitForPrefix(*head)) {
      // Holds no memory while it waits; its KV is reserved when it opens.
      InsertOrdered(&running_, take());
      std::lock_guard<std::mutex> lock(mu_);
      ++counters_.prefix_waits;
      continue;
    }
    if (!head->swapped && !Open(head)) {
      take();  // finished with the error
      continue;
    }
    // Its first chunk must fit in this step and its KV without preempting anyone (pinned blocks
    // count only when this scheduler runs nothing: they are evicted last, but waiting for them
    // could be forever).
    int64_t n = 0;
    auto fits = [&] {
      n = std::min<int64_t>(head->pending(), step_budget);
      Result<KvReserveCheck> check = runner_->PlanReserve(head->slot, n);
      return check.ok() && (check->fits_unpinned || (check->fits && !AnyOpen())) && runner_->Reserve(head->slot, n).ok();
    };
    bool ok = fits();
    if (ok && head->restore_pending && options_.before_resume) {
      // Room now: bring back from the tiers what was evicted while it was paused, then attach it.
      head->restore_pending = false;
      Close(head);
      options_.before_resume(head->tokens);
      if (!Open(head)) {
        take();
        continue;
      }
      ok = fits();
    }
    if (!ok && !AnyOpen() && CloseSwappedInQueue()) {
      if (head->open) Close(head);
      continue;  // the head again, with what the swapped sequences held freed
    }
    if (!ok) {
      if (!head->swapped) Close(head);
      blocked = true;
      if (!head->waited_for_memory) {
        head->waited_for_memory = true;
        std::lock_guard<std::mutex> lock(mu_);
        ++counters_.memory_waits;
      }
      break;
    }
    if (head->swapped) {
      head->swapped = false;
      head->resumed_from_swap = true;
    }
    CountResume(head);
    (*want)[head] = n;
    step_budget -= static_cast<int32_t>(n);
    InsertOrdered(&running_, take());
  }
  std::lock_guard<std::mutex> lock(mu_);
  memory_blocked_ = blocked;
  return step_budget;
}

bool Scheduler::Open(Sequence* s) {
  const bool resume = s->stats.preemptions > 0;
  Result<OpenedSequence> opened = runner_->Open(s->tokens);
  if (!opened.ok()) {
    Finish(s, opened.status().WithContext(resume ? "resuming the request" : "admitting the request"), "error");
    return false;
  }
  s->open = true;
  s->slot = opened->slot;
  SKV_CHECK(opened->reused_tokens >= 0 && opened->reused_tokens < static_cast<int64_t>(s->tokens.size()))
      << "runner reused " << opened->reused_tokens << " of " << s->tokens.size() << " tokens";
  s->length = opened->reused_tokens;
  if (!resume) s->stats.prompt_tokens_reused = static_cast<int32_t>(opened->reused_tokens);
  return true;
}

void Scheduler::Close(Sequence* s) {
  runner_->Close(s->slot);
  s->open = false;
  s->length = 0;
}

void Scheduler::CountResume(Sequence* s) {
  if (s->stats.preemptions == 0) return;
  const int64_t again = static_cast<int64_t>(s->tokens.size()) - 1 - s->length;
  s->stats.tokens_recomputed += static_cast<int32_t>(again);
  std::lock_guard<std::mutex> lock(mu_);
  counters_.tokens_recomputed += again;
}

bool Scheduler::ShouldWaitForPrefix(const Sequence& s) const {
  if (options_.prefix_wait_min_tokens <= 0) return false;
  // The runner attaches at most tokens - 1 (the last one is fed for its logits).
  const auto mine = std::span<const int32_t>(s.tokens).first(s.tokens.size() - 1);
  for (const auto& r : running_) {
    if (r.get() == &s || !r->open || r->finished || !r->prefilling()) continue;
    const auto theirs = std::span<const int32_t>(r->tokens);
    const size_t n = std::min(mine.size(), theirs.size());
    const int64_t shared = std::mismatch(mine.begin(), mine.begin() + static_cast<ptrdiff_t>(n), theirs.begin()).first -
                           mine.begin();
    if (shared >= options_.prefix_wait_min_tokens && r->length < shared) return true;
  }
  return false;
}

void Scheduler::BuildStep(StepBatch* batch, std::vector<Planned>* owners) {
  batch->Clear();
  owners->clear();
  // Prefix waiters whose prefix is now computed attach it; they join the plan next step.
  for (auto& s : running_) {
    if (s->waiting() && !ShouldWaitForPrefix(*s) && Open(s.get())) CountResume(s.get());
  }
  ReapFinished();
  // 1. What each running sequence would run: a decode row for every sequence past its prompt
  //    (latency of running requests), then prefill chunks in priority order within what is left.
  std::vector<int64_t> want(running_.size(), 0);
  int32_t budget = options_.max_step_tokens;
  for (size_t i = 0; i < running_.size() && budget > 0; ++i) {
    const Sequence& s = *running_[i];
    if (s.finished || !s.open || s.prefilling()) continue;
    want[i] = 1;
    --budget;
  }
  // Prefill chunks in priority order within what is left; background (preload) sequences only
  // after every interactive one, so a pin never delays interactive work by more than one step.
  for (const bool background : {false, true}) {
    for (size_t i = 0; i < running_.size() && budget > 0; ++i) {
      const Sequence& s = *running_[i];
      if (s.finished || !s.open || !s.prefilling() || s.request.background != background) continue;
      want[i] = std::min<int64_t>(s.pending(), budget);
      budget -= static_cast<int32_t>(want[i]);
    }
  }
  // 2. Reserve in priority order; when the budget is short, preempt from the lowest priority.
  //    Running sequences come first (vLLM's order): the queue gets the memory that is left.
  std::unordered_map<Sequence*, int64_t> planned;
  for (size_t i = 0; i < running_.size(); ++i) {
    if (want[i] > 0) planned[running_[i].get()] = want[i];
  }
  for (Sequence* v : ReserveOrPreempt(&want)) {
    planned.erase(v);
    Preempt(v);
  }
  // 3. Admission from the queue within the step's remaining tokens and the memory left.
  Admit(budget, &planned);
  // 4. The batch, in priority order.
  for (auto& sp : running_) {
    Sequence* s = sp.get();
    auto it = planned.find(s);
    if (it == planned.end() || s->finished || !s->open) continue;
    const int64_t n = it->second;
    const bool last = s->length + n == static_cast<int64_t>(s->tokens.size());
    // A prefill-only sequence (max_new_tokens 0) never asks for logits.
    batch->Add(s->slot, s->length, std::span<const int32_t>(s->tokens).subspan(s->length, n),
               last && s->request.max_new_tokens != 0);
    owners->push_back(Planned{s, n});
  }
}

std::vector<Scheduler::Sequence*> Scheduler::ReserveOrPreempt(std::vector<int64_t>* want) {
  // Victims are always of lower priority than every sequence already reserved this round (or the
  // sequence itself), as in vLLM: the highest-priority sequences keep making progress.
  std::vector<Sequence*> preempted;
  for (size_t i = 0; i < running_.size(); ++i) {
    Sequence* s = running_[i].get();
    if ((*want)[i] == 0 || !s->open) continue;
    while (true) {
      Status st = runner_->Reserve(s->slot, (*want)[i]);
      if (st.ok()) break;
      if (st.code() != StatusCode::kResourceExhausted) {
        Finish(s, st.WithContext("reserving KV memory"), "error");
        break;
      }
      size_t victim = running_.size();
      for (size_t j = running_.size(); j-- > i;) {
        if (running_[j]->open && !running_[j]->finished && !running_[j]->swapped) {
          victim = j;
          break;
        }
      }
      SKV_CHECK(victim < running_.size());
      Sequence* v = running_[victim].get();
      SwapOrClose(v);
      (*want)[victim] = 0;
      preempted.push_back(v);
      if (v == s) break;
    }
  }
  return preempted;
}

void Scheduler::Preempt(Sequence* s) {
  auto it = std::find_if(running_.begin(), running_.end(), [&](const auto& p) { return p.get() == s; });
  SKV_CHECK(it != running_.end());
  std::unique_ptr<Sequence> owned = std::move(*it);
  running_.erase(it);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++owned->stats.preemptions;
    owned->restore_pending = !owned->swapped;
    ++counters_.preemptions;
    if (owned->swapped) ++counters_.preemptions_swapped;
    InsertOrdered(&queue_, std::move(owned));
  }
  NotifyMemoryFreed();
}

void Scheduler::RunStep(const std::vector<Planned>& owners) {
  Status st = runner_->Forward(batch_, &output_);
  forward_done_ns_ = MonotonicNanos();
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++counters_.steps;
    counters_.tokens_computed += batch_.num_tokens();
    counters_.max_batch_spans = std::max<int64_t>(counters_.max_batch_spans, static_cast<int64_t>(batch_.spans.size()));
  }
  if (st.ok()) {
    int32_t row = 0;
    for (size_t i = 0; i < batch_.spans.size(); ++i) {
      const StepSpan& span = batch_.spans[i];
      Apply(span, owners[i].seq, span.want_logits ? output_.Row(row++) : std::span<const float>());
    }
    return;
  }
  // Nothing was committed. Rerun each span alone (batch invariance: its result is the same), so a
  // failure that belongs to one sequence fails only that one.
  const StepBatch whole = batch_;
  if (whole.spans.size() > 1) SKV_LOG(WARN) << "engine step failed, rerunning its sequences one by one: " << st.ToString();
  int64_t offset = 0;
  for (size_t i = 0; i < whole.spans.size(); ++i) {
    const StepSpan& span = whole.spans[i];
    Sequence* s = owners[i].seq;
    const auto span_tokens = std::span<const int32_t>(whole.tokens).subspan(static_cast<size_t>(offset), span.num_tokens);
    offset += span.num_tokens;
    Status one = st;
    if (whole.spans.size() > 1) {
      batch_.Clear();
      batch_.Add(span.slot, span.first_position, span_tokens, span.want_logits);
      one = runner_->Forward(batch_, &output_);
      std::lock_guard<std::mutex> lock(mu_);
      ++counters_.steps;
      counters_.tokens_computed += span.num_tokens;
    }
    if (one.ok()) {
      Apply(batch_.spans[0], s, span.want_logits ? output_.Row(0) : std::span<const float>());
      continue;
    }
    if (RecomputeAfterSwapFailure(s, one)) continue;
    SKV_LOG(ERROR) << "engine step failed for request " << s->id << ": " << one.ToString();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (whole.spans.size() > 1) ++counters_.isolated_failures;
    }
    Finish(s, one.WithContext("forward step"), "error");
  }
}

void Scheduler::Apply(const StepSpan& span, Sequence* s, std::span<const float> logits) {
  s->length += span.num_tokens;
  if (span.want_logits) HandleLogits(s, logits);
  else if (s->request.max_new_tokens == 0 && s->pending() == 0) FinishPrefillOnly(s);
}

void Scheduler::FinishPrefillOnly(Sequence* s) {
  // Its KV is committed (sealed blocks stay cached when Finish closes the slot); nothing to sample.
  s->stats.prefill_ns = MonotonicNanos() - s->admit_ns;
  Finish(s, Status::OK(), "length");
}

void Scheduler::HandleLogits(Sequence* s, std::span<const float> logits) {
  const int64_t now = MonotonicNanos();
  if (s->stats.generated_tokens == 0) {
    s->first_token_ns = now;
    s->stats.prefill_ns = now - s->admit_ns;
  }
  TokenConstraint* constraint = s->request.constraint.get();
  std::span<const uint64_t> allowed;
  if (constraint != nullptr) {
    Result<std::span<const uint64_t>> a = constraint->Allowed();
    if (!a.ok()) {
      Finish(s, a.status().WithContext("constrained decoding"), "error");
      return;
    }
    allowed = *a;
  }
  const int32_t token = s->sampler->Sample(logits, allowed);
  s->sampler->Accept(token);
  s->tokens.push_back(token);
  ++s->stats.generated_tokens;
  if (s->request.top_logprobs >= 0)
    s->observer->OnLogprobs(Sampler::Logprobs(logits, token, std::min(s->request.top_logprobs, kMaxTopLogprobs)));
  bool constraint_done = false;
  if (constraint != nullptr) {
    Status st = constraint->Accept(token);
    if (!st.ok()) {
      Finish(s, st.WithContext("constrained decoding"), "error");
      return;
    }
    constraint_done = constraint->Complete();
  }

  if (runner_->IsEndOfGeneration(token) && !s->request.ignore_eos) {
    // NOTE: text held back as a possible stop-string start is released with the EOS token id;
    // the EOS itself adds no text.
    const std::string rest = s->stop.Finish();
    if (!rest.empty()) s->observer->OnToken(token, rest);
    Finish(s, Status::OK(), "stop");
    return;
  }
  std::string text = s->stop.Push(runner_->TokenPiece(token));
  if (s->stop.stopped() || constraint_done) {
    // A stop string, or a constrained output that is complete (only EOS could follow).
    if (constraint_done && !s->stop.stopped()) text += s->stop.Finish();
    if (!s->observer->OnToken(token, text)) {
      Finish(s, Status::OK(), "cancelled");
      return;
    }
    Finish(s, Status::OK(), "stop");
    return;
  }
  const bool hit_max = s->request.max_new_tokens > 0 && s->stats.generated_tokens >= s->request.max_new_tokens;
  const bool ctx_full = static_cast<int64_t>(s->tokens.size()) >= s->num_ctx;
  if (hit_max || ctx_full) text += s->stop.Finish();
  if (!s->observer->OnToken(token, text)) {
    Finish(s, Status::OK(), "cancelled");
    return;
  }
  if (hit_max || ctx_full) Finish(s, Status::OK(), "length");
}

void Scheduler::Finish(Sequence* s, const Status& status, const std::string& reason) {
  if (s->finished) return;
  s->finished = true;
  if (s->open) {
    runner_->Close(s->slot);
    s->open = false;
  }
  const int64_t now = MonotonicNanos();
  if (s->admit_ns == 0) s->stats.queued_ns = now - s->submit_ns;
  if (s->first_token_ns != 0) s->stats.decode_ns = now - s->first_token_ns;
  s->stats.finish_reason = reason;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_.erase(s->id);
  }
  s->observer->OnFinish(status, s->stats);
  NotifyMemoryFreed();
}

void Scheduler::ReapFinished() {
  std::erase_if(running_, [](const std::unique_ptr<Sequence>& s) { return s->finished; });
}

}  // namespace swarmkv

namespace swarmkv {

// ---- Preemption by swap and the memory notification (docs/memory.md "Admission and preemption").

bool Scheduler::ShouldSwap(const Sequence& v) const {
  if (v.never_swap || !runner_->CanSwap()) return false;
  switch (options_.preemption) {
    case PreemptionMode::kSwap:
      return true;
    case PreemptionMode::kRecompute:
      return false;
    case PreemptionMode::kCostModel:
      break;
  }
  // The decode steps it may still run: bounded by its request, else by its context.
  const int64_t generated = v.stats.generated_tokens;
  const int64_t remaining = v.request.max_new_tokens > 0 ? v.request.max_new_tokens - generated
                                                         : v.num_ctx - static_cast<int64_t>(v.tokens.size());
  return runner_->EstimatePreemption(v.slot, std::max<int64_t>(remaining, 1)).choice == PreemptChoice::kSwap;
}

void Scheduler::SwapOrClose(Sequence* v) {
  if (ShouldSwap(*v)) {
    Result<int64_t> kept = runner_->SwapOut(v->slot);
    // Nothing kept (no full block): closing the slot is the same, and frees it.
    if (kept.ok() && *kept > 0) {
      SKV_CHECK(*kept <= v->length) << "a swap kept " << *kept << " of " << v->length << " tokens";
      v->length = *kept;
      v->swapped = true;
      return;
    }
    if (!kept.ok()) {
      // Nothing is lost: the tokens are here, the slot is closed and the sequence recomputes.
      SKV_LOG(WARN) << "swapping request " << v->id << " out failed; it will be recomputed: " << kept.status().ToString();
      v->never_swap = true;
      std::lock_guard<std::mutex> lock(mu_);
      ++counters_.swap_failures;
    }
  }
  Close(v);
}

bool Scheduler::RecomputeAfterSwapFailure(Sequence* s, const Status& st) {
  if (!s->resumed_from_swap || s->never_swap || s->finished) return false;
  SKV_LOG(WARN) << "request " << s->id << " resumed from a swap failed its step; it will be recomputed: " << st.ToString();
  s->resumed_from_swap = false;
  s->never_swap = true;
  Close(s);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++counters_.swap_read_failures;
  }
  Preempt(s);
  return true;
}

bool Scheduler::CloseSwappedInQueue() {
  std::vector<Sequence*> swapped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& q : queue_) {
      if (q->swapped) swapped.push_back(q.get());
    }
  }
  // Only this thread removes from the queue or changes these fields: the pointers stay valid.
  for (Sequence* q : swapped) {
    Close(q);
    q->swapped = false;
    q->restore_pending = true;
  }
  return !swapped.empty();
}

void Scheduler::NotifyMemoryFreed() {
  {
    // This scheduler's own queue may be waiting for exactly this memory.
    std::lock_guard<std::mutex> lock(mu_);
    memory_freed_ = true;
  }
  if (options_.memory_signal != nullptr) options_.memory_signal->Notify();
}

}  // namespace swarmkv
