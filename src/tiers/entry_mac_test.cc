// EntryMacKey (HMAC-SHA256 against RFC 4231), keyed entries (entry_format.h version 2), and the
// tier manager's keyed names and MAC rejections over a real disk directory. The same against
// real files shared by processes and a real redis-server: tests/tiers/kv_secret_test.cc.
#include "tiers/entry_mac.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "base/env.h"
#include "base/testing.h"
#include "tiers/restore_all.h"
#include "tiers/entry_format.h"
#include "tiers/synthetic_kv.h"
#include "tiers/tier_manager.h"
#include "tiers/tiers_test_util.h"

namespace swarmkv {
namespace {

const Hash128 kNs{0x5ec, 0x7e7};
const std::string kSecret = "correct horse battery staple";

std::string Hex(std::span<const uint8_t> b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (uint8_t c : b) (s += d[c >> 4]) += d[c & 15];
  return s;
}

std::shared_ptr<const EntryMacKey> Key(const std::string& secret = kSecret) {
  return EntryMacKey::FromSecret(secret).value();
}

TEST(EntryMacTest, IsHmacSha256AndRefusesShortSecrets) {
  // RFC 4231 test case 1: key 0x0b x 20, "Hi There".
  auto key = Key(std::string(20, '\x0b'));
  const std::string msg = "Hi There";
  const auto tag = key->Compute(AsBytes(msg));
  EXPECT_EQ(Hex(tag), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_TRUE(key->Verify(AsBytes(msg), tag));
  auto bad = tag;
  bad[31] ^= 1;
  EXPECT_FALSE(key->Verify(AsBytes(msg), bad));
  EXPECT_FALSE(key->Verify(AsBytes(msg), std::span(tag).first(16)));
  auto short_secret = EntryMacKey::FromSecret("fifteen bytes!!");
  ASSERT_FALSE(short_secret.ok());
  EXPECT_NE(short_secret.status().message().find("15 bytes"), std::string::npos) << short_secret.status().ToString();
  EXPECT_EQ(short_secret.status().message().find("fifteen"), std::string::npos) << "the secret is never echoed";
  // Storage names: deterministic per secret, unlike the id and another secret's.
  const Hash128 id{1, 2};
  EXPECT_EQ(Key()->StorageKey(id), Key()->StorageKey(id));
  EXPECT_NE(Key()->StorageKey(id), id);
  EXPECT_NE(Key()->StorageKey(id), Key("another secret, 24 bytes")->StorageKey(id));
}

TEST(EntryMacTest, SecretFromFlagFileOrEnvironment) {
  const std::string dir = testing::TempDir("kv-secret");
  const std::string file = dir + "/secret";
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(file, kSecret + "\n", false).ok());
  EXPECT_EQ(ResolveKvSecret("flag secret of 20 b", file, "env secret 16 bytes").value(), "flag secret of 20 b");
  EXPECT_EQ(ResolveKvSecret("", file, "env secret 16 bytes").value(), kSecret);
  EXPECT_EQ(ResolveKvSecret("", "", "env secret 16 bytes").value(), "env secret 16 bytes");
  EXPECT_EQ(ResolveKvSecret("", "", nullptr).value(), "");
  EXPECT_FALSE(ResolveKvSecret("short", "", nullptr).ok());
  EXPECT_FALSE(ResolveKvSecret("", dir + "/absent", nullptr).ok());
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(file, "\n", false).ok());
  EXPECT_FALSE(ResolveKvSecret("", file, nullptr).ok());
}

struct Block {
  EntryLayout layout = SmolLm2KvLayout();
  EntryMeta meta = SyntheticMeta(layout, kNs, Hash128{7, 8}, 3);
  std::vector<uint8_t> kv = SyntheticKvBlock(layout, 3);
};

TEST(EntryMacTest, KeyedEntriesRoundTripAndAnyChangedByteFailsTheMac) {
  Block b;
  auto key = Key();
  for (int zstd : {0, 1}) {
    std::string e = EncodeEntry(b.meta, b.kv, {}, {.zstd_level = zstd, .min_saving = 0.01, .mac = key.get()}).value();
    auto dec = DecodeEntry(AsBytes(e), kNs, b.meta.id, key.get());
    ASSERT_TRUE(dec.ok()) << dec.status().ToString();
    EXPECT_EQ(dec->kv_bytes, b.kv);
    // VerifyEntry over a keyed entry: the tag is not part of any section.
    auto header = DecodeEntryHeader(AsBytes(e), kNs, b.meta.id, key.get());
    ASSERT_TRUE(header.ok());
    std::vector<uint8_t> scratch;
    auto view = VerifyEntry(AsBytes(e), *header, &scratch);
    ASSERT_TRUE(view.ok()) << view.status().ToString();
    EXPECT_TRUE(std::equal(view->kv_bytes.begin(), view->kv_bytes.end(), b.kv.begin(), b.kv.end()));
    // Header, payload and tag bytes: each flip is a MAC failure.
    for (size_t at : {size_t{9}, size_t{40}, e.size() / 2, e.size() - 40, e.size() - 1}) {
      std::string bad = e;
      bad[at] ^= 0x01;
      bool mac_failed = false;
      auto r = DecodeEntryHeader(AsBytes(bad), kNs, b.meta.id, key.get(), &mac_failed);
      EXPECT_FALSE(r.ok()) << at;
      EXPECT_TRUE(mac_failed) << at << ": " << r.status().ToString();
    }
    bool mac_failed = false;
    EXPECT_FALSE(DecodeEntryHeader(AsBytes(e).first(e.size() - 1), kNs, b.meta.id, key.get(), &mac_failed).ok());
    EXPECT_TRUE(mac_failed);
  }
}

TEST(EntryMacTest, KeyedAndUnkeyedEntriesAreIncompatibleInAClearWay) {
  Block b;
  auto key = Key();
  const std::string keyed = EncodeEntry(b.meta, b.kv, {}, {.mac = key.get()}).value();
  const std::string plain = EncodeEntry(b.meta, b.kv, {}).value();
  const std::string other = EncodeEntry(b.meta, b.kv, {}, {.mac = Key("another secret, 24 bytes").get()}).value();
  EXPECT_EQ(keyed.size(), plain.size() + EntryMacKey::kTagBytes);
  bool mac_failed = true;
  auto r = DecodeEntryHeader(AsBytes(keyed), kNs, b.meta.id, nullptr, &mac_failed);
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(mac_failed);
  EXPECT_NE(r.status().message().find("signed (written with --kv-secret) but this server has no --kv-secret"), std::string::npos)
      << r.status().ToString();
  r = DecodeEntryHeader(AsBytes(plain), kNs, b.meta.id, key.get(), &mac_failed);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(mac_failed);
  EXPECT_NE(r.status().message().find("has no MAC"), std::string::npos) << r.status().ToString();
  r = DecodeEntryHeader(AsBytes(other), kNs, b.meta.id, key.get(), &mac_failed);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(mac_failed);
  EXPECT_NE(r.status().message().find("MAC does not verify"), std::string::npos) << r.status().ToString();
  EXPECT_TRUE(DecodeEntryHeader(AsBytes(plain), kNs, b.meta.id).ok());
}

// The manager with a key: entries under keyed names; a reader with the same secret restores
// them byte-exactly; another secret or none finds nothing (and erases nothing); an entry planted
// under a keyed name without the secret is dropped and counted as mac_rejected.
TEST(EntryMacTest, TierManagerStoresUnderKeyedNamesAndRejectsPlantedEntries) {
  const std::string dir = testing::TempDir("kv-secret-tm");
  auto disk = testing::OpenTierTestDisk(dir);
  const EntryLayout layout = SmolLm2KvLayout();
  std::vector<EntryMeta> metas;
  std::vector<std::vector<uint8_t>> kv;
  std::vector<Hash128> ids;
  Hash128 parent;
  for (int i = 0; i < 3; ++i) {
    metas.push_back(SyntheticMeta(layout, kNs, parent, 10 + i));
    kv.push_back(SyntheticKvBlock(layout, 10 + i));
    parent = metas.back().id;
    ids.push_back(parent);
  }
  auto key = Key();
  {
    TierManager writer({.tiers = {{disk.get(), true}}, .mac = key});
    for (int i = 0; i < 3; ++i)
      ASSERT_TRUE(writer.OnEvicted({kNs, metas[i].id, metas[i].parent, metas[i].tokens, kv[i], {}, layout}));
    writer.Flush();
    EXPECT_EQ(writer.stats().tiers[0].written, 3);
  }
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(disk->Contains(ids[i]).value()) << "not under the plain block id";
    EXPECT_TRUE(disk->Contains(key->StorageKey(ids[i])).value());
  }
  {
    TierManager same({.tiers = {{disk.get(), false}}, .mac = Key()});
    RestoredChain r = RestoreAll(same, kNs, Hash128{}, ids, layout);
    ASSERT_EQ(r.blocks.size(), 3u);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(r.blocks[i].kv_bytes, kv[i]) << i;
  }
  for (auto reader_key : {Key("another secret, 24 bytes"), std::shared_ptr<const EntryMacKey>()}) {
    TierManager other({.tiers = {{disk.get(), false}}, .mac = reader_key});
    EXPECT_TRUE(RestoreAll(other, kNs, Hash128{}, ids, layout).blocks.empty());
    EXPECT_EQ(other.stats().tiers[0].mac_rejected + other.stats().tiers[0].corrupt_dropped, 0);
  }
  // Planted without the secret: block 1 replaced by a well-formed unsigned entry with other KV,
  // block 2 by one signed with another secret.
  std::vector<uint8_t> forged_kv = SyntheticKvBlock(layout, 99);
  ASSERT_TRUE(disk->Put(key->StorageKey(ids[1]), AsBytes(EncodeEntry(metas[1], forged_kv, {}).value())).ok());
  auto other_key = Key("another secret, 24 bytes");
  ASSERT_TRUE(disk->Put(key->StorageKey(ids[2]),
                        AsBytes(EncodeEntry(metas[2], forged_kv, {}, {.mac = other_key.get()}).value())).ok());
  TierManager reader({.tiers = {{disk.get(), false}}, .mac = key});
  RestoredChain r = RestoreAll(reader, kNs, Hash128{}, ids, layout);
  ASSERT_EQ(r.blocks.size(), 1u) << "the chain ends at the first forged block";
  EXPECT_EQ(r.blocks[0].kv_bytes, kv[0]);
  // Both forged blocks were read (the restore's readers work ahead) and both dropped.
  EXPECT_EQ(reader.stats().tiers[0].mac_rejected, 2);
  EXPECT_EQ(reader.stats().tiers[0].corrupt_dropped, 0);
  EXPECT_FALSE(disk->Contains(key->StorageKey(ids[1])).value()) << "dropped";
  EXPECT_FALSE(disk->Contains(key->StorageKey(ids[2])).value()) << "dropped";
}

}  // namespace
}  // namespace swarmkv
