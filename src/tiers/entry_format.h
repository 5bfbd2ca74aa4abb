// Entry format: the bytes of one KV block as stored in a lower tier (disk file, Redis value).
//
//   header   fixed part (magic "SKVBLOCK", format version, header size, namespace id, block id,
//            parent id, K/V dtypes, L/H/Dk/Dv/B, layer bytes, state bytes, token count)
//            | token ids (int32 LE) | one section record per layer (+1 for recurrent state):
//            {offset, stored size, raw size, codec, xxh3-64 of the stored bytes}
//            | xxh3-64 of everything above (header checksum)
//   sections each layer's slice of the block as its own zstd frame, or raw when compression
//            does not pay; then the recurrent-state section (hybrid models), if any. A
//            pure recurrent model's block (mamba2: L = 0, layer bytes 0) has only the state
//            section (empty for a block stored without a checkpoint).
//   tag      keyed entries only (format version 2, written with --kv-secret): HMAC-SHA256 of every
//            byte before it (entry_mac.h). Version 1 entries have no tag. A reader with a key
//            accepts only version 2 entries whose tag verifies; a reader without one only version
//            1 — the other kind is a Corruption naming the mismatch, never silently used.
//
// So one layer can be read and verified without touching the others (DecodeLayer), which is what
// attention over context beyond RAM will stream.
//
// Invariant: Decode* never returns bytes that were not verified: magic, version, the MAC (keyed
// readers: checked first, over the whole entry), header checksum, expected namespace and
// identity, sane sizes, section bounds, section checksum and exact decompressed size. Anything else is a Corruption status naming what failed; no input crashes.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/hash.h"
#include "base/status.h"

namespace swarmkv {

inline constexpr uint32_t kEntryFormatVersion = 1;       // no MAC
inline constexpr uint32_t kKeyedEntryFormatVersion = 2;  // ends with an HMAC-SHA256 tag

class EntryMacKey;

// What the entry says about the KV it holds (the KvShape of the namespace, as plain numbers so the
// format does not depend on in-memory types). Dtypes are ggml type ids (gguf/tensor_type.h).
struct EntryLayout {
  uint32_t k_type = 1;  // f16
  uint32_t v_type = 1;
  uint32_t num_layers = 0;
  uint32_t num_kv_heads = 0;
  uint32_t head_dim_k = 0;
  uint32_t head_dim_v = 0;
  uint32_t block_tokens = 0;
  uint64_t layer_bytes = 0;  // bytes of one layer's slice of the block

  bool operator==(const EntryLayout&) const = default;
  uint64_t block_bytes() const { return layer_bytes * num_layers; }
};

// Identity and content description of one stored block.
struct EntryMeta {
  Hash128 namespace_id;
  Hash128 id;
  Hash128 parent;  // zero for a sequence's first block
  std::vector<int32_t> tokens;
  EntryLayout layout;
  uint64_t state_bytes = 0;  // recurrent-state checkpoint size (0 for pure-attention models)
};

struct EntryEncodeOptions {
  int zstd_level = 1;  // 1 is fast and already gets most of the gain on f16 KV (docs/benchmarks/tiers.md)
  // A layer is stored compressed only when that saves at least this share of its bytes;
  // otherwise raw (decoding raw is a memcpy). zstd decodes f16 KV at ~0.45 GB/s on one core while
  // a local SSD reads ~2 GB/s, so a small saving makes restores slower: only a large one pays.
  double min_saving = 0.20;
  // Non-null: a keyed entry (version 2) whose tag is computed with this key. Not owned.
  const EntryMacKey* mac = nullptr;
};

enum class SectionCodec : uint8_t { kRaw = 0, kZstd = 1 };

struct EntrySection {
  uint64_t offset = 0;       // from the start of the entry
  uint64_t stored_bytes = 0;
  uint64_t raw_bytes = 0;
  SectionCodec codec = SectionCodec::kRaw;
  uint64_t checksum = 0;     // Checksum64 of the stored bytes
};

struct EntryHeader {
  EntryMeta meta;
  std::vector<EntrySection> layers;  // num_layers sections
  EntrySection state;                // stored_bytes == 0 when there is no state
  uint64_t header_bytes = 0;
  uint64_t total_bytes = 0;          // the end of the last section
};

// Encodes a block. `kv_bytes` is the block in the KV layout (meta.layout.block_bytes() bytes);
// `state` is meta.state_bytes bytes. InvalidArgument when the sizes disagree with `meta`.
Result<std::string> EncodeEntry(const EntryMeta& meta, std::span<const uint8_t> kv_bytes,
                                std::span<const uint8_t> state, const EntryEncodeOptions& options = {});

// Parses and verifies the header. `expected_namespace` / `expected_id` must match the entry's
// (a foreign entry under the right key is Corruption). Section bounds are checked against
// `entry.size()` (truncation is Corruption) but section contents are not read.
// `mac` non-null: the entry must be keyed and its tag must verify under that key (checked before
// anything else is parsed); *mac_failed (when given) is set when that is what failed — an entry
// without a tag, or with a tag that does not verify (forged, or another secret's).
Result<EntryHeader> DecodeEntryHeader(std::span<const uint8_t> entry, const Hash128& expected_namespace,
                                      const Hash128& expected_id, const EntryMacKey* mac = nullptr,
                                      bool* mac_failed = nullptr);

// Verifies and decodes one layer's slice into `out` (exactly layout.layer_bytes bytes).
Status DecodeLayer(std::span<const uint8_t> entry, const EntryHeader& header, uint32_t layer,
                   std::span<uint8_t> out);

// A whole decoded block: verified header, the block's KV bytes and recurrent state.
struct DecodedEntry {
  EntryHeader header;
  std::vector<uint8_t> kv_bytes;
  std::vector<uint8_t> state;
};
Result<DecodedEntry> DecodeEntry(std::span<const uint8_t> entry, const Hash128& expected_namespace,
                                 const Hash128& expected_id, const EntryMacKey* mac = nullptr);

// A verified entry's block without a copy where possible (the restore path): the KV bytes point
// into `entry` itself when every layer is stored raw (the sections are then contiguous, in layer
// order), otherwise into `scratch` (decoded). Every section's checksum and size is verified, as
// in DecodeEntry. Spans are valid while `entry` and `scratch` are unchanged.
struct EntryView {
  std::span<const uint8_t> kv_bytes;
  std::span<const uint8_t> state;
};
// `header` must come from DecodeEntryHeader(entry, ...). `scratch` is resized as needed (reuse it).
Result<EntryView> VerifyEntry(std::span<const uint8_t> entry, const EntryHeader& header, std::vector<uint8_t>* scratch);

inline std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace swarmkv
