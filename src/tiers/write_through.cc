#include "tiers/write_through.h"

#include <chrono>

#include "base/sysinfo.h"
#include "tiers/memory_bridge.h"

namespace swarmkv {

WriteThrough::WriteThrough(KvMemory* memory, TierManager* tiers, WriteThroughOptions options)
    : memory_(memory), tiers_(tiers), options_(options) {
  thread_ = std::thread([this] { Loop(); });
  memory_->SetSealHook([this](const Hash128& ns, const BlockId& id) { OnSealed(ns, id); });
}

WriteThrough::~WriteThrough() {
  memory_->SetSealHook(nullptr);  // no call of OnSealed after this returns (it runs under the memory's lock)
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void WriteThrough::OnSealed(const Hash128& namespace_id, const BlockId& id) {
  {
    std::lock_guard lock(mu_);
    ++stats_.announced;
    if (static_cast<int64_t>(pending_.size()) >= options_.max_pending) {
      ++stats_.dropped;
      return;
    }
    pending_.emplace_back(namespace_id, id);
  }
  cv_.notify_all();
}

void WriteThrough::Loop() {
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !pending_.empty(); });
      if (stop_) return;
    }
    // Low priority: only when eviction write-back has nothing queued and the writer is idle.
    if (!tiers_->FlushUntil(MonotonicNanos() + options_.idle_poll_ms * 1'000'000)) continue;
    std::pair<Hash128, BlockId> next;
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
      if (pending_.empty()) continue;
      next = pending_.front();
      pending_.pop_front();
      busy_ = true;
    }
    enum { kQueued, kStored, kGone, kDropped } outcome = kGone;
    if (tiers_->StoredInEveryWriteBackTier(next.second)) {
      outcome = kStored;
    } else {
      auto visited = memory_->VisitSealedBlock(next.first, next.second, [&](const SealedBlockView& b) {
        TierBlock t{b.namespace_id, b.id, b.parent, b.tokens, b.kv_bytes, b.recurrent_state, EntryLayoutFor(*b.layout)};
        outcome = tiers_->OnWriteThrough(t) ? kQueued : kDropped;
      });
      if (!visited.ok() || !*visited) outcome = kGone;
    }
    {
      std::lock_guard lock(mu_);
      busy_ = false;
      switch (outcome) {
        case kQueued: ++stats_.queued; break;
        case kStored: ++stats_.already_stored; break;
        case kGone: ++stats_.gone; break;
        case kDropped: ++stats_.dropped; break;
      }
    }
    cv_.notify_all();
  }
}

WriteThroughStats WriteThrough::stats() const {
  std::lock_guard lock(mu_);
  WriteThroughStats s = stats_;
  s.pending = static_cast<int64_t>(pending_.size());
  return s;
}

bool WriteThrough::WaitIdle(int64_t deadline_nanos) {
  {
    std::unique_lock lock(mu_);
    while (!pending_.empty() || busy_) {
      const int64_t left = deadline_nanos - MonotonicNanos();
      if (left <= 0) return false;
      cv_.wait_for(lock, std::chrono::nanoseconds(left));
    }
  }
  return tiers_->FlushUntil(deadline_nanos);
}

}  // namespace swarmkv
