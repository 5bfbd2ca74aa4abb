// TierManager: construction, the write-back queue and its writer thread, stats. The restore
// path is in restore_pipeline.cc.
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

}  // namespace

double TierManager::Ewma(double old_value, double sample) {
  return old_value <= 0 ? sample : old_value + kEwma * (sample - old_value);
}

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
    } else {
      ++stats_.tiers[t].write_failures;
    }
  }
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
    os << " " << t.name << "{written=" << t.written << " failed=" << t.write_failures << " reads=" << t.blocks_read
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
