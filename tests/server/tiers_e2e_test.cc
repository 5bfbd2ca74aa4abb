// End-to-end: the KV tiers through the real `swarmkv serve` — restarts, Redis as the only tier
// (killed mid-run), --no-prefix-cache, corrupt disk entries, kill -9 of the server (during
// write-back, and with blocks that only the idle write-through persisted).
//
// The property checked everywhere: a reply computed from KV restored from any tier is identical
// to the reply computed from scratch (greedy, temperature 0), and the metrics say where each
// prompt token came from (computed, reused, restored from which tier).
#include <hiredis/hiredis.h>
#include <signal.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <iostream>
#include <regex>
#include <set>
#include <thread>

#include "base/env.h"
#include "base/testing.h"
#include "redis_server.h"
#include "test_pki.h"
#include "server_fixture.h"

namespace swarmkv::e2e {
namespace {

using json = nlohmann::json;

// A prompt of a few hundred tokens for the tiny models (their context is 512 or more).
std::string LongPrompt() {
  std::string p;
  const char* words[] = {"Once", "upon", "a", "time", "there", "was", "a", "little", "dog", "named", "Max.",
                         "He", "liked", "to", "play", "in", "the", "park", "with", "his", "red", "ball."};
  for (int i = 0; i < 170; ++i) p += std::string(words[i % 22]) + " ";
  return p;
}

class TiersE2ETest : public ServerE2ETest {
 protected:
  std::string kv_dir() const { return dir_ + "/kv"; }

  struct Reply {
    std::string text;
    double computed = 0, reused = 0;  // this request's prompt tokens (metric deltas)
  };
  Reply Generate(const std::string& prompt) {
    const double c0 = Metric("swarmkv_prompt_tokens_computed_total");
    const double r0 = Metric("swarmkv_prompt_tokens_reused_total");
    json body = {{"model", "tiny"}, {"prompt", prompt}, {"raw", true}, {"stream", false},
                 {"options", {{"num_predict", 24}, {"temperature", 0}, {"seed", 7}}}};
    auto [status, out] = Curl("POST", "/api/generate", body.dump());
    EXPECT_EQ(status, 200) << out;
    Reply r;
    json j = json::parse(out, nullptr, false);
    if (!j.is_discarded() && j.contains("response")) r.text = j["response"];
    r.computed = Metric("swarmkv_prompt_tokens_computed_total") - c0;
    r.reused = Metric("swarmkv_prompt_tokens_reused_total") - r0;
    return r;
  }

  void StopServer() {
    Status s = server_->Stop(20000);
    EXPECT_TRUE(s.ok()) << s.ToString();
    server_.reset();
  }

  std::string ServerLog() {
    auto text = Env::Default()->ReadFile(dir_ + "/server.log");
    return text.ok() ? *text : std::string();
  }

  std::vector<std::string> EntryFiles() {
    auto r = RunShell("find " + ShellQuote(kv_dir()) + " -name '*.skv' -type f | sort");
    std::vector<std::string> files;
    std::istringstream in(r.out);
    std::string f;
    while (std::getline(in, f)) {
      if (!f.empty()) files.push_back(f);
    }
    return files;
  }
};

// (a) serve with a disk tier, SIGTERM, restart, same request: the same reply from restored KV.
TEST_F(TiersE2ETest, DiskTierSurvivesARestartAndTheReplyIsIdentical) {
  const std::string prompt = LongPrompt();
  StartServer({"--kv-disk", kv_dir()});
  REQUIRE_ENGINE();
  const Reply cold = Generate(prompt);
  ASSERT_FALSE(cold.text.empty());
  const double prompt_tokens = cold.computed + cold.reused;
  ASSERT_GT(prompt_tokens, 200) << "the prompt should span many KV blocks";
  // Nothing of it is cached yet, except possibly a partial-block copy of the engine probe's first
  // block (the BOS token they share): less than one 32-token block.
  EXPECT_LT(cold.reused, 32);
  EXPECT_NE(ServerLog().find("KV tiers: disk " + kv_dir()), std::string::npos) << ServerLog();
  StopServer();
  const std::string log = ServerLog();
  const size_t at = log.find("shutdown: ");
  ASSERT_NE(at, std::string::npos) << log;
  std::cerr << "server said: " << log.substr(at, log.find('\n', at) - at) << "\n";
  EXPECT_EQ(log.find("DEADLINE"), std::string::npos) << log;
  ASSERT_FALSE(EntryFiles().empty()) << "shutdown wrote nothing to " << kv_dir();

  StartServer({"--kv-disk", kv_dir()});
  const Reply warm = Generate(prompt);
  EXPECT_EQ(warm.text, cold.text);
  // Everything but the last partial block (at most one block of 32 tokens + the last token).
  EXPECT_GE(warm.reused, prompt_tokens - 33) << "computed " << warm.computed;
  EXPECT_LE(warm.computed, 33);
  EXPECT_GE(Metric("swarmkv_kv_restored_tokens_total", "tier=\"disk\""), warm.reused);
  EXPECT_GT(Metric("swarmkv_kv_bytes", "tier=\"disk\""), 0);
  EXPECT_EQ(Metric("swarmkv_kv_tier_errors_total", "tier=\"disk\""), 0);
  auto [sk, kv] = Curl("GET", "/api/kv");
  json k = json::parse(kv);
  EXPECT_GE(k["tiers"]["disk"]["restored_tokens"].get<double>(), warm.reused) << kv;
  EXPECT_TRUE(k["tiers"]["disk"]["available"].get<bool>()) << kv;
  EXPECT_TRUE(k.contains("writeback")) << kv;
}

// (c) --no-prefix-cache: nothing reused, not even the same prompt twice or a full disk tier, and
// the reply is the cached server's.
TEST_F(TiersE2ETest, NoPrefixCacheComputesEveryTokenAndAnswersTheSame) {
  const std::string prompt = LongPrompt();
  StartServer({"--kv-disk", kv_dir()});
  REQUIRE_ENGINE();
  const Reply cold = Generate(prompt);
  const Reply cached = Generate(prompt);
  EXPECT_EQ(cached.text, cold.text);
  EXPECT_GT(cached.reused, 0);
  StopServer();

  StartServer({"--kv-disk", kv_dir(), "--no-prefix-cache"});
  const Reply a = Generate(prompt);
  const Reply b = Generate(prompt);
  EXPECT_EQ(a.text, cold.text);
  EXPECT_EQ(b.text, cold.text);
  EXPECT_EQ(a.reused, 0);
  EXPECT_EQ(b.reused, 0);
  EXPECT_EQ(b.computed, cold.computed + cold.reused);
  EXPECT_EQ(Metric("swarmkv_prompt_tokens_reused_total"), 0);
  EXPECT_EQ(Metric("swarmkv_kv_restored_tokens_total"), 0);
}

// (d) every stored entry corrupted between runs: detected, dropped, counted; the reply is still
// the one computed from scratch.
TEST_F(TiersE2ETest, CorruptDiskEntriesAreDroppedAndRecomputed) {
  const std::string prompt = LongPrompt();
  StartServer({"--kv-disk", kv_dir()});
  REQUIRE_ENGINE();
  const Reply cold = Generate(prompt);
  StopServer();
  const auto files = EntryFiles();
  ASSERT_FALSE(files.empty());
  for (const std::string& f : files) {  // flip one payload byte near the end of each entry
    std::fstream io(f, std::ios::in | std::ios::out | std::ios::binary);
    io.seekg(-9, std::ios::end);
    char c = 0;
    io.read(&c, 1);
    c = static_cast<char>(c ^ 0x5a);
    io.seekp(-9, std::ios::end);
    io.write(&c, 1);
  }
  StartServer({"--kv-disk", kv_dir()});
  const Reply again = Generate(prompt);
  EXPECT_EQ(again.text, cold.text);
  EXPECT_LE(again.reused, 0);  // the chain breaks at its first (corrupt) block
  EXPECT_GE(Metric("swarmkv_kv_tier_errors_total", "kind=\"corrupt\""), 1);
  EXPECT_EQ(Metric("swarmkv_kv_restored_tokens_total"), 0);
  // The dropped entry was deleted; the recomputed blocks are good again after the next restart.
  StopServer();
  StartServer({"--kv-disk", kv_dir()});
  const Reply healed = Generate(prompt);
  EXPECT_EQ(healed.text, cold.text);
  EXPECT_GT(healed.reused, 0);
}

// (b) Redis as the only tier: restart restores from it; redis killed with SIGKILL mid-run: the
// server keeps answering (from RAM and by recomputing) and says so in its counters.
TEST_F(TiersE2ETest, RedisOnlyTierAcrossARestartAndAKilledRedis) {
  std::string why;
  auto redis = testing::RedisServer::Start(&why);
  if (!redis) GTEST_SKIP() << why;
  const std::string prompt = LongPrompt();
  const std::vector<std::string> args = {"--kv-disk", "off", "--kv-redis", redis->url(3)};
  StartServer(args);
  REQUIRE_ENGINE();
  EXPECT_EQ(Metric("swarmkv_kv_tier_up", "tier=\"redis\""), 1);
  const Reply cold = Generate(prompt);
  StopServer();

  StartServer(args);
  const Reply warm = Generate(prompt);
  EXPECT_EQ(warm.text, cold.text);
  EXPECT_GE(warm.reused, cold.computed - 33);
  EXPECT_GE(Metric("swarmkv_kv_restored_tokens_total", "tier=\"redis\""), warm.reused);
  EXPECT_EQ(Metric("swarmkv_kv_restored_tokens_total", "tier=\"disk\""), 0);

  EXPECT_NE(ServerLog().find("KV tiers: redis " + redis->url(3) + " (connected)"), std::string::npos) << ServerLog();
  redis->Kill();
  const Reply other = Generate("The cat sat on the mat and " + prompt);  // a new prefix: probes Redis
  EXPECT_FALSE(other.text.empty());
  const Reply again = Generate(prompt);  // still in RAM
  EXPECT_EQ(again.text, cold.text);
  EXPECT_EQ(Metric("swarmkv_kv_tier_up", "tier=\"redis\""), 0);
  EXPECT_GE(Metric("swarmkv_kv_tier_errors_total", "tier=\"redis\",kind=\"unavailable\""), 1);
  // Shutdown with Redis gone is still bounded and clean.
  StopServer();
}

// rediss:// through the real server: a Redis that requires TLS and a client certificate (a CA made
// at test time) as the only tier, across a restart: the reply restored over TLS is the same. The
// same server without the client certificate still starts and answers, the tier down with the
// reason in its log.
TEST_F(TiersE2ETest, RedissTierWithMutualTlsAcrossARestart) {
  std::string why;
  auto pki = testing::TestPki::Make(&why);
  if (!pki) GTEST_SKIP() << why;
  auto redis = testing::RedisServer::StartTls(&why, pki->RedisServerArgs(pki->server_cert, pki->server_key, true),
                                              "--requirepass tls-pw-7d1e");
  if (!redis) GTEST_SKIP() << why;
  const std::string prompt = LongPrompt();
  const std::string url = "rediss://:tls-pw-7d1e@localhost:" + std::to_string(redis->tls_port()) + "/2";
  const std::vector<std::string> tls = {"--kv-disk", "off", "--kv-redis", url, "--redis-tls-ca", pki->ca_cert};
  std::vector<std::string> args = tls;
  args.insert(args.end(), {"--redis-tls-cert", pki->client_cert, "--redis-tls-key", pki->client_key});
  StartServer(args);
  REQUIRE_ENGINE();
  EXPECT_EQ(Metric("swarmkv_kv_tier_up", "tier=\"redis\""), 1);
  const Reply cold = Generate(prompt);
  StopServer();

  StartServer(args);
  const Reply warm = Generate(prompt);
  EXPECT_EQ(warm.text, cold.text);
  EXPECT_GE(warm.reused, cold.computed - 33);
  EXPECT_GE(Metric("swarmkv_kv_restored_tokens_total", "tier=\"redis\""), warm.reused);
  EXPECT_NE(ServerLog().find("(connected)"), std::string::npos) << ServerLog();
  EXPECT_EQ(ServerLog().find("tls-pw-7d1e"), std::string::npos) << "the password leaked into the log";
  StopServer();

  StartServer(tls);
  const Reply recomputed = Generate(prompt);
  EXPECT_EQ(recomputed.text, cold.text);
  EXPECT_EQ(Metric("swarmkv_kv_tier_up", "tier=\"redis\""), 0);
  EXPECT_NE(ServerLog().find("--redis-tls-cert"), std::string::npos) << ServerLog();
  EXPECT_EQ(ServerLog().find("tls-pw-7d1e"), std::string::npos) << "the password leaked into the log";
  StopServer();
}

// A server killed with SIGKILL while it evicts under a small budget: what reached the disk is
// whole or absent, the restarted server uses only verified entries, and replies are unchanged.
TEST_F(TiersE2ETest, KillNineDuringWriteBackLeavesNothingCorruptInUse) {
  const std::string prompt = LongPrompt();
  // A budget of a few prompts' KV: later prompts evict earlier ones, which are written back.
  const std::vector<std::string> args = {"--kv-disk", kv_dir(), "--kv-memory", "1MiB"};
  StartServer(args);
  REQUIRE_ENGINE();
  const Reply first = Generate(prompt);
  std::vector<std::string> texts;
  // Enough other prompts that the first one's blocks are all evicted — head included (eviction
  // goes tail first) — so its whole chain is on disk when the process dies.
  constexpr int kOthers = 14;
  for (int i = 0; i < kOthers; ++i) texts.push_back(Generate(std::to_string(i) + " " + prompt).text);
  const double evictions = Metric("swarmkv_evictions_total");
  server_->Kill();
  server_.reset();
  if (evictions == 0) GTEST_SKIP() << "1MiB held every prompt of this model: nothing was evicted";

  StartServer(args);
  const Reply back = Generate(prompt);
  EXPECT_EQ(back.text, first.text);
  EXPECT_GT(Metric("swarmkv_kv_restored_tokens_total", "tier=\"disk\""), 0) << ServerLog();
  for (int i = 0; i < kOthers; ++i) EXPECT_EQ(Generate(std::to_string(i) + " " + prompt).text, texts[i]) << i;
  EXPECT_EQ(Metric("swarmkv_kv_tier_errors_total", "kind=\"corrupt\""), 0);
}

// Idle write-through: a prompt's blocks reach the disk while they are still in RAM (nothing is
// evicted, no shutdown flush), so after kill -9 the restarted server restores the prompt from
// disk and answers the same. With --kv-write-through off nothing is written until eviction.
TEST_F(TiersE2ETest, WriteThroughPersistsUnevictedBlocksAcrossKillNine) {
  const std::string prompt = LongPrompt();
  StartServer({"--kv-disk", kv_dir()});
  REQUIRE_ENGINE();
  EXPECT_NE(ServerLog().find("write-through on"), std::string::npos) << ServerLog();
  const Reply cold = Generate(prompt);
  ASSERT_FALSE(cold.text.empty());
  const double prompt_tokens = cold.computed + cold.reused;
  const double full_blocks = std::floor(prompt_tokens / 32);
  ASSERT_GE(full_blocks, 6);
  // Bounded wait for the writer (it works only while the write-back queue is idle).
  double written = 0;
  for (int i = 0; i < 300 && written < full_blocks; ++i) {
    written = Metric("swarmkv_kv_tier_written_blocks_total", "tier=\"disk\"");
    if (written < full_blocks) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_GE(written, full_blocks) << "the prompt's sealed blocks were not written through";
  EXPECT_EQ(Metric("swarmkv_evictions_total"), 0) << "written through, not evicted";
  server_->Kill();
  server_.reset();

  StartServer({"--kv-disk", kv_dir()});
  const Reply back = Generate(prompt);
  EXPECT_EQ(back.text, cold.text);
  EXPECT_GE(back.reused, prompt_tokens - 33) << "computed " << back.computed;
  EXPECT_GE(Metric("swarmkv_kv_restored_tokens_total", "tier=\"disk\""), back.reused);
  EXPECT_EQ(Metric("swarmkv_kv_tier_errors_total", "kind=\"corrupt\""), 0);
  server_->Kill();
  server_.reset();

  // Off: the same prompt on a fresh directory writes nothing while nothing is evicted.
  const std::string off_dir = dir_ + "/kv-off";
  StartServer({"--kv-disk", off_dir, "--kv-write-through", "off"});
  EXPECT_NE(ServerLog().find("write-through off"), std::string::npos) << ServerLog();
  EXPECT_EQ(Generate(prompt).text, cold.text);
  // Every tier write is queued first, synchronously (eviction or write-through): nothing queued
  // and nothing evicted means nothing can be written later either — no wait for a slow writer.
  auto [sk, kv] = Curl("GET", "/api/kv");
  ASSERT_EQ(sk, 200) << kv;
  const json k = json::parse(kv);
  EXPECT_EQ(k["writeback"]["enqueued"].get<uint64_t>(), 0u) << kv;
  EXPECT_EQ(Metric("swarmkv_evictions_total"), 0);
  EXPECT_EQ(Metric("swarmkv_kv_tier_written_blocks_total", "tier=\"disk\""), 0);
}

// One numeric order: KV is keyed by the numerics version only, not the ISA. A disk tier written
// by a server with SWARMKV_KERNELS=avx2 is restored by servers at the scalar level and at the
// best level this CPU has, and each restored reply equals that level's reply computed from
// scratch (a fresh disk tier) and the avx2 server's reply.
TEST_F(TiersE2ETest, DiskTierWrittenAtAvx2IsRestoredAtEveryKernelLevel) {
  const char* before = std::getenv("SWARMKV_KERNELS");
  const std::string saved = before != nullptr ? before : "";
  struct Restore {  // the servers inherit this process's environment
    bool had;
    std::string value;
    ~Restore() { had ? setenv("SWARMKV_KERNELS", value.c_str(), 1) : unsetenv("SWARMKV_KERNELS"); }
  } restore{before != nullptr, saved};
  auto level_of = [&] {
    const std::string log = ServerLog();
    const size_t at = log.rfind("; kernels ");
    return at == std::string::npos ? std::string("?") : log.substr(at + 10, log.find_first_of("\n ", at + 10) - at - 10);
  };
  const std::string prompt = LongPrompt();
  setenv("SWARMKV_KERNELS", "avx2", 1);
  StartServer({"--kv-disk", kv_dir()});
  REQUIRE_ENGINE();
  const std::string writer_level = level_of();
  const Reply cold = Generate(prompt);
  ASSERT_FALSE(cold.text.empty());
  const double prompt_tokens = cold.computed + cold.reused;
  StopServer();
  ASSERT_FALSE(EntryFiles().empty()) << "shutdown wrote nothing to " << kv_dir();
  if (writer_level != "avx2") std::cerr << "writer ran at " << writer_level << " (CPU without AVX2)\n";

  std::set<std::string> levels_seen = {writer_level};
  for (const char* level : {"scalar", ""}) {  // "": the best level (no override)
    if (*level != 0) {
      setenv("SWARMKV_KERNELS", level, 1);
    } else {
      unsetenv("SWARMKV_KERNELS");
    }
    const std::string fresh = dir_ + "/fresh-" + (*level != 0 ? level : "best");
    StartServer({"--kv-disk", fresh});
    const std::string reader_level = level_of();
    levels_seen.insert(reader_level);
    const Reply scratch = Generate(prompt);
    StopServer();
    EXPECT_EQ(scratch.text, cold.text) << "level " << reader_level << " computed another reply from scratch";

    StartServer({"--kv-disk", kv_dir()});
    const Reply warm = Generate(prompt);
    EXPECT_EQ(warm.text, scratch.text) << "level " << reader_level;
    EXPECT_GE(warm.reused, prompt_tokens - 33) << "level " << reader_level << " did not reuse the avx2 KV";
    EXPECT_GE(Metric("swarmkv_kv_restored_tokens_total", "tier=\"disk\""), warm.reused) << reader_level;
    StopServer();
  }
  std::cerr << "kernel levels exercised:";
  for (const auto& l : levels_seen) std::cerr << " " << l;
  std::cerr << "\n";
  EXPECT_TRUE(levels_seen.count("scalar")) << "SWARMKV_KERNELS=scalar did not reach the server";
}

// --kv-secret (issue 17) through the real server, with a shared directory and a real Redis: the
// right secret restores bit-exactly; a wrong secret, or none, recomputes (and erases nothing of
// the others'); entries rewritten by a forger without the secret (here: unsigned copies of the
// same blocks, well-formed) are dropped and counted on both tiers, and the reply is unchanged.
TEST_F(TiersE2ETest, KvSecretSignsSharedDirAndRedisEntries) {
  std::string why;
  auto redis = testing::RedisServer::Start(&why);
  if (!redis) GTEST_SKIP() << why;
  const std::string shared = dir_ + "/shared";
  const std::string prompt = LongPrompt();
  auto args = [&](const std::string& secret) {
    std::vector<std::string> a = {"--kv-disk", "off", "--kv-shared-dir", shared, "--kv-redis", redis->url(1)};
    if (!secret.empty()) a.insert(a.end(), {"--kv-secret", secret});
    return a;
  };
  const std::string secret = "our servers' secret, 32 bytes ok";
  StartServer(args(secret));
  REQUIRE_ENGINE();
  EXPECT_NE(ServerLog().find("entries signed (HMAC-SHA256, --kv-secret)"), std::string::npos) << ServerLog();
  const Reply cold = Generate(prompt);
  const double prompt_tokens = cold.computed + cold.reused;
  StopServer();

  StartServer(args(secret));
  const Reply warm = Generate(prompt);
  EXPECT_EQ(warm.text, cold.text);
  EXPECT_GE(warm.reused, prompt_tokens - 33);
  EXPECT_GE(Metric("swarmkv_kv_restored_tokens_total", "tier=\"shared\""), warm.reused);
  EXPECT_EQ(Metric("swarmkv_kv_tier_errors_total", "kind=\"mac\""), 0);
  StopServer();

  for (const std::string& other : {std::string("somebody else's secret, 32 bytes"), std::string()}) {
    StartServer(args(other));
    const Reply r = Generate(prompt);
    EXPECT_EQ(r.text, cold.text) << "secret '" << other << "'";
    EXPECT_LT(r.reused, 32) << "secret '" << other << "'";
    EXPECT_EQ(Metric("swarmkv_kv_tier_errors_total", "kind=\"mac\""), 0);
    EXPECT_EQ(Metric("swarmkv_kv_tier_errors_total", "kind=\"corrupt\""), 0) << "never sees the others' entries";
    StopServer();
  }

  // The forger: every signed entry replaced by the unsigned entry of the same block (the
  // no-secret server just wrote those), found by the block id in each entry's header.
  auto block_id = [](const std::string& e) { return e.size() >= 48 ? e.substr(32, 16) : std::string(); };
  std::map<std::string, std::string> unsigned_by_id, keyed_files;
  for (const auto& f : std::filesystem::recursive_directory_iterator(shared)) {
    if (!f.is_regular_file() || f.path().extension() != ".skv") continue;
    const std::string bytes = Env::Default()->ReadFile(f.path().string()).value();
    if (bytes.size() >= 12 && bytes[8] == 1) unsigned_by_id[block_id(bytes)] = bytes;  // format version 1
    else keyed_files[f.path().string()] = block_id(bytes);
  }
  ASSERT_FALSE(keyed_files.empty());
  int forged = 0;
  for (const auto& [path, id] : keyed_files) {
    if (!unsigned_by_id.count(id)) continue;
    ASSERT_TRUE(Env::Default()->WriteFileAtomic(path, unsigned_by_id[id], false).ok());
    ++forged;
  }
  redisContext* c = redisConnect("127.0.0.1", redis->port());
  freeReplyObject(redisCommand(c, "SELECT 1"));
  auto* keys = static_cast<redisReply*>(redisCommand(c, "KEYS skv:kv:*"));
  std::map<std::string, std::string> keyed_keys;
  for (size_t i = 0; keys != nullptr && i < keys->elements; ++i) {
    const std::string key(keys->element[i]->str, keys->element[i]->len);
    auto* v = static_cast<redisReply*>(redisCommand(c, "GET %b", key.data(), key.size()));
    const std::string bytes(v->str, v->len);
    freeReplyObject(v);
    if (bytes.size() >= 12 && bytes[8] != 1) keyed_keys[key] = block_id(bytes);
  }
  if (keys) freeReplyObject(keys);
  for (const auto& [key, id] : keyed_keys) {
    if (!unsigned_by_id.count(id)) continue;
    const std::string& e = unsigned_by_id[id];
    freeReplyObject(redisCommand(c, "SET %b %b", key.data(), key.size(), e.data(), e.size()));
    ++forged;
  }
  redisFree(c);
  ASSERT_GT(forged, 2);

  StartServer(args(secret));
  const Reply after = Generate(prompt);
  EXPECT_EQ(after.text, cold.text);
  EXPECT_LT(after.reused, 32) << "a forged entry was used";
  EXPECT_GE(Metric("swarmkv_kv_tier_errors_total", "tier=\"shared\",kind=\"mac\""), 1);
  EXPECT_GE(Metric("swarmkv_kv_tier_errors_total", "tier=\"redis\",kind=\"mac\""), 1);
  EXPECT_EQ(Metric("swarmkv_kv_restored_tokens_total"), 0);
  auto [sk, kv] = Curl("GET", "/api/kv");
  json k = json::parse(kv);
  EXPECT_GE(k["tiers"]["shared"]["mac_rejected"].get<double>(), 1) << kv;
  StopServer();
}

}  // namespace
}  // namespace swarmkv::e2e
