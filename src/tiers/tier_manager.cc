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

TierManager::TierManager(TierManagerOptions options) : options_(std::move(options)) {
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
  bool any_write_back = false;
  for (const TierSpec& t : options_.tiers) any_write_back |= t.write_back;
  const uint64_t bytes = block.kv_bytes.size() + block.state.size();
  {
    std::unique_lock lock(mu_);
    ++stats_.evictions_seen;
    if (!any_write_back || bytes > options_.queue_max_bytes || !WaitForRoomLocked(lock, bytes, wait_until_nanos)) {
      ++stats_.writeback_dropped;
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
      ++stats_.writeback_dropped;  // another thread filled it meanwhile
      return false;
    }
    queue_bytes_ += bytes;
    queue_.push_back(std::move(job));
    ++stats_.writeback_enqueued;
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
    auto present = options_.tiers[t].backend->Contains(job.meta.id);
    if (present.ok() && *present) {
      std::lock_guard lock(mu_);
      ++stats_.tiers[t].write_skipped_present;
      continue;
    }
    // Failures are counted; the backend itself logs once and pauses (disk full) or reconnects (Redis).
    Status s = options_.tiers[t].backend->Put(job.meta.id, AsBytes(*entry));
    std::lock_guard lock(mu_);
    if (s.ok()) {
      ++stats_.tiers[t].written;
      avg_entry_bytes_ = static_cast<uint64_t>(Ewma(static_cast<double>(avg_entry_bytes_), static_cast<double>(entry->size())));
    } else {
      ++stats_.tiers[t].write_failures;
    }
  }
}

std::optional<RestoredBlock> TierManager::ReadFrom(int t, const Hash128& namespace_id, const Hash128& parent,
                                                   const Hash128& id, const EntryLayout& layout) {
  TierBackend* backend = options_.tiers[t].backend;
  const int64_t start = MonotonicNanos();
  auto got = backend->Get(id);
  if (!got.ok() || !got->has_value()) {
    std::lock_guard lock(mu_);
    if (!got.ok() && got.status().code() == StatusCode::kUnavailable) ++stats_.tiers[t].unavailable;
    else ++stats_.tiers[t].misses;
    return std::nullopt;
  }
  const std::string& bytes = **got;
  auto decoded = DecodeEntry(AsBytes(bytes), namespace_id, id);
  Status bad;
  if (!decoded.ok()) {
    bad = decoded.status();
  } else if (decoded->header.meta.parent != parent) {
    bad = CorruptionError("entry's parent " + decoded->header.meta.parent.ToHex() + " is not the chain's " + parent.ToHex());
  } else if (!(decoded->header.meta.layout == layout)) {
    bad = CorruptionError("entry's KV layout differs from the namespace's");
  }
  if (!bad.ok()) {
    backend->Erase(id).IgnoreError();
    std::lock_guard lock(mu_);
    ++stats_.tiers[t].corrupt_dropped;
    SKV_LOG(WARN) << "tier " << backend->name() << ": dropped bad entry " << id.ToHex() << ": " << bad.ToString();
    return std::nullopt;
  }
  const double seconds = static_cast<double>(MonotonicNanos() - start) * 1e-9;
  RestoredBlock b;
  b.id = id;
  b.parent = parent;
  b.tokens = std::move(decoded->header.meta.tokens);
  b.kv_bytes = std::move(decoded->kv_bytes);
  b.state = std::move(decoded->state);
  b.tier = t;
  std::lock_guard lock(mu_);
  TierStats& s = stats_.tiers[t];
  ++s.blocks_restored;
  s.bytes_read += bytes.size();
  s.read_seconds += seconds;
  if (seconds > 0) s.bandwidth_bytes_per_second = Ewma(s.bandwidth_bytes_per_second, static_cast<double>(b.kv_bytes.size()) / seconds);
  per_block_latency_s_[t] = Ewma(per_block_latency_s_[t], seconds);
  return b;
}

RestoreResult TierManager::Restore(const Hash128& namespace_id, const Hash128& first_parent,
                                   std::span<const Hash128> ids, const EntryLayout& layout) {
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
      auto has = options_.tiers[t].backend->Contains(id);
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

  // 3. Fetch in chain order, `restore_parallelism` blocks in flight (I/O queue depth for a cold
  //    disk, round trips for Redis); a block that fails everywhere ends the chain.
  for (int t = 0; t < num_tiers; ++t) {
    std::vector<Hash128> wanted;
    for (size_t i = 0; i < tier_of.size(); ++i) {
      if (tier_of[i] == t) wanted.push_back(ids[i]);
    }
    if (!wanted.empty()) options_.tiers[t].backend->Prefetch(wanted);
  }
  const size_t window = static_cast<size_t>(std::max(1, options_.restore_parallelism));
  Hash128 parent = first_parent;
  bool gap = false;
  for (size_t begin = 0; begin < tier_of.size() && !gap; begin += window) {
    const size_t end = std::min(tier_of.size(), begin + window);
    std::vector<std::future<std::optional<RestoredBlock>>> inflight;
    for (size_t i = begin; i < end; ++i) {
      // Block i's parent is ids[i-1] (or first_parent); checked inside ReadFrom.
      const Hash128 expect_parent = i == 0 ? first_parent : ids[i - 1];
      auto fetch = [this, i, expect_parent, &ids, &tier_of, &namespace_id, &layout, num_tiers] {
        std::optional<RestoredBlock> block;
        for (int t = tier_of[i]; t < num_tiers && !block; ++t) block = ReadFrom(t, namespace_id, expect_parent, ids[i], layout);
        return block;
      };
      inflight.push_back(std::async(i + 1 == end ? std::launch::deferred : std::launch::async, fetch));
    }
    for (auto& f : inflight) {
      std::optional<RestoredBlock> block = f.get();  // wait for all before leaving the window
      if (gap || !block) {
        gap = true;
        continue;
      }
      SKV_CHECK(block->parent == parent) << "restore chain out of order";
      parent = block->id;
      result.blocks.push_back(std::move(*block));
    }
  }
  std::lock_guard lock(mu_);
  stats_.blocks_restored += static_cast<int64_t>(result.blocks.size());
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
       << " corrupt=" << t.corrupt_dropped << " unavailable=" << t.unavailable
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
