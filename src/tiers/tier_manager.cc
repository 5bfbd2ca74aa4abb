#include "tiers/tier_manager.h"

#include <algorithm>
#include <chrono>
#include <sstream>

#include "base/logging.h"
#include "base/sysinfo.h"
#include "base/units.h"

namespace swarmkv {
namespace {

constexpr double kEwma = 0.2;  // weight of the newest measurement

double Ewma(double old_value, double sample) { return old_value <= 0 ? sample : old_value + kEwma * (sample - old_value); }

}  // namespace

namespace {
TierManagerOptions WithMac(TierManagerOptions o) {
  o.encode.mac = o.mac.get();
  return o;
}
}  // namespace

TierManager::TierManager(TierManagerOptions options) : options_(WithMac(std::move(options))) {
  for (const TierSpec& t : options_.tiers) {
    SKV_CHECK(t.backend != nullptr) << "TierManager: null backend";
    TierStats s;
    s.name = std::string(t.backend->name());
    stats_.tiers.push_back(s);
  }
  per_block_latency_s_.assign(options_.tiers.size(), 0.0);
  writer_ = std::thread([this] { WriterLoop(); });
}

TierManager::~TierManager() {
  {
    std::unique_lock lock(mu_);
    if (!options_.drain_on_shutdown) {
      stats_.writeback_dropped += static_cast<int64_t>(queue_.size());
      queue_.clear();
      queue_bytes_ = 0;
    }
    stop_ = true;
  }
  cv_.notify_all();
  room_cv_.notify_all();
  writer_.join();
}

bool TierManager::WaitForRoomLocked(std::unique_lock<std::mutex>& lock, uint64_t bytes, int64_t wait_until_nanos) {
  auto has_room = [&] {
    return stop_ || (static_cast<int64_t>(queue_.size()) < options_.queue_max_blocks &&
                     queue_bytes_ + bytes <= options_.queue_max_bytes);
  };
  while (!has_room()) {
    const int64_t left = wait_until_nanos - MonotonicNanos();
    if (wait_until_nanos == 0 || left <= 0) return false;
    room_cv_.wait_for(lock, std::chrono::nanoseconds(left));
  }
  return !stop_;
}

bool TierManager::OnEvicted(const TierBlock& block, int64_t wait_until_nanos) {
  return Enqueue(block, wait_until_nanos, /*write_through=*/false);
}

bool TierManager::OnWriteThrough(const TierBlock& block) { return Enqueue(block, 0, /*write_through=*/true); }

bool TierManager::StoredInEveryWriteBackTier(const Hash128& id) {
  bool any = false;
  for (const TierSpec& t : options_.tiers) {
    if (!t.write_back) continue;
    any = true;
    auto has = t.backend->Contains(StorageKey(id));
    if (!has.ok() || !*has) return false;
  }
  return any;
}

bool TierManager::Enqueue(const TierBlock& block, int64_t wait_until_nanos, bool write_through) {
  bool any_write_back = false;
  for (const TierSpec& t : options_.tiers) any_write_back |= t.write_back;
  const uint64_t bytes = block.kv_bytes.size() + block.state.size();
  // Write-through only into an idle queue: it must never take room an eviction needs.
  auto idle = [&] { return !write_through || (queue_.empty() && !writing_); };
  {
    std::unique_lock lock(mu_);
    if (!write_through) ++stats_.evictions_seen;
    if (!any_write_back || bytes > options_.queue_max_bytes || !idle() ||
        !WaitForRoomLocked(lock, bytes, wait_until_nanos)) {
      if (!write_through) ++stats_.writeback_dropped;
      return false;
    }
  }
  // Copy outside the lock (the caller's spans are valid for the duration of this call).
  Job job;
  job.meta.namespace_id = block.namespace_id;
  job.meta.id = block.id;
  job.meta.parent = block.parent;
  job.meta.tokens.assign(block.tokens.begin(), block.tokens.end());
  job.meta.layout = block.layout;
  job.meta.state_bytes = block.state.size();
  job.kv_bytes.assign(block.kv_bytes.begin(), block.kv_bytes.end());
  job.state.assign(block.state.begin(), block.state.end());
  {
    std::unique_lock lock(mu_);
    if (!WaitForRoomLocked(lock, bytes, wait_until_nanos)) {
      if (!write_through) ++stats_.writeback_dropped;  // another thread filled it meanwhile
      return false;
    }
    queue_bytes_ += bytes;
    queue_.push_back(std::move(job));
    ++stats_.writeback_enqueued;
    if (write_through) ++stats_.write_through_enqueued;
  }
  cv_.notify_one();
  return true;
}

void TierManager::Flush() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [&] { return queue_.empty() && !writing_; });
}

bool TierManager::FlushUntil(int64_t deadline_nanos) {
  std::unique_lock lock(mu_);
  while (!(queue_.empty() && !writing_)) {
    const int64_t left = deadline_nanos - MonotonicNanos();
    if (left <= 0) return false;
    idle_cv_.wait_for(lock, std::chrono::nanoseconds(left));
  }
  return true;
}

void TierManager::DropQueued() {
  std::lock_guard lock(mu_);
  stats_.writeback_dropped += static_cast<int64_t>(queue_.size());
  queue_.clear();
  queue_bytes_ = 0;
  room_cv_.notify_all();
  if (!writing_) idle_cv_.notify_all();
}

void TierManager::WriterLoop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) break;  // stop_ and drained
    Job job = std::move(queue_.front());
    queue_.pop_front();
    queue_bytes_ -= job.bytes();
    writing_ = true;
    room_cv_.notify_all();
    lock.unlock();
    WriteOne(job);
    lock.lock();
    writing_ = false;
    if (queue_.empty()) idle_cv_.notify_all();
  }
  idle_cv_.notify_all();
}

void TierManager::WriteOne(const Job& job) {
  auto entry = EncodeEntry(job.meta, job.kv_bytes, job.state, options_.encode);
  if (!entry.ok()) {
    std::lock_guard lock(mu_);
    ++stats_.writeback_encode_errors;
    SKV_LOG(WARN) << "tier write-back: cannot encode block " << job.meta.id.ToHex() << ": " << entry.status().ToString();
    return;
  }
  for (size_t t = 0; t < options_.tiers.size(); ++t) {
    if (!options_.tiers[t].write_back) continue;
    // A block restored from this tier and evicted again (or flushed at shutdown) is already there:
    // identity names content, so the stored entry is the same bytes. A bad stored copy is found
    // and erased on read, after which the next eviction writes it again.
    const Hash128 key = StorageKey(job.meta.id);
    auto present = options_.tiers[t].backend->Contains(key);
    if (present.ok() && *present) {
      std::lock_guard lock(mu_);
      ++stats_.tiers[t].write_skipped_present;
      continue;
    }
    // Failures are counted; the backend itself logs once and pauses (disk full) or reconnects (Redis).
    Status s = options_.tiers[t].backend->Put(key, AsBytes(*entry));
    std::lock_guard lock(mu_);
    if (s.ok()) {
      ++stats_.tiers[t].written;
      avg_entry_bytes_ = static_cast<uint64_t>(Ewma(static_cast<double>(avg_entry_bytes_), static_cast<double>(entry->size())));
    } else {
      ++stats_.tiers[t].write_failures;
    }
  }
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
  ++s.blocks_restored;
  s.bytes_read += bytes.size();
  s.read_seconds += seconds;
  per_block_latency_s_[t] = Ewma(per_block_latency_s_[t], seconds);
  return true;
}

RestoreResult TierManager::Restore(const Hash128& namespace_id, const Hash128& first_parent,
                                   std::span<const Hash128> ids, const EntryLayout& layout) {
  std::vector<RestoredBlock> blocks;
  RestoreResult result = RestoreInto(namespace_id, first_parent, ids, layout, [&](const RestoredView& v) {
    RestoredBlock b;
    b.id = v.id;
    b.parent = v.parent;
    b.tokens.assign(v.tokens.begin(), v.tokens.end());
    b.kv_bytes.assign(v.kv_bytes.begin(), v.kv_bytes.end());
    b.state.assign(v.state.begin(), v.state.end());
    b.tier = v.tier;
    blocks.push_back(std::move(b));
    return true;
  });
  result.blocks = std::move(blocks);
  return result;
}

RestoreResult TierManager::RestoreInto(const Hash128& namespace_id, const Hash128& first_parent,
                                       std::span<const Hash128> ids, const EntryLayout& layout,
                                       const RestoreSink& sink) {
  RestoreResult result;
  const int num_tiers = static_cast<int>(options_.tiers.size());
  {
    std::lock_guard lock(mu_);
    ++stats_.restore_calls;
  }
  // 1. Probe: which tier holds each block, up to the first gap.
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
  result.blocks_available = static_cast<int64_t>(tier_of.size());
  if (tier_of.empty()) return result;

  // 2. Cost model: restore only when cheaper than recomputing (or while either is unmeasured).
  {
    std::lock_guard lock(mu_);
    bool measured = stats_.prefill_tokens_per_second > 0;
    for (int t : tier_of) {
      const double bw = stats_.tiers[t].bandwidth_bytes_per_second;
      if (bw <= 0) { measured = false; continue; }
      result.estimated_restore_seconds += static_cast<double>(layout.block_bytes()) / bw;
    }
    if (stats_.prefill_tokens_per_second > 0) {
      result.estimated_recompute_seconds =
          static_cast<double>(tier_of.size() * layout.block_tokens) / stats_.prefill_tokens_per_second;
    }
    if (measured && result.estimated_restore_seconds >= result.estimated_recompute_seconds) {
      result.chose_recompute = true;
      ++stats_.restore_chose_recompute;
      return result;
    }
  }

  // 3. Pipeline. `readers` threads read + verify block i (reader i % readers) into slot
  //    i % (2 x readers) once the sink is done with the block that used it before; this thread
  //    hands the slots to the sink in chain order. A block no tier holds intact (or a sink that
  //    says stop) ends the chain. The disk is asked to read kPrefetchAhead blocks ahead
  //    (fadvise WILLNEED): the first ones here, then each reader asks for block i + kPrefetchAhead
  //    as it starts block i — so the readahead's page-cache work is spread over the readers
  //    instead of delaying the first read (profiled: prefetching a whole 16k chain up front took
  //    a quarter of a cold restore, on this thread, before any read started).
  const int64_t n = static_cast<int64_t>(tier_of.size());
  constexpr int64_t kPrefetchAhead = 32;
  auto prefetch = [&](int64_t i) {
    if (i >= n) return;
    const Hash128 key = StorageKey(ids[static_cast<size_t>(i)]);
    options_.tiers[tier_of[static_cast<size_t>(i)]].backend->Prefetch(std::span(&key, 1));
  };
  for (int64_t i = 0; i < std::min(n, kPrefetchAhead); ++i) prefetch(i);
  const int64_t readers = std::min<int64_t>(n, std::max(1, options_.restore_parallelism));
  struct Pending {
    ReadSlot slot;
    int64_t block = -1;  // the block it holds, -1 while free
    int tier = -1;       // where it was read from; -1: no tier had it intact
  };
  std::vector<Pending> slots(static_cast<size_t>(2 * readers));
  std::mutex pipe_mu;
  std::condition_variable filled_cv, free_cv;
  bool stop = false;
  auto reader = [&](int64_t first) {
    for (int64_t i = first; i < n; i += readers) {
      Pending& p = slots[static_cast<size_t>(i) % slots.size()];
      {
        std::unique_lock lock(pipe_mu);
        free_cv.wait(lock, [&] { return stop || p.block < 0; });
        if (stop) return;
      }
      prefetch(i + kPrefetchAhead);
      // Block i's parent is ids[i-1] (or first_parent); checked inside ReadFrom.
      const Hash128 expect_parent = i == 0 ? first_parent : ids[static_cast<size_t>(i - 1)];
      int tier = -1;
      for (int t = tier_of[static_cast<size_t>(i)]; t < num_tiers && tier < 0; ++t) {
        if (ReadFrom(t, namespace_id, expect_parent, ids[static_cast<size_t>(i)], layout, &p.slot)) tier = t;
      }
      std::lock_guard lock(pipe_mu);
      p.tier = tier;
      p.block = i;
      filled_cv.notify_all();
      if (tier < 0) return;  // the chain ends here: nothing after it is used
    }
  };
  const int64_t start = MonotonicNanos();
  std::vector<std::thread> threads;
  for (int64_t r = 0; r < readers; ++r) threads.emplace_back(reader, r);
  std::vector<uint64_t> bytes_by_tier(static_cast<size_t>(num_tiers), 0);
  Hash128 parent = first_parent;
  for (int64_t i = 0; i < n; ++i) {
    Pending& p = slots[static_cast<size_t>(i) % slots.size()];
    {
      std::unique_lock lock(pipe_mu);
      filled_cv.wait(lock, [&] { return p.block == i; });
    }
    if (p.tier < 0) break;
    const EntryMeta& meta = p.slot.header.meta;
    SKV_CHECK(meta.parent == parent && meta.id == ids[static_cast<size_t>(i)]) << "restore chain out of order";
    RestoredView v{meta.id, meta.parent, meta.tokens, p.slot.view.kv_bytes, p.slot.view.state, p.tier};
    if (!sink(v)) break;
    ++result.blocks_delivered;
    bytes_by_tier[static_cast<size_t>(p.tier)] += v.kv_bytes.size() + v.state.size();
    parent = meta.id;
    std::lock_guard lock(pipe_mu);
    p.block = -1;
    free_cv.notify_all();
  }
  {
    std::lock_guard lock(pipe_mu);
    stop = true;
    free_cv.notify_all();
  }
  for (std::thread& t : threads) t.join();
  // Bandwidth as the cost model needs it: the restore's decoded bytes over its wall time
  // (reads overlapped with each other and with the sink's copies), per tier that contributed.
  const double seconds = static_cast<double>(MonotonicNanos() - start) * 1e-9;
  std::lock_guard lock(mu_);
  for (int t = 0; t < num_tiers; ++t) {
    if (bytes_by_tier[static_cast<size_t>(t)] == 0 || seconds <= 0) continue;
    TierStats& s = stats_.tiers[static_cast<size_t>(t)];
    s.bandwidth_bytes_per_second = Ewma(s.bandwidth_bytes_per_second, static_cast<double>(bytes_by_tier[static_cast<size_t>(t)]) / seconds);
  }
  stats_.blocks_restored += result.blocks_delivered;
  return result;
}

std::future<RestoreResult> TierManager::RestoreAsync(Hash128 namespace_id, Hash128 first_parent,
                                                     std::vector<Hash128> ids, EntryLayout layout) {
  return std::async(std::launch::async, [this, namespace_id, first_parent, ids = std::move(ids), layout] {
    return Restore(namespace_id, first_parent, ids, layout);
  });
}

void TierManager::SetPrefillTokensPerSecond(double tokens_per_second) {
  std::lock_guard lock(mu_);
  stats_.prefill_tokens_per_second = tokens_per_second > 0 ? tokens_per_second : 0;
}

TierManagerStats TierManager::stats() const {
  std::lock_guard lock(mu_);
  TierManagerStats s = stats_;
  s.queue_blocks = static_cast<int64_t>(queue_.size());
  s.queue_bytes = queue_bytes_;
  return s;
}

std::string TierManager::DebugString() const {
  TierManagerStats s = stats();
  std::ostringstream os;
  os << "TierManager{queue=" << s.queue_blocks << " (" << FormatBytes(s.queue_bytes) << ") enqueued="
     << s.writeback_enqueued << " dropped=" << s.writeback_dropped << " restored=" << s.blocks_restored
     << " recompute_chosen=" << s.restore_chose_recompute;
  for (const TierStats& t : s.tiers) {
    os << " " << t.name << "{written=" << t.written << " failed=" << t.write_failures << " hits=" << t.blocks_restored
       << " corrupt=" << t.corrupt_dropped << " mac_rejected=" << t.mac_rejected << " unavailable=" << t.unavailable
       << " bw=" << FormatBytes(static_cast<uint64_t>(t.bandwidth_bytes_per_second)) << "/s}";
  }
  os << "}";
  return os.str();
}

Status TierManager::CheckInvariants() const {
  std::lock_guard lock(mu_);
  uint64_t bytes = 0;
  for (const Job& j : queue_) bytes += j.bytes();
  if (bytes != queue_bytes_) return InternalError("tier manager: queued byte count drifted");
  if (static_cast<int64_t>(queue_.size()) > options_.queue_max_blocks || queue_bytes_ > options_.queue_max_bytes) {
    return InternalError("tier manager: write-back queue over its bound");
  }
  return Status::OK();
}

}  // namespace swarmkv
