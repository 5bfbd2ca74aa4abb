#include "server/kv_tiers.h"

#include <sstream>

#include "base/logging.h"
#include "base/sysinfo.h"
#include "base/units.h"
#include "memory/kv_memory.h"
#include "tiers/disk_backend.h"
#include "tiers/memory_bridge.h"
#include "tiers/redis_backend.h"

namespace swarmkv {

Result<std::unique_ptr<KvTiers>> KvTiers::Open(const BackendOptions& options, KvMemory* memory) {
  const TierConfig& c = options.tiers;
  if (c.redis_ttl_seconds < 0) return InvalidArgumentError("--kv-redis-ttl must be >= 0 seconds");
  if (options.kv_shutdown_flush_ms < 0) return InvalidArgumentError("--kv-shutdown-flush must be >= 0");
  SKV_ASSIGN_OR_RETURN(TierStack stack, OpenTiers(c));
  std::unique_ptr<KvTiers> t(new KvTiers(memory, std::move(stack), options.kv_shutdown_flush_ms));
  ConnectTiers(memory, t->stack_.manager.get());
  if (c.write_through && !t->stack_.backends.empty())
    t->write_through_ = std::make_unique<WriteThrough>(memory, t->stack_.manager.get());
  std::ostringstream os;
  for (const auto& b : t->stack_.backends) {
    const TierBackendStats s = b->stats();
    os << " " << b->name();
    if (b->name() == "redis") {
      // The URL may carry a password: only its redacted form is ever logged.
      os << " " << RedactRedisUrl(c.redis_url) << (s.available ? " (connected)" : " (DOWN: reconnecting in the background)");
      if (!s.available)
        SKV_LOG(WARN) << "KV tier redis " << RedactRedisUrl(c.redis_url)
                      << " is unreachable at start: serving from RAM and the other tiers; it reconnects with backoff";
    } else {
      os << " " << (b->name() == "shared" ? c.shared_dir : c.disk_dir.empty() ? DefaultDiskTierDir() : c.disk_dir);
      os << " (" << s.entries << " entries, " << FormatBytes(s.bytes) << " of " << FormatBytes(s.capacity_bytes) << ")";
    }
  }
  if (!t->stack_.backends.empty()) os << "; write-through " << (t->write_through_ ? "on" : "off");
  if (!t->stack_.backends.empty()) os << "; entries " << (c.kv_secret.empty() ? "unauthenticated (no --kv-secret)" : "signed (HMAC-SHA256, --kv-secret)");
  SKV_LOG(INFO) << "KV tiers:" << (t->stack_.backends.empty() ? std::string(" none (RAM only)") : os.str());
  return t;
}

KvTiers::KvTiers(KvMemory* memory, TierStack stack, int64_t flush_ms)
    : memory_(memory), stack_(std::move(stack)), flush_ms_(flush_ms) {
  const size_t n = stack_.backends.size();
  restored_tokens_ = std::make_unique<std::atomic<uint64_t>[]>(n);
  for (size_t i = 0; i < n; ++i) restored_tokens_[i] = 0;
}

KvTiers::~KvTiers() {
  // First: it copies blocks out of RAM and feeds the queue the flush is about to drain.
  write_through_.reset();
  if (!stack_.backends.empty() && flush_ms_ > 0) {
    const int64_t start = MonotonicNanos();
    FlushReport r = FlushMemoryToTiers(*memory_, *stack_.manager, start + flush_ms_ * 1000000);
    const TierManagerStats st = stack_.manager->stats();
    int64_t skipped = 0;
    for (const TierStats& t : st.tiers) skipped += t.write_skipped_present;
    SKV_LOG(INFO) << "shutdown: " << r.blocks_evicted << " cached KV blocks flushed to the tiers in "
                  << static_cast<double>(MonotonicNanos() - start) * 1e-9 << " s (" << r.blocks_queued
                  << " queued, " << skipped << " writes skipped as already stored"
                  << (r.drained ? "" : "; DEADLINE reached, the rest was dropped") << ")";
  }
  memory_->SetEvictionHook(nullptr);
  // stack_ goes now: the manager (its queue already drained or dropped) before the backends.
}

int64_t KvTiers::BeforeAdmission(const Hash128& namespace_id, std::span<const int32_t> prompt) {
  if (stack_.backends.empty() || prompt.empty()) return 0;
  auto r = RestorePrefix(*memory_, *stack_.manager, namespace_id, prompt);
  if (!r.ok()) {
    SKV_LOG(WARN) << "KV restore from the tiers failed (the prompt is recomputed): " << r.status().ToString();
    return 0;
  }
  if (r->restored_blocks == 0) return 0;
  auto layout = memory_->Layout(namespace_id);
  const uint64_t block_tokens = layout.ok() ? static_cast<uint64_t>(layout->shape().block_tokens) : 0;
  for (size_t i = 0; i < r->restored_by_tier.size() && i < stack_.backends.size(); ++i)
    restored_tokens_[i] += static_cast<uint64_t>(r->restored_by_tier[i]) * block_tokens;
  return static_cast<int64_t>(r->restored_blocks) * static_cast<int64_t>(block_tokens);
}

EvictionHook KvTiers::WriteHook() {
  if (stack_.backends.empty()) return nullptr;
  return TierWriteHook(stack_.manager.get());
}

void KvTiers::OnPrefillMeasured(int64_t tokens, int64_t nanos) {
  // Short prefills are dominated by fixed costs and queueing; they would understate the speed.
  if (stack_.backends.empty() || tokens < 64 || nanos <= 0) return;
  const double tps = static_cast<double>(tokens) / (static_cast<double>(nanos) * 1e-9);
  double v;
  {
    std::lock_guard<std::mutex> lock(prefill_mu_);
    prefill_tokens_per_second_ = prefill_tokens_per_second_ <= 0 ? tps : prefill_tokens_per_second_ + 0.2 * (tps - prefill_tokens_per_second_);
    v = prefill_tokens_per_second_;
  }
  stack_.manager->SetPrefillTokensPerSecond(v);
}

void KvTiers::FillSnapshot(KvSnapshot* kv) const {
  if (stack_.backends.empty()) return;
  const TierManagerStats ms = stack_.manager->stats();
  for (size_t i = 0; i < stack_.backends.size(); ++i) {
    const TierBackendStats b = stack_.backends[i]->stats();
    const TierStats& t = ms.tiers[i];
    KvTierSnapshot s;
    s.name = std::string(stack_.backends[i]->name());
    s.available = b.available;
    s.entries = b.entries;
    s.bytes = b.bytes;
    s.capacity_bytes = b.capacity_bytes;
    s.restored_tokens = restored_tokens_[i].load();
    s.restored_blocks = static_cast<uint64_t>(t.blocks_read);  // JSON name kept; see docs/api.md
    s.written_blocks = static_cast<uint64_t>(t.written);
    s.write_failures = static_cast<uint64_t>(t.write_failures);
    s.corrupt_dropped = static_cast<uint64_t>(t.corrupt_dropped);
    s.mac_rejected = static_cast<uint64_t>(t.mac_rejected);
    s.unavailable = static_cast<uint64_t>(t.unavailable);
    s.restore_bytes_per_second = t.bandwidth_bytes_per_second;
    kv->tiers.push_back(s);
    KvUsage u;  // the tiers do not know namespaces: one row per tier
    u.tier = s.name;
    u.blocks = b.entries > 0 ? static_cast<uint64_t>(b.entries) : 0;
    u.bytes = b.bytes;
    kv->usage.push_back(u);
  }
  kv->writeback_queue_blocks = static_cast<uint64_t>(ms.queue_blocks);
  kv->writeback_queue_bytes = ms.queue_bytes;
  kv->writeback_dropped = static_cast<uint64_t>(ms.writeback_dropped);
  kv->writeback_enqueued = static_cast<uint64_t>(ms.writeback_enqueued);
  kv->restores_skipped_for_recompute = static_cast<uint64_t>(ms.restore_chose_recompute);
}

}  // namespace swarmkv
