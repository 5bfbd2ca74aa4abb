#include "tiers/entry_mac.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>

#include "base/env.h"
#include "base/logging.h"

namespace swarmkv {

Result<std::shared_ptr<const EntryMacKey>> EntryMacKey::FromSecret(std::string_view secret) {
  if (secret.size() < kMinSecretBytes)
    return InvalidArgumentError("the KV secret is " + std::to_string(secret.size()) + " bytes; at least " +
                                std::to_string(kMinSecretBytes) + " are needed (e.g. `openssl rand -hex 32`)");
  return std::shared_ptr<const EntryMacKey>(new EntryMacKey(std::string(secret)));
}

EntryMacKey::~EntryMacKey() { OPENSSL_cleanse(secret_.data(), secret_.size()); }

EntryMacKey::Tag EntryMacKey::Compute(std::span<const uint8_t> data) const {
  Tag tag{};
  unsigned int n = 0;
  const uint8_t* out = HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()), data.data(), data.size(),
                            tag.data(), &n);
  SKV_CHECK(out != nullptr && n == kTagBytes) << "HMAC-SHA256 failed (OpenSSL)";
  return tag;
}

bool EntryMacKey::Verify(std::span<const uint8_t> data, std::span<const uint8_t> tag) const {
  if (tag.size() != kTagBytes) return false;
  const Tag want = Compute(data);
  return CRYPTO_memcmp(want.data(), tag.data(), kTagBytes) == 0;
}

Hash128 EntryMacKey::StorageKey(const Hash128& id) const {
  static constexpr char kLabel[] = "swarmkv tier key";
  uint8_t msg[sizeof(kLabel) - 1 + 16];
  std::memcpy(msg, kLabel, sizeof(kLabel) - 1);
  for (int i = 0; i < 8; ++i) {
    msg[sizeof(kLabel) - 1 + i] = static_cast<uint8_t>(id.lo >> (8 * i));
    msg[sizeof(kLabel) - 1 + 8 + i] = static_cast<uint8_t>(id.hi >> (8 * i));
  }
  const Tag t = Compute({msg, sizeof(msg)});
  Hash128 key;
  for (int i = 7; i >= 0; --i) key.lo = (key.lo << 8) | t[i];
  for (int i = 15; i >= 8; --i) key.hi = (key.hi << 8) | t[i];
  return key;
}

Result<std::string> ResolveKvSecret(const std::string& flag_value, const std::string& file_path, const char* env_value) {
  std::string secret = flag_value;
  std::string from = "--kv-secret";
  if (secret.empty() && !file_path.empty()) {
    auto text = Env::Default()->ReadFile(file_path);
    if (!text.ok()) return text.status().WithContext("--kv-secret-file");
    secret = *text;
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r' || secret.back() == ' ')) secret.pop_back();
    if (secret.empty()) return InvalidArgumentError("--kv-secret-file " + file_path + " is empty");
    from = "--kv-secret-file";
  }
  if (secret.empty() && env_value != nullptr && *env_value != '\0') {
    secret = env_value;
    from = "SWARMKV_KV_SECRET";
  }
  if (secret.empty()) return std::string();
  if (secret.size() < EntryMacKey::kMinSecretBytes)
    return InvalidArgumentError(from + ": the KV secret is " + std::to_string(secret.size()) + " bytes; at least " +
                                std::to_string(EntryMacKey::kMinSecretBytes) + " are needed (e.g. `openssl rand -hex 32`)");
  return secret;
}

}  // namespace swarmkv
