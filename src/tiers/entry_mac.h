// EntryMacKey: the --kv-secret of a server, as the tiers use it to authenticate stored entries.
//
// With a secret, every entry written to a tier ends with HMAC-SHA256(secret, every byte before
// the tag) (entry_format.h, format version 2), and is stored under a name derived from the secret
// (StorageKey): servers that share a directory or a Redis but not the secret never read, erase or
// overwrite each other's entries, an observer of the names cannot tell which prompt a name holds,
// and an entry planted under a keyed name by anyone without the secret fails its MAC and is
// dropped. Tags are compared in constant time (CRYPTO_memcmp).
//
// Invariant: the secret is at least kMinSecretBytes bytes; Tag() is HMAC-SHA256 (OpenSSL libcrypto).
// Thread-safety: immutable after construction; every method may be called from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "base/hash.h"
#include "base/status.h"

namespace swarmkv {

class EntryMacKey {
 public:
  static constexpr size_t kTagBytes = 32;
  static constexpr size_t kMinSecretBytes = 16;
  using Tag = std::array<uint8_t, kTagBytes>;

  // InvalidArgument when the secret is shorter than kMinSecretBytes (naming the length, never the secret).
  static Result<std::shared_ptr<const EntryMacKey>> FromSecret(std::string_view secret);

  // HMAC-SHA256 of `data` under the secret.
  Tag Compute(std::span<const uint8_t> data) const;
  // True when `tag` is the tag of `data` (constant-time compare).
  bool Verify(std::span<const uint8_t> data, std::span<const uint8_t> tag) const;
  // The name a block identity is stored under in every tier: HMAC-SHA256(secret, "swarmkv tier
  // key" || id) truncated to 128 bits.
  Hash128 StorageKey(const Hash128& id) const;

  ~EntryMacKey();

 private:
  explicit EntryMacKey(std::string secret) : secret_(std::move(secret)) {}
  std::string secret_;
};

// The secret of --kv-secret / --kv-secret-file / $SWARMKV_KV_SECRET, in that order ("" : none).
// A file's trailing newlines and spaces are not part of the secret. Errors: an unreadable or empty
// file, a secret shorter than EntryMacKey::kMinSecretBytes.
Result<std::string> ResolveKvSecret(const std::string& flag_value, const std::string& file_path, const char* env_value);

}  // namespace swarmkv
