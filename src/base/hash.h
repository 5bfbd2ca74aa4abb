// Stable 128-bit hashing (XXH3-128 from libxxhash): the identity function of swarmkv.
//
// Invariant: the value of Hash128 for given bytes and seed is the same on every machine, process
// and build (little-endian x86-64 and ARM alike): it names KV blocks in RAM, on disk and in Redis.
// Never use std::hash for identities. Multi-byte integers are fed little-endian.
//
// Thread-safety: Hasher128 is a value with no shared state; use one per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace swarmkv {

struct Hash128 {
  uint64_t lo = 0;
  uint64_t hi = 0;

  bool operator==(const Hash128&) const = default;
  auto operator<=>(const Hash128&) const = default;
  bool IsZero() const { return lo == 0 && hi == 0; }
  // 32 lowercase hex digits, hi first (as a big-endian 128-bit number).
  std::string ToHex() const;
  static std::optional<Hash128> FromHex(std::string_view hex);
};

// One-shot hash of bytes.
Hash128 HashBytes(const void* data, size_t size, uint64_t seed = 0);
inline Hash128 HashBytes(std::string_view s, uint64_t seed = 0) { return HashBytes(s.data(), s.size(), seed); }

// 64-bit XXH3 of bytes: checksums of payloads (not identities).
uint64_t Checksum64(const void* data, size_t size);

// Streaming hasher; Update() calls concatenate.
class Hasher128 {
 public:
  explicit Hasher128(uint64_t seed = 0);
  ~Hasher128();
  Hasher128(const Hasher128&) = delete;
  Hasher128& operator=(const Hasher128&) = delete;

  Hasher128& Update(const void* data, size_t size);
  Hasher128& Update(std::string_view s) { return Update(s.data(), s.size()); }
  // Length-prefixed string: "ab"+"c" and "a"+"bc" hash differently.
  Hasher128& UpdateString(std::string_view s);
  Hasher128& UpdateU64(uint64_t v);
  Hasher128& UpdateU32(uint32_t v);
  Hasher128& UpdateI32s(std::span<const int32_t> values);
  Hasher128& UpdateHash(const Hash128& h);
  Hash128 Digest() const;

 private:
  void* state_;  // XXH3_state_t*
};

struct Hash128Hasher {
  size_t operator()(const Hash128& h) const { return static_cast<size_t>(h.lo ^ (h.hi * 0x9E3779B97F4A7C15ull)); }
};

}  // namespace swarmkv

template <>
struct std::hash<swarmkv::Hash128> {
  size_t operator()(const swarmkv::Hash128& h) const { return swarmkv::Hash128Hasher{}(h); }
};
