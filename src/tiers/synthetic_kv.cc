#include "tiers/synthetic_kv.h"

#include <cmath>
#include <cstring>
#include <random>

#include "kernels/fp16.h"

namespace swarmkv {

EntryLayout SmolLm2KvLayout() {
  EntryLayout l;
  l.k_type = l.v_type = 1;  // f16
  l.num_layers = 30;
  l.num_kv_heads = 3;
  l.head_dim_k = l.head_dim_v = 64;
  l.block_tokens = 32;
  l.layer_bytes = uint64_t{l.num_kv_heads} * l.block_tokens * (l.head_dim_k + l.head_dim_v) * 2;
  return l;
}

std::vector<uint8_t> SyntheticKvBlock(const EntryLayout& layout, uint64_t seed) {
  std::vector<uint8_t> out(layout.block_bytes());
  // Channel scales depend on (layer, head, channel) only, like a model's; values on the seed.
  std::mt19937_64 scale_rng(12345);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> log_scale(std::log(0.05f), std::log(4.0f));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  uint8_t* p = out.data();
  for (uint32_t l = 0; l < layout.num_layers; ++l) {
    for (int kv = 0; kv < 2; ++kv) {
      const uint32_t dim = kv == 0 ? layout.head_dim_k : layout.head_dim_v;
      for (uint32_t h = 0; h < layout.num_kv_heads; ++h) {
        std::vector<float> scale(dim);
        for (auto& s : scale) s = std::exp(log_scale(scale_rng));
        for (uint32_t t = 0; t < layout.block_tokens; ++t) {
          for (uint32_t c = 0; c < dim; ++c) {
            const f16_t v = F32ToF16(normal(rng) * scale[c]);
            std::memcpy(p, &v, 2);
            p += 2;
          }
        }
      }
    }
  }
  return out;
}

EntryMeta SyntheticMeta(const EntryLayout& layout, const Hash128& namespace_id, const Hash128& parent,
                        uint64_t seed) {
  EntryMeta m;
  m.namespace_id = namespace_id;
  m.parent = parent;
  m.layout = layout;
  std::mt19937 rng(static_cast<uint32_t>(seed));
  for (uint32_t i = 0; i < layout.block_tokens; ++i) m.tokens.push_back(static_cast<int32_t>(rng() % 49152));
  Hasher128 h;
  h.UpdateHash(namespace_id).UpdateHash(parent).UpdateI32s(m.tokens);
  m.id = h.Digest();  // tests' own identity; the real one is memory/block_id.h
  return m;
}

SyntheticChain::SyntheticChain(int n, const Hash128& namespace_id, uint64_t seed) {
  Hash128 parent;
  for (int i = 0; i < n; ++i) {
    metas.push_back(SyntheticMeta(layout, namespace_id, parent, seed + i));
    kv.push_back(SyntheticKvBlock(layout, seed + i));
    parent = metas.back().id;
  }
}

TierBlock SyntheticChain::Block(int i) const {
  return TierBlock{metas[i].namespace_id, metas[i].id, metas[i].parent, metas[i].tokens, kv[i], {}, layout};
}

std::vector<Hash128> SyntheticChain::Ids() const {
  std::vector<Hash128> ids;
  for (const auto& m : metas) ids.push_back(m.id);
  return ids;
}

}  // namespace swarmkv
