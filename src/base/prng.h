// Deterministic pseudo-random numbers (the synthetic model, sampling seeds): SplitMix64 (seeding) and
// xoshiro256** (streams), with float helpers built from integer arithmetic only.
//
// Invariant: the sequence for a given seed is identical on every platform, compiler and
// standard library (no std:: distributions, no libm calls).
//
// Thread-safety: values; one generator per thread.
#pragma once

#include <cstdint>

namespace swarmkv {

inline uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

class Xoshiro256 {
 public:
  explicit Xoshiro256(uint64_t seed) {
    for (uint64_t& w : s_) w = SplitMix64(&seed);
  }
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, 1) with 24 bits (exactly representable as float).
  float Uniform01() { return static_cast<float>(Next() >> 40) * (1.0f / 16777216.0f); }
  // Uniform in [-a, a).
  float Symmetric(float a) { return (2.0f * Uniform01() - 1.0f) * a; }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace swarmkv
