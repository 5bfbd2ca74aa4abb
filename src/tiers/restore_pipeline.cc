// TierManager's restore path (tier_manager.h, "Restore"): probe the tiers for a chain, ask the
// cost model, then stream the chain through a pipeline of reader threads to the caller's sink.
// The write-back path is in tier_manager.cc.
//
// Pipeline: `readers` threads read + verify block i (reader i % readers) into slot
// i % (2 x readers) once the sink is done with the block that used it before; the calling thread
// hands the slots to the sink in chain order. A block no tier holds intact (or a sink that says
// stop) ends the chain. The disk is asked to read kPrefetchAhead blocks ahead (fadvise
// WILLNEED): the first ones before the readers start, then each reader asks for block
// i + kPrefetchAhead as it starts block i — so the readahead's page-cache work is spread over the
// readers instead of delaying the first read (profiled: prefetching a whole 16k chain up front
// took a quarter of a cold restore, on this thread, before any read started).
#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "base/logging.h"
#include "base/sysinfo.h"
#include "tiers/tier_manager.h"

namespace swarmkv {
namespace {

constexpr int64_t kPrefetchAhead = 32;

}  // namespace

// The ring of read slots shared by the reader threads and the delivering thread. Slot s holds
// block `block` (-1 while free); `tier` is where it was read from (-1: no tier had it intact).
class TierManager::RestorePipeline {
 public:
  explicit RestorePipeline(int64_t readers) : slots_(static_cast<size_t>(2 * readers)) {}

  // Reader side: waits until block i's slot is free; nullptr once the pipeline stopped.
  ReadSlot* AwaitFree(int64_t i) {
    Slot& s = SlotOf(i);
    std::unique_lock lock(mu_);
    free_cv_.wait(lock, [&] { return stop_ || s.block < 0; });
    return stop_ ? nullptr : &s.read;
  }
  void Publish(int64_t i, int tier) {
    Slot& s = SlotOf(i);
    std::lock_guard lock(mu_);
    s.tier = tier;
    s.block = i;
    filled_cv_.notify_all();
  }
  // Delivering side: waits for block i; its tier (-1: the chain ends here) and its slot.
  int AwaitFilled(int64_t i, const ReadSlot** read) {
    Slot& s = SlotOf(i);
    std::unique_lock lock(mu_);
    filled_cv_.wait(lock, [&] { return s.block == i; });
    *read = &s.read;
    return s.tier;
  }
  void Release(int64_t i) {
    std::lock_guard lock(mu_);
    SlotOf(i).block = -1;
    free_cv_.notify_all();
  }
  void Stop() {
    std::lock_guard lock(mu_);
    stop_ = true;
    free_cv_.notify_all();
  }

 private:
  struct Slot {
    ReadSlot read;
    int64_t block = -1;
    int tier = -1;
  };
  Slot& SlotOf(int64_t i) { return slots_[static_cast<size_t>(i) % slots_.size()]; }

  std::vector<Slot> slots_;
  std::mutex mu_;
  std::condition_variable filled_cv_, free_cv_;
  bool stop_ = false;
};

RestoreResult TierManager::RestoreInto(const Hash128& namespace_id, const Hash128& first_parent,
                                       std::span<const Hash128> ids, const EntryLayout& layout,
                                       const RestoreSink& sink) {
  RestoreResult result;
  {
    std::lock_guard lock(mu_);
    ++stats_.restore_calls;
  }
  const std::vector<int> tier_of = ProbeTiers(ids);
  result.blocks_available = static_cast<int64_t>(tier_of.size());
  if (tier_of.empty() || ChooseRecompute(tier_of, layout, &result)) return result;
  StreamChain(namespace_id, first_parent, ids, tier_of, layout, sink, &result);
  return result;
}

std::vector<int> TierManager::ProbeTiers(std::span<const Hash128> ids) {
  const int num_tiers = static_cast<int>(options_.tiers.size());
  std::vector<int> tier_of;
  for (const Hash128& id : ids) {
    int found = -1;
    for (int t = 0; t < num_tiers && found < 0; ++t) {
      auto has = options_.tiers[t].backend->Contains(StorageKey(id));
      if (has.ok() && *has) found = t;
      if (!has.ok() && has.status().code() == StatusCode::kUnavailable) {
        std::lock_guard lock(mu_);
        ++stats_.tiers[t].unavailable;  // a tier that is down reads as a miss; counted here
      }
    }
    if (found < 0) break;
    tier_of.push_back(found);
  }
  return tier_of;
}

bool TierManager::ChooseRecompute(const std::vector<int>& tier_of, const EntryLayout& layout, RestoreResult* result) {
  std::lock_guard lock(mu_);
  bool measured = stats_.prefill_tokens_per_second > 0;
  for (int t : tier_of) {
    const double bw = stats_.tiers[t].bandwidth_bytes_per_second;
    if (bw <= 0) {
      measured = false;
      continue;
    }
    result->estimated_restore_seconds += static_cast<double>(layout.block_bytes()) / bw;
  }
  if (stats_.prefill_tokens_per_second > 0) {
    result->estimated_recompute_seconds =
        static_cast<double>(tier_of.size() * layout.block_tokens) / stats_.prefill_tokens_per_second;
  }
  if (measured && result->estimated_restore_seconds >= result->estimated_recompute_seconds) {
    result->chose_recompute = true;
    ++stats_.restore_chose_recompute;
  }
  return result->chose_recompute;
}

void TierManager::StreamChain(const Hash128& namespace_id, const Hash128& first_parent, std::span<const Hash128> ids,
                              const std::vector<int>& tier_of, const EntryLayout& layout, const RestoreSink& sink,
                              RestoreResult* result) {
  const int num_tiers = static_cast<int>(options_.tiers.size());
  const int64_t n = static_cast<int64_t>(tier_of.size());
  auto prefetch = [&](int64_t i) {
    if (i >= n) return;
    const Hash128 key = StorageKey(ids[static_cast<size_t>(i)]);
    options_.tiers[tier_of[static_cast<size_t>(i)]].backend->Prefetch(std::span(&key, 1));
  };
  for (int64_t i = 0; i < std::min(n, kPrefetchAhead); ++i) prefetch(i);
  const int64_t readers = std::min<int64_t>(n, std::max(1, options_.restore_parallelism));
  RestorePipeline pipe(readers);
  auto reader = [&](int64_t first) {
    for (int64_t i = first; i < n; i += readers) {
      ReadSlot* slot = pipe.AwaitFree(i);
      if (slot == nullptr) return;
      prefetch(i + kPrefetchAhead);
      // Block i's parent is ids[i-1] (or first_parent); checked inside ReadFrom.
      const Hash128 expect_parent = i == 0 ? first_parent : ids[static_cast<size_t>(i - 1)];
      int tier = -1;
      for (int t = tier_of[static_cast<size_t>(i)]; t < num_tiers && tier < 0; ++t) {
        if (ReadFrom(t, namespace_id, expect_parent, ids[static_cast<size_t>(i)], layout, slot)) tier = t;
      }
      pipe.Publish(i, tier);
      if (tier < 0) return;  // the chain ends here: nothing after it is used
    }
  };
  const int64_t start = MonotonicNanos();
  std::vector<std::thread> threads;
  for (int64_t r = 0; r < readers; ++r) threads.emplace_back(reader, r);
  std::vector<uint64_t> bytes_by_tier(static_cast<size_t>(num_tiers), 0);
  Hash128 parent = first_parent;
  for (int64_t i = 0; i < n; ++i) {
    const ReadSlot* slot = nullptr;
    const int tier = pipe.AwaitFilled(i, &slot);
    if (tier < 0) break;
    const EntryMeta& meta = slot->header.meta;
    SKV_CHECK(meta.parent == parent && meta.id == ids[static_cast<size_t>(i)]) << "restore chain out of order";
    RestoredView v{meta.id, meta.parent, meta.tokens, slot->view.kv_bytes, slot->view.state, tier};
    if (!sink(v)) break;
    ++result->blocks_delivered;
    bytes_by_tier[static_cast<size_t>(tier)] += v.kv_bytes.size() + v.state.size();
    parent = meta.id;
    pipe.Release(i);
  }
  pipe.Stop();
  for (std::thread& t : threads) t.join();
  RecordRestore(bytes_by_tier, static_cast<double>(MonotonicNanos() - start) * 1e-9, result->blocks_delivered);
}

void TierManager::RecordRestore(const std::vector<uint64_t>& bytes_by_tier, double seconds, int64_t blocks_delivered) {
  // Bandwidth as the cost model needs it: the restore's decoded bytes over its wall time
  // (reads overlapped with each other and with the sink's copies), per tier that contributed.
  std::lock_guard lock(mu_);
  for (size_t t = 0; t < bytes_by_tier.size(); ++t) {
    if (bytes_by_tier[t] == 0 || seconds <= 0) continue;
    TierStats& s = stats_.tiers[t];
    s.bandwidth_bytes_per_second = Ewma(s.bandwidth_bytes_per_second, static_cast<double>(bytes_by_tier[t]) / seconds);
  }
  stats_.blocks_restored += blocks_delivered;
}

bool TierManager::ReadFrom(int t, const Hash128& namespace_id, const Hash128& parent, const Hash128& id,
                           const EntryLayout& layout, ReadSlot* slot) {
  TierBackend* backend = options_.tiers[t].backend;
  const int64_t start = MonotonicNanos();
  const Hash128 key = StorageKey(id);
  auto got = backend->GetInto(key, &slot->entry);
  if (!got.ok() || !*got) {
    std::lock_guard lock(mu_);
    if (!got.ok() && got.status().code() == StatusCode::kUnavailable) ++stats_.tiers[t].unavailable;
    else ++stats_.tiers[t].misses;
    return false;
  }
  const std::span<const uint8_t> bytes = slot->entry.span();
  Status bad;
  bool mac_failed = false;
  if (auto header = DecodeEntryHeader(bytes, namespace_id, id, options_.mac.get(), &mac_failed); !header.ok()) {
    bad = header.status();
  } else if (slot->header = std::move(header).value(); slot->header.meta.parent != parent) {
    bad = CorruptionError("entry's parent " + slot->header.meta.parent.ToHex() + " is not the chain's " + parent.ToHex());
  } else if (!(slot->header.meta.layout == layout)) {
    bad = CorruptionError("entry's KV layout differs from the namespace's");
  } else if (auto view = VerifyEntry(bytes, slot->header, &slot->scratch); !view.ok()) {
    bad = view.status();
  } else {
    slot->view = *view;
  }
  if (!bad.ok()) {
    backend->Erase(key).IgnoreError();
    std::lock_guard lock(mu_);
    ++(mac_failed ? stats_.tiers[t].mac_rejected : stats_.tiers[t].corrupt_dropped);
    SKV_LOG(WARN) << "tier " << backend->name() << ": dropped " << (mac_failed ? "unauthenticated" : "bad") << " entry "
                  << key.ToHex() << ": " << bad.ToString();
    return false;
  }
  const double seconds = static_cast<double>(MonotonicNanos() - start) * 1e-9;
  std::lock_guard lock(mu_);
  TierStats& s = stats_.tiers[t];
  ++s.blocks_read;
  s.bytes_read += bytes.size();
  s.read_seconds += seconds;
  return true;
}

}  // namespace swarmkv
