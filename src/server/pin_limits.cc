#include "server/pin_limits.h"

#include <cmath>

#include "server/model_manager.h"

namespace swarmkv {

Result<int64_t> ValidatePinTtlMs(const nlohmann::json* ttl) {
  if (ttl == nullptr || ttl->is_null()) return kDefaultPinTtlMs;
  auto range = [](double ms, const std::string& shown) -> Result<int64_t> {
    if (!std::isfinite(ms) || ms <= 0 || ms > static_cast<double>(kMaxPinTtlMs))
      return InvalidArgumentError("field 'ttl' is " + shown + ": it must be a positive duration of at most 30 days (720h)");
    return static_cast<int64_t>(ms);
  };
  if (ttl->is_number()) return range(ttl->get<double>() * 1000.0, ttl->dump());
  if (!ttl->is_string()) return InvalidArgumentError("field 'ttl' must be a duration string (\"1h\") or seconds");
  const std::string& text = ttl->get_ref<const std::string&>();
  if (text.size() > 32) return InvalidArgumentError("field 'ttl' is not a duration");
  // ParseKeepAliveMs maps negatives to -1 ("never"), which a pin does not allow; and reads "nan".
  for (char c : text)
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == 'm' || c == 's' || c == 'h'))
      return InvalidArgumentError("field 'ttl' is '" + text + "': not a duration like 90s, 10m or 1h");
  auto ms = ParseKeepAliveMs(text);
  if (!ms.ok()) return InvalidArgumentError("field 'ttl': " + ms.status().message());
  return range(static_cast<double>(*ms), "'" + text + "'");
}

Status ValidatePinName(const std::string& name) {
  if (name.empty() || name.size() > kMaxPinNameBytes)
    return InvalidArgumentError("field 'name' must be 1 to " + std::to_string(kMaxPinNameBytes) + " bytes");
  return Status::OK();
}

void PinBudget::Sync(const std::vector<Live>& live) {
  std::lock_guard<std::mutex> l(mu_);
  pins_.clear();
  tokens_ = 0;
  for (const Live& p : live) {
    pins_[p.key] = Entry{p.tokens, p.expires_unix_ms};
    tokens_ += p.tokens;
  }
}

void PinBudget::ExpireLocked(int64_t now) {
  for (auto it = pins_.begin(); it != pins_.end();) {
    if (it->second.expires_unix_ms != 0 && it->second.expires_unix_ms <= now) {
      tokens_ -= it->second.tokens;
      it = pins_.erase(it);
    } else {
      ++it;
    }
  }
}

Status PinBudget::Admit(const std::string& name, int64_t tokens, int64_t expires_unix_ms, int64_t now) {
  std::lock_guard<std::mutex> l(mu_);
  ExpireLocked(now);
  int64_t old_tokens = 0;
  auto it = pins_.find(name);
  if (it != pins_.end()) old_tokens = it->second.tokens;
  size_t count = pins_.size() + (it == pins_.end() ? 1 : 0);
  if (count > max_pins_)
    return ResourceExhaustedError("too many KV pins: " + std::to_string(max_pins_) +
                                  " are live (--max-pins); unpin some or let them expire");
  if (tokens_ - old_tokens + tokens > max_tokens_)
    return ResourceExhaustedError("pinning " + std::to_string(tokens) + " more tokens would pass the cap of " +
                                  std::to_string(max_tokens_) + " pinned tokens (--max-pinned-tokens)");
  tokens_ += tokens - old_tokens;
  pins_[name] = Entry{tokens, expires_unix_ms};
  return Status::OK();
}

void PinBudget::Remove(const std::string& name) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = pins_.find(name);
  if (it == pins_.end()) return;
  tokens_ -= it->second.tokens;
  pins_.erase(it);
}

size_t PinBudget::live(int64_t now) {
  std::lock_guard<std::mutex> l(mu_);
  ExpireLocked(now);
  return pins_.size();
}

}  // namespace swarmkv
