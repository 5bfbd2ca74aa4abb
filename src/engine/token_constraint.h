// TokenConstraint: restricts which tokens a sequence may sample next (constrained decoding:
// structured output, forced tool calls). The engine asks for the allowed set before each sample
// and reports the token it chose; what the set means (a JSON grammar, ...) is the implementer's.
//
// Invariant: the engine samples only allowed tokens (an end-of-generation token only when the
// constraint allows it), and finishes the sequence with "stop" once Complete() is true.
//
// Thread-safety: one instance per sequence, called on that sequence's engine thread only.
#pragma once

#include <cstdint>
#include <span>

#include "base/status.h"

namespace swarmkv {

class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;
  // The tokens allowed next: token t is allowed iff bit (t % 64) of word t / 64 is set; at least
  // ceil(vocab / 64) words. Valid until the next Accept. An error ends the generation.
  virtual Result<std::span<const uint64_t>> Allowed() = 0;
  // Advances past `token`, which Allowed() allowed.
  virtual Status Accept(int32_t token) = 0;
  // The output is complete and nothing but an end-of-generation token could follow.
  virtual bool Complete() const = 0;
};

}  // namespace swarmkv
