// Validation and caps of the KV pins a client may create through POST /api/kv/pin.
//
// A pin keeps blocks resident and names an entry in the engine's pin table: without caps a client
// could create unbounded pins (memory for names and block chains) or pin everything forever.
// ttl: seconds (a number) or a duration string ("10m"); finite, > 0 and at most kMaxPinTtlMs
// (NaN, infinities, negatives, zero and "forever" are a 400 naming the field). Name: 1..256 bytes.
// PinBudget admits a pin while the live pins (not yet expired, not unpinned) stay within
// max_pins and their prefixes within max_pinned_tokens; a pin replacing one of the same name
// gives the old one's share back first.
//
// Invariant: the sum of tokens of the live pins admitted <= max_pinned_tokens, and their count
// <= max_pins (expiry measured by the caller's clock).
// Thread-safety: the functions are stateless; PinBudget is thread-safe (one mutex).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace swarmkv {

constexpr int64_t kDefaultPinTtlMs = int64_t{3600} * 1000;
constexpr int64_t kMaxPinTtlMs = int64_t{30} * 24 * 3600 * 1000;  // 30 days
constexpr size_t kMaxPinNameBytes = 256;

// `ttl` null: the default (1 h).
Result<int64_t> ValidatePinTtlMs(const nlohmann::json* ttl);
Status ValidatePinName(const std::string& name);

class PinBudget {
 public:
  PinBudget(size_t max_pins, int64_t max_pinned_tokens) : max_pins_(max_pins), max_tokens_(max_pinned_tokens) {}
  // A pin that is live now, as the pin service lists it (expires_unix_ms 0: never).
  struct Live {
    std::string key;
    int64_t tokens = 0;
    int64_t expires_unix_ms = 0;
  };
  // Replaces what the budget counts with exactly `live` (pins unpinned, expired, failed or
  // restored at start-up are accounted as the service sees them).
  void Sync(const std::vector<Live>& live);
  // ResourceExhausted when admitting would pass a cap.
  Status Admit(const std::string& name, int64_t tokens, int64_t expires_unix_ms, int64_t now_unix_ms);
  void Remove(const std::string& name);
  size_t live(int64_t now_unix_ms);

 private:
  void ExpireLocked(int64_t now_unix_ms);
  struct Entry {
    int64_t tokens;
    int64_t expires_unix_ms;
  };
  const size_t max_pins_;
  const int64_t max_tokens_;
  std::mutex mu_;
  std::map<std::string, Entry> pins_;  // GUARDED_BY(mu_)
  int64_t tokens_ = 0;                 // GUARDED_BY(mu_): sum over pins_
};

}  // namespace swarmkv
