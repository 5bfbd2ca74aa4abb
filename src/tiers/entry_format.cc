#include "tiers/entry_format.h"

#include "tiers/entry_mac.h"

#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <memory>

namespace swarmkv {
namespace {

constexpr char kMagic[8] = {'S', 'K', 'V', 'B', 'L', 'O', 'C', 'K'};
constexpr uint64_t kFixedBytes = 112;
constexpr uint64_t kSectionRecordBytes = 40;
// Sanity limits: a header beyond these is corrupt, not a model we could have written.
constexpr uint32_t kMaxLayers = 4096;
constexpr uint32_t kMaxBlockTokens = 1 << 16;
constexpr uint64_t kMaxLayerBytes = 1ull << 30;
constexpr uint64_t kMaxStateBytes = 1ull << 32;

class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}
  void Bytes(const void* p, size_t n) { out_->append(static_cast<const char*>(p), n); }
  void U8(uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void U32(uint32_t v) { for (int i = 0; i < 4; ++i) U8(static_cast<uint8_t>(v >> (8 * i))); }
  void U64(uint64_t v) { for (int i = 0; i < 8; ++i) U8(static_cast<uint8_t>(v >> (8 * i))); }
  void H128(const Hash128& h) { U64(h.lo); U64(h.hi); }

 private:
  std::string* out_;
};

uint32_t LoadU32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint64_t LoadU64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
Hash128 LoadH128(const uint8_t* p) { return Hash128{LoadU64(p), LoadU64(p + 8)}; }
void StoreU64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// The KV sections' sizes: 1..kMaxLayers layers of 1..kMaxLayerBytes, or none at all for a block
// of a state-only namespace (a pure recurrent model: no KV layer, 0 layer bytes). Such a block
// carries its recurrent state, or nothing but its tokens (a block a checkpoint interval skips).
bool SaneKvSizes(const EntryLayout& l) {
  if (l.num_layers == 0) return l.layer_bytes == 0;
  return l.num_layers <= kMaxLayers && l.layer_bytes > 0 && l.layer_bytes <= kMaxLayerBytes;
}

uint64_t HeaderBytes(uint64_t num_tokens, uint64_t num_layers) {
  return kFixedBytes + 4 * num_tokens + kSectionRecordBytes * (num_layers + 1) + 8;
}

ZSTD_CCtx* ThreadCCtx() {
  thread_local std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> ctx(ZSTD_createCCtx(), &ZSTD_freeCCtx);
  return ctx.get();
}
ZSTD_DCtx* ThreadDCtx() {
  thread_local std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> ctx(ZSTD_createDCtx(), &ZSTD_freeDCtx);
  return ctx.get();
}

// Appends one section (compressed when that pays) to `out`, filling `section`.
void AppendSection(std::span<const uint8_t> raw, const EntryEncodeOptions& options, std::string* out,
                   EntrySection* section) {
  section->offset = out->size();
  section->raw_bytes = raw.size();
  section->codec = SectionCodec::kRaw;
  if (!raw.empty() && options.zstd_level > 0) {
    size_t bound = ZSTD_compressBound(raw.size());
    out->resize(section->offset + bound);
    size_t n = ZSTD_compressCCtx(ThreadCCtx(), out->data() + section->offset, bound, raw.data(), raw.size(),
                                 options.zstd_level);
    if (!ZSTD_isError(n) && static_cast<double>(n) <= static_cast<double>(raw.size()) * (1.0 - options.min_saving)) {
      out->resize(section->offset + n);
      section->codec = SectionCodec::kZstd;
    } else {
      out->resize(section->offset);
    }
  }
  if (section->codec == SectionCodec::kRaw) out->append(reinterpret_cast<const char*>(raw.data()), raw.size());
  section->stored_bytes = out->size() - section->offset;
  section->checksum = Checksum64(out->data() + section->offset, section->stored_bytes);
}

Status DecodeSection(std::span<const uint8_t> entry, const EntrySection& s, std::string_view what,
                     std::span<uint8_t> out) {
  if (out.size() != s.raw_bytes) {
    return InvalidArgumentError("entry " + std::string(what) + ": output buffer has " + std::to_string(out.size()) +
                                " bytes, section holds " + std::to_string(s.raw_bytes));
  }
  const uint8_t* p = entry.data() + s.offset;
  if (Checksum64(p, s.stored_bytes) != s.checksum) {
    return CorruptionError("entry " + std::string(what) + ": checksum mismatch");
  }
  if (s.codec == SectionCodec::kRaw) {
    if (s.stored_bytes) std::memcpy(out.data(), p, s.stored_bytes);
    return Status::OK();
  }
  unsigned long long content = ZSTD_getFrameContentSize(p, s.stored_bytes);
  if (content != s.raw_bytes) {
    return CorruptionError("entry " + std::string(what) + ": zstd frame content size does not match the header");
  }
  size_t n = ZSTD_decompressDCtx(ThreadDCtx(), out.data(), out.size(), p, s.stored_bytes);
  if (ZSTD_isError(n) || n != s.raw_bytes) {
    return CorruptionError("entry " + std::string(what) + ": zstd frame does not decode (" +
                           (ZSTD_isError(n) ? std::string(ZSTD_getErrorName(n)) : "short") + ")");
  }
  return Status::OK();
}

}  // namespace

Result<std::string> EncodeEntry(const EntryMeta& meta, std::span<const uint8_t> kv_bytes,
                                std::span<const uint8_t> state, const EntryEncodeOptions& options) {
  const EntryLayout& l = meta.layout;
  if (!SaneKvSizes(l) || l.block_tokens == 0 || l.block_tokens > kMaxBlockTokens) {
    return InvalidArgumentError("EncodeEntry: bad layout (layers " + std::to_string(l.num_layers) + ", layer bytes " +
                                std::to_string(l.layer_bytes) + ", block tokens " + std::to_string(l.block_tokens) + ")");
  }
  if (meta.tokens.size() != l.block_tokens) {
    return InvalidArgumentError("EncodeEntry: " + std::to_string(meta.tokens.size()) + " tokens for a block of " +
                                std::to_string(l.block_tokens));
  }
  if (kv_bytes.size() != l.block_bytes()) {
    return InvalidArgumentError("EncodeEntry: " + std::to_string(kv_bytes.size()) + " KV bytes, layout says " +
                                std::to_string(l.block_bytes()));
  }
  if (state.size() != meta.state_bytes || meta.state_bytes > kMaxStateBytes) {
    return InvalidArgumentError("EncodeEntry: state has " + std::to_string(state.size()) + " bytes, meta says " +
                                std::to_string(meta.state_bytes));
  }
  const uint64_t header_bytes = HeaderBytes(meta.tokens.size(), l.num_layers);
  std::string out;
  out.reserve(header_bytes + kv_bytes.size() + state.size());
  Writer w(&out);
  w.Bytes(kMagic, sizeof(kMagic));
  w.U32(options.mac != nullptr ? kKeyedEntryFormatVersion : kEntryFormatVersion);
  w.U32(static_cast<uint32_t>(header_bytes));
  w.H128(meta.namespace_id);
  w.H128(meta.id);
  w.H128(meta.parent);
  for (uint32_t v : {l.k_type, l.v_type, l.num_layers, l.num_kv_heads, l.head_dim_k, l.head_dim_v, l.block_tokens,
                     static_cast<uint32_t>(meta.tokens.size())}) {
    w.U32(v);
  }
  w.U64(l.layer_bytes);
  w.U64(meta.state_bytes);
  for (int32_t t : meta.tokens) w.U32(static_cast<uint32_t>(t));
  const uint64_t records_offset = out.size();
  out.resize(header_bytes);  // section records and header checksum are filled in below

  std::vector<EntrySection> sections(l.num_layers + 1);
  for (uint32_t i = 0; i < l.num_layers; ++i) {
    AppendSection(kv_bytes.subspan(i * l.layer_bytes, l.layer_bytes), options, &out, &sections[i]);
  }
  AppendSection(state, options, &out, &sections[l.num_layers]);

  auto* base = reinterpret_cast<uint8_t*>(out.data());
  for (size_t i = 0; i < sections.size(); ++i) {
    uint8_t* r = base + records_offset + i * kSectionRecordBytes;
    StoreU64(r, sections[i].offset);
    StoreU64(r + 8, sections[i].stored_bytes);
    StoreU64(r + 16, sections[i].raw_bytes);
    StoreU64(r + 24, sections[i].checksum);
    std::memset(r + 32, 0, 8);
    r[32] = static_cast<uint8_t>(sections[i].codec);
  }
  StoreU64(base + header_bytes - 8, Checksum64(base, header_bytes - 8));
  if (options.mac != nullptr) {
    const EntryMacKey::Tag tag = options.mac->Compute(AsBytes(out));
    out.append(reinterpret_cast<const char*>(tag.data()), tag.size());
  }
  return out;
}

Result<EntryHeader> DecodeEntryHeader(std::span<const uint8_t> entry, const Hash128& expected_namespace,
                                      const Hash128& expected_id, const EntryMacKey* mac, bool* mac_failed) {
  if (mac_failed != nullptr) *mac_failed = false;
  const uint8_t* p = entry.data();
  if (entry.size() < kFixedBytes) {
    if (mac_failed != nullptr) *mac_failed = mac != nullptr;
    return CorruptionError("entry truncated: " + std::to_string(entry.size()) + " bytes, shorter than the header");
  }
  if (std::memcmp(p, kMagic, sizeof(kMagic)) != 0) {
    if (mac_failed != nullptr) *mac_failed = mac != nullptr;
    return CorruptionError("entry: bad magic (not a swarmkv KV block)");
  }
  uint32_t version = LoadU32(p + 8);
  if (mac != nullptr) {
    // Keyed: nothing of the entry is trusted before its tag verifies.
    if (mac_failed != nullptr) *mac_failed = true;
    if (version != kKeyedEntryFormatVersion) {
      return CorruptionError("entry has no MAC (format version " + std::to_string(version) +
                             ") but this server reads only entries signed with its --kv-secret");
    }
    if (entry.size() < kFixedBytes + EntryMacKey::kTagBytes ||
        !mac->Verify(entry.first(entry.size() - EntryMacKey::kTagBytes), entry.last(EntryMacKey::kTagBytes))) {
      return CorruptionError("entry MAC does not verify (forged, damaged, or written with another --kv-secret)");
    }
    if (mac_failed != nullptr) *mac_failed = false;
    entry = entry.first(entry.size() - EntryMacKey::kTagBytes);
  } else if (version == kKeyedEntryFormatVersion) {
    return CorruptionError("entry is signed (written with --kv-secret) but this server has no --kv-secret");
  } else if (version != kEntryFormatVersion) {
    return CorruptionError("entry: format version " + std::to_string(version) + ", this build reads " +
                           std::to_string(kEntryFormatVersion) + " and " + std::to_string(kKeyedEntryFormatVersion));
  }
  EntryHeader h;
  EntryMeta& m = h.meta;
  h.header_bytes = LoadU32(p + 12);
  m.namespace_id = LoadH128(p + 16);
  m.id = LoadH128(p + 32);
  m.parent = LoadH128(p + 48);
  EntryLayout& l = m.layout;
  l.k_type = LoadU32(p + 64);
  l.v_type = LoadU32(p + 68);
  l.num_layers = LoadU32(p + 72);
  l.num_kv_heads = LoadU32(p + 76);
  l.head_dim_k = LoadU32(p + 80);
  l.head_dim_v = LoadU32(p + 84);
  l.block_tokens = LoadU32(p + 88);
  uint32_t num_tokens = LoadU32(p + 92);
  l.layer_bytes = LoadU64(p + 96);
  m.state_bytes = LoadU64(p + 104);
  if (!SaneKvSizes(l) || l.block_tokens == 0 || l.block_tokens > kMaxBlockTokens ||
      num_tokens != l.block_tokens || m.state_bytes > kMaxStateBytes) {
    return CorruptionError("entry: absurd sizes in header (layers " + std::to_string(l.num_layers) + ", tokens " +
                           std::to_string(num_tokens) + ", layer bytes " + std::to_string(l.layer_bytes) + ")");
  }
  if (h.header_bytes != HeaderBytes(num_tokens, l.num_layers)) {
    return CorruptionError("entry: header size " + std::to_string(h.header_bytes) + " does not match its contents");
  }
  if (entry.size() < h.header_bytes) {
    return CorruptionError("entry truncated: " + std::to_string(entry.size()) + " bytes, header needs " +
                           std::to_string(h.header_bytes));
  }
  if (Checksum64(p, h.header_bytes - 8) != LoadU64(p + h.header_bytes - 8)) {
    return CorruptionError("entry: header checksum mismatch");
  }
  if (m.namespace_id != expected_namespace) {
    return CorruptionError("entry belongs to namespace " + m.namespace_id.ToHex() + ", expected " +
                           expected_namespace.ToHex());
  }
  if (m.id != expected_id) {
    return CorruptionError("entry holds block " + m.id.ToHex() + ", stored under key " + expected_id.ToHex());
  }
  m.tokens.resize(num_tokens);
  for (uint32_t i = 0; i < num_tokens; ++i) m.tokens[i] = static_cast<int32_t>(LoadU32(p + kFixedBytes + 4 * i));
  const uint8_t* records = p + kFixedBytes + 4ull * num_tokens;
  h.layers.resize(l.num_layers);
  h.total_bytes = h.header_bytes;
  for (uint32_t i = 0; i <= l.num_layers; ++i) {
    const uint8_t* r = records + i * kSectionRecordBytes;
    EntrySection s{LoadU64(r), LoadU64(r + 8), LoadU64(r + 16), static_cast<SectionCodec>(r[32]), LoadU64(r + 24)};
    const uint64_t want_raw = i < l.num_layers ? l.layer_bytes : m.state_bytes;
    if (s.raw_bytes != want_raw || r[32] > 1 ||
        (s.codec == SectionCodec::kRaw && s.stored_bytes != s.raw_bytes) || s.offset < h.header_bytes ||
        s.offset > entry.size() || s.stored_bytes > entry.size() - s.offset) {
      return CorruptionError("entry: section " + std::to_string(i) + " out of bounds or inconsistent (offset " +
                             std::to_string(s.offset) + ", " + std::to_string(s.stored_bytes) + " bytes of " +
                             std::to_string(entry.size()) + ")");
    }
    h.total_bytes = std::max(h.total_bytes, s.offset + s.stored_bytes);
    if (i < l.num_layers) h.layers[i] = s; else h.state = s;
  }
  if (h.total_bytes != entry.size()) {
    return CorruptionError("entry: " + std::to_string(entry.size() - h.total_bytes) + " trailing bytes");
  }
  return h;
}

Status DecodeLayer(std::span<const uint8_t> entry, const EntryHeader& header, uint32_t layer,
                   std::span<uint8_t> out) {
  if (layer >= header.layers.size()) {
    return OutOfRangeError("entry layer " + std::to_string(layer) + " of " + std::to_string(header.layers.size()));
  }
  return DecodeSection(entry, header.layers[layer], "layer " + std::to_string(layer), out);
}

Result<DecodedEntry> DecodeEntry(std::span<const uint8_t> entry, const Hash128& expected_namespace,
                                 const Hash128& expected_id, const EntryMacKey* mac) {
  DecodedEntry d;
  SKV_ASSIGN_OR_RETURN(d.header, DecodeEntryHeader(entry, expected_namespace, expected_id, mac));
  const EntryLayout& l = d.header.meta.layout;
  d.kv_bytes.resize(l.block_bytes());
  for (uint32_t i = 0; i < l.num_layers; ++i) {
    SKV_RETURN_IF_ERROR(DecodeLayer(entry, d.header, i,
                                    std::span<uint8_t>(d.kv_bytes).subspan(i * l.layer_bytes, l.layer_bytes)));
  }
  d.state.resize(d.header.meta.state_bytes);
  SKV_RETURN_IF_ERROR(DecodeSection(entry, d.header.state, "state", d.state));
  return d;
}

Result<EntryView> VerifyEntry(std::span<const uint8_t> entry, const EntryHeader& header, std::vector<uint8_t>* scratch) {
  const EntryLayout& l = header.meta.layout;
  bool contiguous_raw = true;
  for (uint32_t i = 0; i < l.num_layers && contiguous_raw; ++i) {
    const EntrySection& s = header.layers[i];
    contiguous_raw = s.codec == SectionCodec::kRaw && s.offset == header.layers[0].offset + i * l.layer_bytes;
  }
  const uint64_t scratch_bytes = (contiguous_raw ? 0 : l.block_bytes()) + header.meta.state_bytes;
  if (scratch->size() < scratch_bytes) scratch->resize(scratch_bytes);
  EntryView v;
  if (contiguous_raw) {
    for (uint32_t i = 0; i < l.num_layers; ++i) {
      const EntrySection& s = header.layers[i];
      if (Checksum64(entry.data() + s.offset, s.stored_bytes) != s.checksum) {
        return CorruptionError("entry layer " + std::to_string(i) + ": checksum mismatch");
      }
    }
    if (l.num_layers > 0) v.kv_bytes = entry.subspan(header.layers[0].offset, l.block_bytes());  // else none
  } else {
    std::span<uint8_t> kv(scratch->data(), l.block_bytes());
    for (uint32_t i = 0; i < l.num_layers; ++i) {
      SKV_RETURN_IF_ERROR(DecodeLayer(entry, header, i, kv.subspan(i * l.layer_bytes, l.layer_bytes)));
    }
    v.kv_bytes = kv;
  }
  const EntrySection& st = header.state;
  if (st.codec == SectionCodec::kRaw) {
    if (Checksum64(entry.data() + st.offset, st.stored_bytes) != st.checksum) {
      return CorruptionError("entry state: checksum mismatch");
    }
    v.state = entry.subspan(st.offset, st.stored_bytes);
  } else {
    std::span<uint8_t> state(scratch->data() + (scratch_bytes - header.meta.state_bytes), header.meta.state_bytes);
    SKV_RETURN_IF_ERROR(DecodeSection(entry, st, "state", state));
    v.state = state;
  }
  return v;
}

}  // namespace swarmkv
