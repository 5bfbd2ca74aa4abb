// Block identity: the one name of a KV block in RAM, on disk and in Redis.
//
//   id(block) = XXH3-128 (seed 0) over the bytes
//               namespace.lo | namespace.hi | parent.lo | parent.hi | token[0] | ... | token[B-1]
//   (each u64 and int32 little-endian; parent is zero for a sequence's first block)
//
// This is docs/conventions.md's "Block identity"; nobody else hashes blocks. Because the parent's
// identity is inside, an identity names the whole prefix up to and including the block (a hash
// chain), so a prompt's blocks are addressed by walking the chain from the first block.
//
// Invariant: the value is stable across processes, machines and builds (it keys disk and Redis
// entries); a golden-value test pins it.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/hash.h"

namespace swarmkv {

using BlockId = Hash128;

// The identity of one block. `tokens` are the block's B token ids (any count is hashed as given;
// the memory core always passes exactly B).
BlockId ComputeBlockId(const Hash128& namespace_id, const BlockId& parent, std::span<const int32_t> tokens);

// The identities of the first floor(tokens.size() / block_tokens) blocks of a token sequence,
// each chained on the previous one. REQUIRES: block_tokens > 0.
std::vector<BlockId> ComputeBlockChain(const Hash128& namespace_id, std::span<const int32_t> tokens,
                                       int32_t block_tokens);

}  // namespace swarmkv
