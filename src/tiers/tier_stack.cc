#include "tiers/tier_stack.h"

#include "base/units.h"
#include "tiers/disk_backend.h"
#include "tiers/redis_backend.h"

namespace swarmkv {

Result<TierStack> OpenTiers(const TierConfig& config) {
  if (config.zstd_level < 0 || config.zstd_level > 22) {
    return InvalidArgumentError("--kv-zstd-level " + std::to_string(config.zstd_level) + " is not in 0..22");
  }
  TierStack stack;
  auto add_disk = [&](const std::string& dir, const std::string& size, const std::string& name,
                      const std::string& flag) -> Status {
    auto bytes = ParseByteSize(size);
    if (!bytes.ok()) return bytes.status().WithContext(flag);
    DiskBackendOptions o;
    o.dir = dir;
    o.capacity_bytes = *bytes;
    o.name = name;
    SKV_ASSIGN_OR_RETURN(auto disk, DiskBackend::Open(o));
    stack.backends.push_back(std::move(disk));
    return Status::OK();
  };
  if (config.disk_dir != "off") {
    SKV_RETURN_IF_ERROR(add_disk(config.disk_dir.empty() ? DefaultDiskTierDir() : config.disk_dir, config.disk_size,
                                 "disk", "--kv-disk-size"));
  }
  if (!config.shared_dir.empty()) {
    SKV_RETURN_IF_ERROR(add_disk(config.shared_dir, config.shared_size, "shared", "--kv-shared-size"));
  }
  if (!config.redis_url.empty()) {
    RedisBackendOptions o;
    o.url = config.redis_url;
    o.ttl_seconds = config.redis_ttl_seconds;
    o.tls = config.redis_tls;
    auto redis = RedisBackend::Open(o);
    if (!redis.ok()) return redis.status().WithContext("--kv-redis");
    stack.backends.push_back(std::move(*redis));
  } else if (config.redis_tls.any()) {
    return InvalidArgumentError("--redis-tls-* options are given without --kv-redis rediss://...");
  }
  TierManagerOptions m;
  if (!config.kv_secret.empty()) {
    SKV_ASSIGN_OR_RETURN(m.mac, EntryMacKey::FromSecret(config.kv_secret));
  }
  for (const auto& b : stack.backends) m.tiers.push_back({b.get(), true});
  m.encode.zstd_level = config.zstd_level;
  stack.manager = std::make_unique<TierManager>(std::move(m));
  return stack;
}

}  // namespace swarmkv
