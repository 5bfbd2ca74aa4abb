// Rng: the engine's own seeded pseudo-random generator (xoshiro256** seeded through splitmix64,
// base/prng.h).
//
// Invariant: the sequence of values is a pure function of the seed — identical on every compiler,
// standard library and CPU — so a seeded generation is reproducible anywhere. (std::mt19937 is
// portable too, but std::uniform_real_distribution is not; we convert to doubles ourselves.)
//
// Thread-safety: a value; one per sequence, used by one thread at a time.
#pragma once

#include <cstdint>

#include "base/prng.h"

namespace swarmkv {

class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}

  // The next 64 random bits.
  uint64_t Next() { return gen_.Next(); }
  // Uniform in [0, 1), 53 bits of precision.
  double NextDouble() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  Xoshiro256 gen_;
};

}  // namespace swarmkv
