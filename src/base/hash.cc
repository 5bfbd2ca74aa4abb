#include "base/hash.h"

#include <xxhash.h>

#include <bit>
#include <cstring>

namespace swarmkv {

static_assert(std::endian::native == std::endian::little, "swarmkv assumes a little-endian host");

std::string Hash128::ToHex() const {
  static const char* kDigits = "0123456789abcdef";
  std::string s(32, '0');
  for (int i = 0; i < 16; ++i) {
    s[15 - i] = kDigits[(hi >> (4 * i)) & 0xf];
    s[31 - i] = kDigits[(lo >> (4 * i)) & 0xf];
  }
  return s;
}

std::optional<Hash128> Hash128::FromHex(std::string_view hex) {
  if (hex.size() != 32) return std::nullopt;
  Hash128 h;
  for (int i = 0; i < 32; ++i) {
    char c = hex[i];
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return std::nullopt;
    uint64_t& word = i < 16 ? h.hi : h.lo;
    word = (word << 4) | static_cast<uint64_t>(d);
  }
  return h;
}

Hash128 HashBytes(const void* data, size_t size, uint64_t seed) {
  XXH128_hash_t h = XXH3_128bits_withSeed(data, size, seed);
  return Hash128{h.low64, h.high64};
}

uint64_t Checksum64(const void* data, size_t size) { return XXH3_64bits(data, size); }

Hasher128::Hasher128(uint64_t seed) : state_(XXH3_createState()) {
  XXH3_128bits_reset_withSeed(static_cast<XXH3_state_t*>(state_), seed);
}
Hasher128::~Hasher128() { XXH3_freeState(static_cast<XXH3_state_t*>(state_)); }

Hasher128& Hasher128::Update(const void* data, size_t size) {
  XXH3_128bits_update(static_cast<XXH3_state_t*>(state_), data, size);
  return *this;
}
Hasher128& Hasher128::UpdateU64(uint64_t v) { return Update(&v, sizeof v); }
Hasher128& Hasher128::UpdateU32(uint32_t v) { return Update(&v, sizeof v); }
Hasher128& Hasher128::UpdateString(std::string_view s) {
  UpdateU64(s.size());
  return Update(s.data(), s.size());
}
Hasher128& Hasher128::UpdateI32s(std::span<const int32_t> values) {
  UpdateU64(values.size());
  return Update(values.data(), values.size_bytes());
}
Hasher128& Hasher128::UpdateHash(const Hash128& h) {
  UpdateU64(h.lo);
  return UpdateU64(h.hi);
}
Hash128 Hasher128::Digest() const {
  XXH128_hash_t h = XXH3_128bits_digest(static_cast<XXH3_state_t*>(state_));
  return Hash128{h.low64, h.high64};
}

}  // namespace swarmkv
