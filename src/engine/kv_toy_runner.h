// Test-only (linked into test binaries only): KvToyRunner, a ModelRunner whose KV lives in a REAL
// KvMemory budget and whose "model" is a hash — for the scheduler's memory tests.
//
// What is real: every sequence is a KvMemory sequence; Open attaches the cached prefix; Forward
// writes each position's K/V rows with bytes derived from the token prefix (memory/kv_test_util.h)
// and commits them; admission, reservation, preemption and eviction all go through the real
// budget. What is fake: the logits, a pure function of the sequence's whole token history (so a
// token fed twice, skipped, or at a wrong position changes the output), and so the reference
// generation (ReferenceTokens) that a request served alone must produce.
//
// Swap (EnableSwap): SwapOut makes the sequence's full blocks cold through the real
// KvMemory::MakeBlockCold, keeping their bytes in a toy "disk" map, and drops the unsealed tail;
// the logits never read KV, so a resumed sequence's output checks the scheduler's bookkeeping
// (positions, lengths, tokens fed once) around swaps.
//
// Checks it makes on every call: Forward's spans were reserved beforehand by the scheduler (a
// Forward that would allocate is an error: that is the failure mode this work removes), every
// span starts at its sequence's length, and an attached prefix holds exactly the bytes its own
// tokens produced (a corrupted or misattached block fails the Open).
//
// Thread-safety: driven by one scheduler thread; counters are atomics.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "base/logging.h"
#include "engine/rng.h"
#include "engine/sampler.h"
#include "engine/step_batch.h"
#include "memory/kv_memory.h"
#include "memory/kv_test_util.h"

namespace swarmkv::testing {

inline constexpr int32_t kToyVocab = 64;
inline const Hash128 kToyNs{0x70, 0x7E};
inline constexpr uint64_t kToySalt = 99;

// The fake model: logits of the next token after `history`.
inline void ToyLogits(std::span<const int32_t> history, std::vector<float>* out) {
  uint64_t h = 1469598103934665603ULL;
  for (int32_t t : history) h = (h ^ static_cast<uint32_t>(t)) * 1099511628211ULL;
  Rng rng(h);
  for (int32_t v = 0; v < kToyVocab; ++v) out->push_back(static_cast<float>(rng.NextDouble() * 8.0 - 4.0));
}

// The tokens a request generates when nothing else runs: the reference a scheduled run must equal.
inline std::vector<int32_t> ReferenceTokens(std::span<const int32_t> prompt, const SamplingParams& sampling,
                                            int64_t max_new, int64_t num_ctx) {
  Sampler sampler = Sampler::Create(sampling, kToyVocab).value();
  sampler.AcceptPrompt(prompt);
  std::vector<int32_t> history(prompt.begin(), prompt.end());
  std::vector<int32_t> out;
  std::vector<float> logits;
  while ((max_new < 0 || static_cast<int64_t>(out.size()) < max_new) && static_cast<int64_t>(history.size()) < num_ctx) {
    logits.clear();
    ToyLogits(history, &logits);
    const int32_t t = sampler.Sample(logits);
    sampler.Accept(t);
    history.push_back(t);
    out.push_back(t);
  }
  return out;
}

inline std::unique_ptr<KvMemory> NewToyMemory(uint64_t budget_bytes, int32_t block_tokens) {
  KvMemoryOptions mo;
  mo.budget_bytes = budget_bytes;
  mo.retain_free_bytes = 0;
  auto mem = KvMemory::Create(mo).value();
  NamespaceOptions ns;
  ns.id = kToyNs;
  ns.name = "toy";
  ns.shape.num_layers = 1;
  ns.shape.num_kv_heads = 1;
  ns.shape.head_dim_k = 8;
  ns.shape.head_dim_v = 8;
  ns.shape.block_tokens = block_tokens;
  SKV_CHECK(mem->RegisterNamespace(ns).ok());
  return mem;
}

class KvToyRunner final : public ModelRunner {
 public:
  KvToyRunner(KvMemory* memory, int32_t context_length) : memory_(memory), ctx_(context_length) {
    layout_ = memory_->Layout(kToyNs).value();
    capacity_.budget_bytes = memory_->budget_bytes();
    capacity_.block_bytes = memory_->BytesForTokens(kToyNs, 0).value();
    capacity_.block_tokens = layout_.block_tokens();
  }

  int32_t vocab_size() const override { return kToyVocab; }
  int32_t context_length() const override { return ctx_; }
  bool IsEndOfGeneration(int32_t) const override { return false; }
  std::string TokenPiece(int32_t t) const override { return std::string(1, static_cast<char>('a' + t % 26)); }

  Result<OpenedSequence> Open(std::span<const int32_t> tokens) override {
    SKV_ASSIGN_OR_RETURN(SequenceId seq, memory_->CreateSequence(kToyNs));
    auto match = memory_->AttachPrefix(seq, tokens.first(tokens.size() - 1));
    if (!match.ok()) {
      memory_->Release(seq).IgnoreError();
      return match.status();
    }
    if (!VerifySequence(*memory_, seq, layout_, kToySalt, tokens.first(static_cast<size_t>(match->matched_tokens)))) {
      memory_->Release(seq).IgnoreError();
      return CorruptionError("toy runner: an attached prefix holds the wrong KV bytes");
    }
    std::lock_guard<std::mutex> lock(mu_);
    first_opens_.push_back(tokens[0] * kToyVocab + (tokens.size() > 1 ? tokens[1] : 0));
    ++opens_;
    return OpenedSequence{static_cast<SlotId>(seq), match->matched_tokens};
  }

  Status Forward(const StepBatch& batch, StepOutput* out) override {
    SKV_RETURN_IF_ERROR(batch.Validate());
    // Check everything first: on error nothing is committed.
    size_t offset = 0;
    for (const StepSpan& span : batch.spans) {
      SKV_ASSIGN_OR_RETURN(int64_t len, memory_->Length(static_cast<SequenceId>(span.slot)));
      if (len != span.first_position) return InternalError("toy runner: span not at its sequence's length");
      SKV_ASSIGN_OR_RETURN(ReservePlan plan, memory_->PlanReserve(static_cast<SequenceId>(span.slot), span.num_tokens));
      if (plan.bytes_needed != 0) return InternalError("toy runner: the scheduler did not reserve this step's KV");
      for (int32_t i = 0; i < span.num_tokens; ++i) {
        if (batch.tokens[offset + i] == poison_token_.load())
          return IOError("toy runner: injected failure for a sequence fed token " + std::to_string(poison_token_.load()));
      }
      offset += static_cast<size_t>(span.num_tokens);
    }
    out->vocab_size = kToyVocab;
    out->logits.clear();
    offset = 0;
    for (const StepSpan& span : batch.spans) {
      const auto seq = static_cast<SequenceId>(span.slot);
      SKV_RETURN_IF_ERROR(AppendTokens(*memory_, seq, layout_, kToySalt,
                                       std::span<const int32_t>(batch.tokens).subspan(offset, span.num_tokens), false));
      offset += static_cast<size_t>(span.num_tokens);
      computed_ += span.num_tokens;
      if (span.want_logits) {
        SKV_ASSIGN_OR_RETURN(std::vector<int32_t> history, memory_->Tokens(seq));
        ToyLogits(history, &out->logits);
      }
    }
    return Status::OK();
  }

  void Close(SlotId slot) override {
    SKV_CHECK(memory_->Release(static_cast<SequenceId>(slot)).ok());
    std::lock_guard<std::mutex> lock(mu_);
    std::erase_if(disk_, [&](const auto& e) { return e.first.first == slot; });
  }

  bool CanSwap() const override { return swap_.load(); }
  Result<int64_t> SwapOut(SlotId slot) override {
    const auto seq = static_cast<SequenceId>(slot);
    SKV_ASSIGN_OR_RETURN(int64_t len, memory_->Length(seq));
    const int64_t B = layout_.block_tokens();
    for (int64_t b = 0; b < len / B; ++b) {
      SKV_RETURN_IF_ERROR(memory_->MakeBlockCold(seq, b, [&](std::span<const uint8_t> bytes) {
        std::lock_guard<std::mutex> lock(mu_);
        disk_[{slot, b}].assign(bytes.begin(), bytes.end());
        return Status::OK();
      }).status());
    }
    SKV_RETURN_IF_ERROR(memory_->Truncate(seq, len / B * B));
    ++swap_outs_;
    return len / B * B;
  }
  void EnableSwap(bool on) { swap_ = on; }
  int64_t swap_outs() const { return swap_outs_.load(); }

  KvCapacity kv_capacity() const override { return capacity_; }
  Result<KvReserveCheck> PlanReserve(SlotId slot, int64_t num_tokens) const override {
    SKV_ASSIGN_OR_RETURN(ReservePlan p, memory_->PlanReserve(static_cast<SequenceId>(slot), num_tokens));
    return KvReserveCheck{p.bytes_needed, p.fits_unpinned, p.fits};
  }
  Status Reserve(SlotId slot, int64_t num_tokens) override {
    return memory_->Reserve(static_cast<SequenceId>(slot), num_tokens);
  }

  // Any step feeding this token fails (as a whole); -1: none.
  void PoisonToken(int32_t token) { poison_token_ = token; }
  int64_t computed() const { return computed_.load(); }
  // Key (first two prompt tokens) of every Open, in order (first admissions and resumes).
  std::vector<int32_t> opens() {
    std::lock_guard<std::mutex> lock(mu_);
    return first_opens_;
  }

 private:
  KvMemory* const memory_;
  const int32_t ctx_;
  KvLayout layout_;
  KvCapacity capacity_;
  std::atomic<int32_t> poison_token_{-1};
  std::atomic<int64_t> computed_{0};
  std::mutex mu_;
  std::vector<int32_t> first_opens_;
  int64_t opens_ = 0;
  std::map<std::pair<SlotId, int64_t>, std::vector<uint8_t>> disk_;  // swapped blocks; guarded by mu_
  std::atomic<bool> swap_{false};
  std::atomic<int64_t> swap_outs_{0};
};

}  // namespace swarmkv::testing
