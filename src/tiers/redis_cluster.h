// Redis Cluster routing pieces for the Redis tier: Debian 12's hiredis 0.14 has no cluster client,
// so redis_backend.cc follows MOVED/ASK redirects itself with these.
//
//   RedisKeySlot    the key's hash slot: CRC16 (XMODEM: poly 0x1021, init 0) of the key, or of its
//                   {hash tag} when it has a non-empty one, mod 16384 (the Redis Cluster spec)
//   ParseRedirect   "MOVED 3999 127.0.0.1:6381" / "ASK 3999 127.0.0.1:6381" error replies
//   RedisSlotMap    slot -> node, built from CLUSTER SLOTS, patched by MOVED
//
// Invariant: a RedisSlotMap's owner of a slot is -1 (unknown) or an index into nodes().
// Thread-safety: pure functions; RedisSlotMap is a value (the backend guards its copy).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

struct redisReply;

namespace swarmkv {

inline constexpr int kRedisClusterSlots = 16384;

uint16_t RedisKeySlot(std::string_view key);

struct RedisNodeAddress {
  std::string host;
  int port = 0;
  bool operator==(const RedisNodeAddress&) const = default;
  std::string ToString() const { return host + ":" + std::to_string(port); }
};

struct RedisRedirect {
  bool ask = false;  // ASK: this one command goes to `to` after ASKING; MOVED: the slot moved
  uint16_t slot = 0;
  RedisNodeAddress to;
};
// nullopt when `error` is not a well-formed MOVED or ASK reply.
std::optional<RedisRedirect> ParseRedirect(std::string_view error);

class RedisSlotMap {
 public:
  RedisSlotMap() { owner_.fill(-1); }
  // From a CLUSTER SLOTS reply: [[start, end, [host, port, id...], replicas...], ...]. A master
  // with an empty host is `queried` (the node that answered). Corruption for a malformed reply.
  static Result<RedisSlotMap> FromClusterSlots(const redisReply* reply, const RedisNodeAddress& queried);

  const RedisNodeAddress* NodeFor(uint16_t slot) const {
    const int o = owner_[slot % kRedisClusterSlots];
    return o < 0 ? nullptr : &nodes_[static_cast<size_t>(o)];
  }
  void Set(uint16_t slot, const RedisNodeAddress& node);
  const std::vector<RedisNodeAddress>& nodes() const { return nodes_; }
  int covered_slots() const;

 private:
  int IndexOf(const RedisNodeAddress& node);
  std::vector<RedisNodeAddress> nodes_;
  std::array<int16_t, kRedisClusterSlots> owner_;
};

}  // namespace swarmkv
