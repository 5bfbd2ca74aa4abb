#include "memory/block_id.h"

#include <bit>
#include <cstring>

namespace swarmkv {
namespace {

void PutU64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace

BlockId ComputeBlockId(const Hash128& namespace_id, const BlockId& parent, std::span<const int32_t> tokens) {
  // One-shot hashing of a stack buffer is several times faster than the streaming API for the
  // ~160 bytes of a 32-token block, and prefix matching hashes one block per 32 prompt tokens.
  constexpr size_t kStackTokens = 256;
  const size_t size = 32 + tokens.size() * 4;
  uint8_t stack[32 + kStackTokens * 4];
  std::vector<uint8_t> heap;
  uint8_t* buf = stack;
  if (tokens.size() > kStackTokens) {
    heap.resize(size);
    buf = heap.data();
  }
  PutU64(buf, namespace_id.lo);
  PutU64(buf + 8, namespace_id.hi);
  PutU64(buf + 16, parent.lo);
  PutU64(buf + 24, parent.hi);
  if constexpr (std::endian::native == std::endian::little) {
    if (!tokens.empty()) std::memcpy(buf + 32, tokens.data(), tokens.size() * 4);
  } else {
    for (size_t i = 0; i < tokens.size(); ++i) {
      const uint32_t v = static_cast<uint32_t>(tokens[i]);
      for (int b = 0; b < 4; ++b) buf[32 + i * 4 + b] = static_cast<uint8_t>(v >> (8 * b));
    }
  }
  return HashBytes(buf, size, 0);
}

std::vector<BlockId> ComputeBlockChain(const Hash128& namespace_id, std::span<const int32_t> tokens,
                                       int32_t block_tokens) {
  std::vector<BlockId> ids;
  const size_t b = static_cast<size_t>(block_tokens);
  ids.reserve(tokens.size() / b);
  BlockId parent;
  for (size_t start = 0; start + b <= tokens.size(); start += b) {
    parent = ComputeBlockId(namespace_id, parent, tokens.subspan(start, b));
    ids.push_back(parent);
  }
  return ids;
}

}  // namespace swarmkv
