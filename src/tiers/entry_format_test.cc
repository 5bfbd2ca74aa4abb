#include "tiers/entry_format.h"

#include <gtest/gtest.h>

#include <random>

#include "tiers/synthetic_kv.h"

namespace swarmkv {
namespace {

const Hash128 kNs{0x1111, 0x2222};

struct Fixture {
  EntryLayout layout = SmolLm2KvLayout();
  EntryMeta meta = SyntheticMeta(layout, kNs, Hash128{7, 8}, 1);
  std::vector<uint8_t> kv = SyntheticKvBlock(layout, 1);
};

TEST(EntryFormatTest, RoundTripsEveryByteAndTheMeta) {
  Fixture f;
  auto enc = EncodeEntry(f.meta, f.kv, {}, {.zstd_level = 1, .min_saving = 0.01});
  ASSERT_TRUE(enc.ok()) << enc.status().ToString();
  EXPECT_LT(enc->size(), f.kv.size());  // zstd frames (f16 exponents compress a little)
  auto dec = DecodeEntry(AsBytes(*enc), kNs, f.meta.id);
  ASSERT_TRUE(dec.ok()) << dec.status().ToString();
  EXPECT_EQ(dec->kv_bytes, f.kv);
  EXPECT_TRUE(dec->state.empty());
  EXPECT_EQ(dec->header.meta.tokens, f.meta.tokens);
  EXPECT_EQ(dec->header.meta.parent, f.meta.parent);
  EXPECT_EQ(dec->header.meta.layout, f.layout);
  for (const auto& sec : dec->header.layers) EXPECT_EQ(sec.codec, SectionCodec::kZstd);
  // With the default threshold (20% saving) this barely compressible data is stored raw.
  auto raw = EncodeEntry(f.meta, f.kv, {});
  auto raw_dec = DecodeEntry(AsBytes(*raw), kNs, f.meta.id);
  ASSERT_TRUE(raw_dec.ok());
  EXPECT_EQ(raw_dec->header.layers[0].codec, SectionCodec::kRaw);
  EXPECT_EQ(raw_dec->kv_bytes, f.kv);
  // Highly compressible layers are compressed under the default threshold.
  std::vector<uint8_t> zeros(f.kv.size(), 0);
  auto z = EncodeEntry(f.meta, zeros, {});
  EXPECT_LT(z->size(), 10000u);
  EXPECT_EQ(DecodeEntry(AsBytes(*z), kNs, f.meta.id)->kv_bytes, zeros);
}

TEST(EntryFormatTest, OneLayerDecodesAloneEvenWhenAnotherIsCorrupt) {
  Fixture f;
  std::string enc = EncodeEntry(f.meta, f.kv, {}, {.zstd_level = 1, .min_saving = 0}).value();
  auto h = DecodeEntryHeader(AsBytes(enc), kNs, f.meta.id).value();
  enc[h.layers[3].offset + 5] ^= 0x40;  // damage layer 3 only
  std::vector<uint8_t> out(f.layout.layer_bytes);
  ASSERT_TRUE(DecodeLayer(AsBytes(enc), h, 7, out).ok());
  EXPECT_TRUE(std::equal(out.begin(), out.end(), f.kv.begin() + 7 * f.layout.layer_bytes));
  EXPECT_EQ(DecodeLayer(AsBytes(enc), h, 3, out).code(), StatusCode::kCorruption);
  EXPECT_EQ(DecodeLayer(AsBytes(enc), h, 30, out).code(), StatusCode::kOutOfRange);
}

TEST(EntryFormatTest, IncompressibleLayersAreStoredRaw) {
  Fixture f;
  std::mt19937_64 rng(3);
  for (auto& b : f.kv) b = static_cast<uint8_t>(rng());
  std::string enc = EncodeEntry(f.meta, f.kv, {}).value();
  auto h = DecodeEntryHeader(AsBytes(enc), kNs, f.meta.id).value();
  for (const auto& s : h.layers) EXPECT_EQ(s.codec, SectionCodec::kRaw);
  EXPECT_EQ(DecodeEntry(AsBytes(enc), kNs, f.meta.id)->kv_bytes, f.kv);
  // Level 0 disables compression altogether.
  Fixture g;
  std::string raw = EncodeEntry(g.meta, g.kv, {}, {.zstd_level = 0}).value();
  EXPECT_GT(raw.size(), g.kv.size());
  EXPECT_EQ(DecodeEntry(AsBytes(raw), kNs, g.meta.id)->kv_bytes, g.kv);
}

TEST(EntryFormatTest, RecurrentStateTravelsAndIsVerified) {
  Fixture f;
  std::vector<uint8_t> state(1000);
  for (size_t i = 0; i < state.size(); ++i) state[i] = static_cast<uint8_t>(i * 7);
  f.meta.state_bytes = state.size();
  std::string enc = EncodeEntry(f.meta, f.kv, state).value();
  auto dec = DecodeEntry(AsBytes(enc), kNs, f.meta.id);
  ASSERT_TRUE(dec.ok());
  EXPECT_EQ(dec->state, state);
  enc[dec->header.state.offset] ^= 1;
  EXPECT_EQ(DecodeEntry(AsBytes(enc), kNs, f.meta.id).status().code(), StatusCode::kCorruption);
}

// A pure recurrent model's block (mamba2): no KV layer, only the state section. It round-trips
// through both decoders and is verified like any other; layer bytes without layers are refused.
TEST(EntryFormatTest, StateOnlyEntryHasNoKvSections) {
  EntryLayout layout = SmolLm2KvLayout();
  layout.num_layers = 0;
  layout.num_kv_heads = layout.head_dim_k = layout.head_dim_v = 0;
  layout.layer_bytes = 0;
  EntryMeta meta = SyntheticMeta(layout, kNs, Hash128{7, 8}, 1);
  std::vector<uint8_t> state(5000);
  for (size_t i = 0; i < state.size(); ++i) state[i] = static_cast<uint8_t>(i * 13 + 1);
  meta.state_bytes = state.size();
  std::string enc = EncodeEntry(meta, {}, state).value();
  auto dec = DecodeEntry(AsBytes(enc), kNs, meta.id);
  ASSERT_TRUE(dec.ok()) << dec.status().ToString();
  EXPECT_TRUE(dec->kv_bytes.empty());
  EXPECT_TRUE(dec->header.layers.empty());
  EXPECT_EQ(dec->state, state);
  EXPECT_EQ(dec->header.meta.layout, layout);
  std::vector<uint8_t> scratch;
  auto view = VerifyEntry(AsBytes(enc), dec->header, &scratch);
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  EXPECT_TRUE(view->kv_bytes.empty());
  EXPECT_TRUE(std::equal(view->state.begin(), view->state.end(), state.begin(), state.end()));
  for (size_t n = 0; n < enc.size(); n += 7)
    ASSERT_EQ(DecodeEntry(AsBytes(std::string_view(enc).substr(0, n)), kNs, meta.id).status().code(),
              StatusCode::kCorruption) << "length " << n;
  enc[dec->header.state.offset + 9] ^= 4;
  EXPECT_EQ(DecodeEntry(AsBytes(enc), kNs, meta.id).status().code(), StatusCode::kCorruption);
  // A block stored without its checkpoint (a checkpoint interval skips it) keeps only its tokens.
  meta.state_bytes = 0;
  std::string bare = EncodeEntry(meta, {}, {}).value();
  auto bare_dec = DecodeEntry(AsBytes(bare), kNs, meta.id);
  ASSERT_TRUE(bare_dec.ok()) << bare_dec.status().ToString();
  EXPECT_TRUE(bare_dec->kv_bytes.empty() && bare_dec->state.empty());
  EXPECT_EQ(bare_dec->header.meta.tokens, meta.tokens);
  // Invalid: KV bytes for a layout without layers, layer bytes without layers.
  meta.state_bytes = state.size();
  std::vector<uint8_t> kv(64);
  EXPECT_EQ(EncodeEntry(meta, kv, state).status().code(), StatusCode::kInvalidArgument);
  meta.layout.layer_bytes = 64;
  EXPECT_EQ(EncodeEntry(meta, {}, state).status().code(), StatusCode::kInvalidArgument);
}

TEST(EntryFormatTest, RejectsInconsistentInput) {
  Fixture f;
  EXPECT_EQ(EncodeEntry(f.meta, std::span(f.kv).first(100), {}).status().code(), StatusCode::kInvalidArgument);
  f.meta.tokens.pop_back();
  EXPECT_EQ(EncodeEntry(f.meta, f.kv, {}).status().code(), StatusCode::kInvalidArgument);
}

TEST(EntryFormatTest, ForeignNamespaceOrIdentityIsCorruption) {
  Fixture f;
  std::string enc = EncodeEntry(f.meta, f.kv, {}).value();
  auto other_ns = DecodeEntry(AsBytes(enc), Hash128{1, 2}, f.meta.id);
  EXPECT_EQ(other_ns.status().code(), StatusCode::kCorruption);
  EXPECT_NE(other_ns.status().message().find("namespace"), std::string::npos);
  EXPECT_EQ(DecodeEntry(AsBytes(enc), kNs, Hash128{3, 4}).status().code(), StatusCode::kCorruption);
}

TEST(EntryFormatTest, EveryTruncationIsCorruption) {
  Fixture f;
  std::string enc = EncodeEntry(f.meta, f.kv, {}).value();
  for (size_t n = 0; n < enc.size(); n += (n < 2000 ? 1 : 997)) {
    auto r = DecodeEntry(AsBytes(std::string_view(enc).substr(0, n)), kNs, f.meta.id);
    ASSERT_EQ(r.status().code(), StatusCode::kCorruption) << "length " << n;
  }
  std::string longer = enc + "x";
  EXPECT_EQ(DecodeEntry(AsBytes(longer), kNs, f.meta.id).status().code(), StatusCode::kCorruption);
}

TEST(EntryFormatTest, EveryHeaderByteFlipIsDetected) {
  Fixture f;
  std::string enc = EncodeEntry(f.meta, f.kv, {}).value();
  auto h = DecodeEntryHeader(AsBytes(enc), kNs, f.meta.id).value();
  for (size_t i = 0; i < h.header_bytes; ++i) {
    enc[i] ^= 0x01;  // flipped in place and back: no copy of the 700 KiB entry per byte
    ASSERT_FALSE(DecodeEntryHeader(AsBytes(enc), kNs, f.meta.id).ok()) << "byte " << i;
    enc[i] ^= 0x01;
  }
  EXPECT_TRUE(DecodeEntry(AsBytes(enc), kNs, f.meta.id).ok());
}

TEST(EntryFormatTest, PayloadByteFlipsAreDetected) {
  Fixture f;
  std::string enc = EncodeEntry(f.meta, f.kv, {}, {.zstd_level = 1, .min_saving = 0}).value();
  std::mt19937 rng(9);
  for (int i = 0; i < 100; ++i) {
    size_t pos = 200 + rng() % (enc.size() - 200);
    const char bit = static_cast<char>(1 << (rng() % 8));
    enc[pos] ^= bit;
    auto r = DecodeEntry(AsBytes(enc), kNs, f.meta.id);
    // A flip inside the header is caught by the header checksum; in a section by its checksum.
    ASSERT_EQ(r.status().code(), StatusCode::kCorruption) << "byte " << pos;
    enc[pos] ^= bit;
  }
}

TEST(EntryFormatTest, GarbageNeverCrashes) {
  std::mt19937_64 rng(5);
  for (int i = 0; i < 2000; ++i) {
    std::string junk(rng() % 600, '\0');
    for (auto& c : junk) c = static_cast<char>(rng());
    if (i % 2 == 0 && junk.size() >= 8) junk.replace(0, 8, "SKVBLOCK");
    EXPECT_FALSE(DecodeEntry(AsBytes(junk), kNs, Hash128{}).ok());
  }
}

}  // namespace
}  // namespace swarmkv
