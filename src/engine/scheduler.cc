#include "engine/scheduler.h"

#include <algorithm>
#include <optional>
#include <sstream>

#include "base/logging.h"
#include "base/sysinfo.h"

namespace swarmkv {

struct Scheduler::Sequence {
  RequestId id = 0;
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
  // Admitted but neither open nor finished: waiting for another sequence to prefill its prefix.
  bool waiting() const { return !open && !finished; }

  GenerationStats stats;
  int64_t submit_ns = 0, admit_ns = 0, first_token_ns = 0;

  bool prefilling() const { return length < prompt_size; }
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
  return std::unique_ptr<Scheduler>(new Scheduler(std::move(runner), options));
}

Scheduler::Scheduler(std::shared_ptr<ModelRunner> runner, SchedulerOptions options)
    : runner_(std::move(runner)), options_(options) {
  thread_ = std::thread([this] { Loop(); });
}

Scheduler::~Scheduler() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

Result<RequestId> Scheduler::Submit(GenerationRequest request, std::shared_ptr<GenerationObserver> observer) {
  if (observer == nullptr) return InvalidArgumentError("generation: no observer");
  const int64_t model_ctx = runner_->context_length();
  int64_t num_ctx = request.num_ctx > 0 ? request.num_ctx : options_.default_num_ctx;
  if (num_ctx <= 0 || num_ctx > model_ctx) num_ctx = model_ctx;  // NOTE: never beyond what the model was trained for
  const int64_t prompt_size = static_cast<int64_t>(request.prompt_tokens.size());
  if (prompt_size == 0) return InvalidArgumentError("generation: the prompt has no tokens");
  if (prompt_size >= num_ctx)
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
  if (request.max_new_tokens == 0 || request.max_new_tokens < -1)
    return InvalidArgumentError("generation: max_new_tokens " + std::to_string(request.max_new_tokens) +
                                " must be >= 1 or -1 (until EOS or the context is full)");

  auto seq = std::make_unique<Sequence>();
  if (!request.sampling.has_seed) {
    request.sampling.seed = Sampler::PickSeed();
    request.sampling.has_seed = true;
  }
  SKV_ASSIGN_OR_RETURN(Sampler sampler, Sampler::Create(request.sampling, vocab));
  sampler.AcceptPrompt(request.prompt_tokens);
  seq->sampler.emplace(std::move(sampler));
  seq->stop = StopMatcher(request.stop);
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
    queue_.push_back(std::move(seq));
  }
  cv_.notify_all();
  return id;
}

void Scheduler::Cancel(RequestId id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (id == 0 || id >= next_id_) return;
    cancelled_.insert(id);
  }
  cv_.notify_all();
}

Scheduler::Counters Scheduler::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

std::string Scheduler::DebugString() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::ostringstream os;
  os << "Scheduler{queued=" << queue_.size() << " steps=" << counters_.steps
     << " tokens_computed=" << counters_.tokens_computed << " max_step_tokens=" << options_.max_step_tokens
     << " max_running=" << options_.max_running << "}";
  return os.str();
}

void Scheduler::Loop() {
  while (true) {
    std::deque<std::unique_ptr<Sequence>> incoming;
    std::vector<std::unique_ptr<Sequence>> cancelled_queued;
    std::unordered_set<RequestId> cancels;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] {
        return stop_ || !running_.empty() || !cancelled_.empty() ||
               (!queue_.empty() && static_cast<int32_t>(running_.size()) < options_.max_running);
      });
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
      while (!queue_.empty() && static_cast<int32_t>(running_.size() + incoming.size()) < options_.max_running) {
        incoming.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    for (auto& s : cancelled_queued) Finish(s.get(), Status::OK(), "cancelled");
    for (auto& s : running_) {
      if (cancels.count(s->id) > 0) Finish(s.get(), Status::OK(), "cancelled");
    }
    ReapFinished();
    Admit(&incoming);
    if (running_.empty()) continue;

    std::vector<Sequence*> owners;
    BuildStep(&batch_, &owners);
    if (batch_.spans.empty()) continue;
    Status st = runner_->Forward(batch_, &output_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++counters_.steps;
      counters_.tokens_computed += batch_.num_tokens();
      counters_.max_batch_spans = std::max<int64_t>(counters_.max_batch_spans, static_cast<int64_t>(batch_.spans.size()));
    }
    if (!st.ok()) {
      // Nothing was committed: every sequence in the step fails (their KV state is unknown to us).
      SKV_LOG(ERROR) << "engine step failed: " << st.ToString();
      for (Sequence* s : owners) Finish(s, st.WithContext("forward step"), "error");
      ReapFinished();
      continue;
    }
    int32_t row = 0;
    for (size_t i = 0; i < batch_.spans.size(); ++i) {
      const StepSpan& span = batch_.spans[i];
      Sequence* s = owners[i];
      s->length += span.num_tokens;
      if (span.want_logits) HandleLogits(s, output_.Row(row++));
    }
    ReapFinished();
  }
  // Shutdown: everything still in flight is cancelled.
  for (auto& s : running_) {
    if (!s->finished) Finish(s.get(), Status::OK(), "cancelled");
  }
  running_.clear();
}

void Scheduler::Admit(std::deque<std::unique_ptr<Sequence>>* incoming) {
  // Waiters first, in admission order: those whose prefix is now computed attach it.
  for (auto& s : running_) {
    if (s->waiting() && !ShouldWaitForPrefix(*s)) Open(s.get());
  }
  for (auto& s : *incoming) {
    s->admit_ns = MonotonicNanos();
    s->stats.queued_ns = s->admit_ns - s->submit_ns;
    Sequence* raw = s.get();
    running_.push_back(std::move(s));
    if (ShouldWaitForPrefix(*raw)) {
      std::lock_guard<std::mutex> lock(mu_);
      ++counters_.prefix_waits;
    } else {
      Open(raw);
    }
  }
  incoming->clear();
}

void Scheduler::Open(Sequence* s) {
  Result<OpenedSequence> opened = runner_->Open(s->request.prompt_tokens);
  if (!opened.ok()) {
    Finish(s, opened.status().WithContext("admitting the request"), "error");
    return;
  }
  s->open = true;
  s->slot = opened->slot;
  SKV_CHECK(opened->reused_tokens >= 0 && opened->reused_tokens < s->prompt_size)
      << "runner reused " << opened->reused_tokens << " of " << s->prompt_size << " prompt tokens";
  s->length = opened->reused_tokens;
  s->stats.prompt_tokens_reused = static_cast<int32_t>(opened->reused_tokens);
}

bool Scheduler::ShouldWaitForPrefix(const Sequence& s) const {
  if (options_.prefix_wait_min_tokens <= 0) return false;
  // The runner attaches at most prompt_size - 1 tokens (the last one is fed for its logits).
  const auto mine = std::span<const int32_t>(s.request.prompt_tokens).first(static_cast<size_t>(s.prompt_size - 1));
  for (const auto& r : running_) {
    if (r.get() == &s || !r->open || r->finished || !r->prefilling()) continue;
    const auto theirs = std::span<const int32_t>(r->tokens).first(static_cast<size_t>(r->prompt_size));
    const size_t n = std::min(mine.size(), theirs.size());
    const int64_t shared = std::mismatch(mine.begin(), mine.begin() + static_cast<ptrdiff_t>(n), theirs.begin()).first -
                           mine.begin();
    if (shared >= options_.prefix_wait_min_tokens && r->length < shared) return true;
  }
  return false;
}

void Scheduler::BuildStep(StepBatch* batch, std::vector<Sequence*>* owners) {
  batch->Clear();
  int32_t budget = options_.max_step_tokens;
  // Decode rows first: one token for every sequence past its prompt (latency of running requests).
  for (auto& s : running_) {
    if (s->finished || !s->open || s->prefilling() || budget == 0) continue;
    batch->Add(s->slot, s->length, std::span<const int32_t>(s->tokens).subspan(s->length, 1), true);
    owners->push_back(s.get());
    --budget;
  }
  // Then prefill chunks, oldest admission first, within what is left of the budget.
  for (auto& s : running_) {
    if (budget == 0) break;
    if (s->finished || !s->open || !s->prefilling()) continue;
    const int64_t n = std::min<int64_t>(s->prompt_size - s->length, budget);
    const bool last = s->length + n == s->prompt_size;
    batch->Add(s->slot, s->length, std::span<const int32_t>(s->tokens).subspan(s->length, n), last);
    owners->push_back(s.get());
    budget -= static_cast<int32_t>(n);
  }
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
}

void Scheduler::ReapFinished() {
  std::erase_if(running_, [](const std::unique_ptr<Sequence>& s) { return s->finished; });
}

}  // namespace swarmkv
