#include "tiers/redis_cluster.h"

#include <hiredis/hiredis.h>

#include <charconv>

namespace swarmkv {

namespace {

uint16_t Crc16Xmodem(std::string_view bytes) {
  uint16_t crc = 0;
  for (unsigned char c : bytes) {
    crc ^= static_cast<uint16_t>(c) << 8;
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021) : static_cast<uint16_t>(crc << 1);
  }
  return crc;
}

bool ParseInt(std::string_view s, int* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

uint16_t RedisKeySlot(std::string_view key) {
  // The hash tag: the bytes between the first '{' and the next '}', when that is not empty.
  if (size_t open = key.find('{'); open != std::string_view::npos) {
    if (size_t close = key.find('}', open + 1); close != std::string_view::npos && close > open + 1)
      key = key.substr(open + 1, close - open - 1);
  }
  return Crc16Xmodem(key) % kRedisClusterSlots;
}

std::optional<RedisRedirect> ParseRedirect(std::string_view error) {
  RedisRedirect r;
  if (error.starts_with("MOVED ")) {
    error.remove_prefix(6);
  } else if (error.starts_with("ASK ")) {
    r.ask = true;
    error.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  const size_t space = error.find(' ');
  int slot = 0;
  if (space == std::string_view::npos || !ParseInt(error.substr(0, space), &slot) || slot < 0 ||
      slot >= kRedisClusterSlots)
    return std::nullopt;
  std::string_view endpoint = error.substr(space + 1);
  const size_t colon = endpoint.rfind(':');
  if (colon == std::string_view::npos || !ParseInt(endpoint.substr(colon + 1), &r.to.port) || r.to.port <= 0 ||
      r.to.port > 65535)
    return std::nullopt;
  r.slot = static_cast<uint16_t>(slot);
  r.to.host = std::string(endpoint.substr(0, colon));
  return r;
}

int RedisSlotMap::IndexOf(const RedisNodeAddress& node) {
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i] == node) return static_cast<int>(i);
  nodes_.push_back(node);
  return static_cast<int>(nodes_.size() - 1);
}

void RedisSlotMap::Set(uint16_t slot, const RedisNodeAddress& node) {
  owner_[slot % kRedisClusterSlots] = static_cast<int16_t>(IndexOf(node));
}

int RedisSlotMap::covered_slots() const {
  int n = 0;
  for (int16_t o : owner_) n += o >= 0;
  return n;
}

Result<RedisSlotMap> RedisSlotMap::FromClusterSlots(const redisReply* reply, const RedisNodeAddress& queried) {
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY) return CorruptionError("CLUSTER SLOTS: not an array");
  RedisSlotMap map;
  for (size_t i = 0; i < reply->elements; ++i) {
    const redisReply* range = reply->element[i];
    if (range->type != REDIS_REPLY_ARRAY || range->elements < 3 || range->element[0]->type != REDIS_REPLY_INTEGER ||
        range->element[1]->type != REDIS_REPLY_INTEGER || range->element[2]->type != REDIS_REPLY_ARRAY ||
        range->element[2]->elements < 2)
      return CorruptionError("CLUSTER SLOTS: malformed range " + std::to_string(i));
    const long long start = range->element[0]->integer, end = range->element[1]->integer;
    const redisReply* master = range->element[2];
    if (start < 0 || end >= kRedisClusterSlots || start > end || master->element[0]->type != REDIS_REPLY_STRING ||
        master->element[1]->type != REDIS_REPLY_INTEGER)
      return CorruptionError("CLUSTER SLOTS: malformed range " + std::to_string(i));
    RedisNodeAddress node{std::string(master->element[0]->str, master->element[0]->len),
                          static_cast<int>(master->element[1]->integer)};
    if (node.host.empty() || node.host == "?") node.host = queried.host;
    const int16_t index = static_cast<int16_t>(map.IndexOf(node));
    for (long long s = start; s <= end; ++s) map.owner_[static_cast<size_t>(s)] = index;
  }
  return map;
}

}  // namespace swarmkv
