// libFuzzer target for the tier entry decoder (what a disk file or a Redis value from another
// writer is read through): any bytes must give a verified entry or a Status — never a crash, an
// out-of-bounds read, or an allocation a header merely claims (ASan/UBSan, -rss_limit_mb watch).
//
// Byte 0 odd: the rest is the entry as stored. Even: a valid entry is built from the input (its
// KV bytes), then corrupted at input-chosen offsets; an uncorrupted one must round-trip exactly.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "tiers/entry_format.h"

namespace {

using namespace swarmkv;

const Hash128 kNamespace{0x1111, 0x2222};
const Hash128 kId{0x3333, 0x4444};

void DecodeAll(std::span<const uint8_t> entry) {
  auto header = DecodeEntryHeader(entry, kNamespace, kId);
  if (header.ok()) {
    std::vector<uint8_t> scratch;
    (void)VerifyEntry(entry, *header, &scratch);
    const EntryLayout& l = header->meta.layout;
    if (l.layer_bytes <= (1u << 20)) {
      std::vector<uint8_t> layer(l.layer_bytes);
      for (uint32_t i = 0; i < l.num_layers && i < 64; ++i) (void)DecodeLayer(entry, *header, i, layer);
    }
  }
  (void)DecodeEntry(entry, kNamespace, kId);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  std::span<const uint8_t> in(data + 1, size - 1);
  if (data[0] & 1) {
    DecodeAll(in);
    return 0;
  }
  EntryMeta meta;
  meta.namespace_id = kNamespace;
  meta.id = kId;
  meta.parent = Hash128{data[1], 7};
  EntryLayout& l = meta.layout;
  l.num_layers = 1 + (data[0] >> 1) % 3;
  l.num_kv_heads = 1;
  l.head_dim_k = 4;
  l.head_dim_v = 4;
  l.block_tokens = 2;
  l.layer_bytes = uint64_t{l.block_tokens} * l.num_kv_heads * (l.head_dim_k + l.head_dim_v) * 2;  // f16
  meta.tokens = {static_cast<int32_t>(data[1]), 2};
  std::vector<uint8_t> kv(l.block_bytes());
  for (size_t i = 0; i < kv.size(); ++i) kv[i] = in[i % in.size()];
  EntryEncodeOptions eo;
  eo.zstd_level = (data[0] & 8) ? 1 : 0;
  auto encoded = EncodeEntry(meta, kv, {}, eo);
  if (!encoded.ok()) std::abort();  // a valid block must encode
  std::string entry = std::move(encoded).value();
  // Remaining input: (offset, xor) pairs, then a truncation length.
  size_t mutations = 0;
  for (size_t i = 0; i + 2 < in.size() && mutations < 8; i += 3, ++mutations) {
    size_t at = (static_cast<size_t>(in[i]) << 8 | in[i + 1]) % entry.size();
    entry[at] = static_cast<char>(entry[at] ^ (in[i + 2] | 1));
  }
  if (in.size() % 5 == 0 && !entry.empty()) entry.resize(in[0] % entry.size());
  else if (mutations == 0) {
    auto round = DecodeEntry(AsBytes(entry), kNamespace, kId);
    if (!round.ok() || round->kv_bytes != kv) std::abort();  // an intact entry must round-trip
  }
  DecodeAll(AsBytes(entry));
  return 0;
}
