#include "tiers/disk_backend.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "base/testing.h"
#include "tiers/fault_env.h"

namespace swarmkv {
namespace {

std::vector<uint8_t> Bytes(size_t n, uint8_t fill) { return std::vector<uint8_t>(n, fill); }
Hash128 Key(uint64_t i) { return Hash128{i, i * 31 + 1}; }

DiskBackendOptions Opts(const std::string& dir, uint64_t capacity) {
  DiskBackendOptions o;
  o.dir = dir;
  o.capacity_bytes = capacity;
  return o;
}

TEST(DiskBackendTest, PutGetEraseAndMiss) {
  auto d = DiskBackend::Open(Opts(testing::TempDir(), 1 << 20)).value();
  EXPECT_FALSE(d->Get(Key(1)).value().has_value());
  ASSERT_TRUE(d->Put(Key(1), Bytes(100, 7)).ok());
  auto got = d->Get(Key(1)).value();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, std::string(100, 7));
  EXPECT_TRUE(d->Contains(Key(1)).value());
  EXPECT_EQ(d->PathFor(Key(1)).find(Key(1).ToHex().substr(0, 2) + "/" + Key(1).ToHex()) != std::string::npos, true);
  ASSERT_TRUE(d->Erase(Key(1)).ok());
  ASSERT_TRUE(d->Erase(Key(1)).ok());
  EXPECT_FALSE(d->Get(Key(1)).value().has_value());
  EXPECT_TRUE(d->CheckInvariants().ok());
}

TEST(DiskBackendTest, LruWithinBudgetAndGetRefreshes) {
  auto d = DiskBackend::Open(Opts(testing::TempDir(), 1000)).value();
  for (uint64_t i = 0; i < 4; ++i) ASSERT_TRUE(d->Put(Key(i), Bytes(250, 1)).ok());
  ASSERT_TRUE(d->Get(Key(0)).value().has_value());  // 0 becomes most recent; 1 is oldest
  ASSERT_TRUE(d->Put(Key(4), Bytes(250, 1)).ok());
  EXPECT_FALSE(d->Contains(Key(1)).value());
  EXPECT_FALSE(std::filesystem::exists(d->PathFor(Key(1))));
  for (uint64_t i : {0, 2, 3, 4}) EXPECT_TRUE(d->Contains(Key(i)).value()) << i;
  EXPECT_EQ(d->stats().evictions, 1);
  EXPECT_EQ(d->stats().bytes, 1000u);
  EXPECT_TRUE(d->CheckInvariants().ok());
  EXPECT_EQ(d->Put(Key(9), Bytes(1001, 1)).code(), StatusCode::kResourceExhausted);
}

TEST(DiskBackendTest, ReopenRebuildsIndexInMtimeOrderAndRemovesTempFiles) {
  std::string dir = testing::TempDir();
  {
    auto d = DiskBackend::Open(Opts(dir, 1 << 20)).value();
    for (uint64_t i = 0; i < 10; ++i) ASSERT_TRUE(d->Put(Key(i), Bytes(10 + i, 2)).ok());
  }
  std::string stray = DiskBackend::Open(Opts(dir, 1 << 20)).value()->PathFor(Key(50)) + ".tmp.4194305.0";  // no such pid
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(stray, "half", false).ok());
  auto d = DiskBackend::Open(Opts(dir, 1 << 20)).value();
  EXPECT_EQ(d->temp_files_removed(), 1);
  EXPECT_FALSE(std::filesystem::exists(stray));
  EXPECT_EQ(d->stats().entries, 10);
  EXPECT_EQ(d->stats().bytes, 10u * 10 + 45);
  for (uint64_t i = 0; i < 10; ++i) EXPECT_EQ(d->Get(Key(i)).value()->size(), 10 + i);
  // A smaller budget on reopen trims the oldest entries.
  auto small = DiskBackend::Open(Opts(dir, 40)).value();
  EXPECT_LE(small->stats().bytes, 40u);
  EXPECT_TRUE(small->CheckInvariants().ok());
}

TEST(DiskBackendTest, TwoInstancesShareOneDirectory) {
  std::string dir = testing::TempDir();
  auto writer = DiskBackend::Open(Opts(dir, 1 << 20)).value();
  auto reader = DiskBackend::Open(Opts(dir, 1 << 20)).value();
  ASSERT_TRUE(writer->Put(Key(5), Bytes(64, 9)).ok());
  auto got = reader->Get(Key(5)).value();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(reader->stats().entries, 1);  // adopted on the hit
  ASSERT_TRUE(writer->Erase(Key(5)).ok());
  EXPECT_FALSE(reader->Get(Key(5)).value().has_value());
  EXPECT_EQ(reader->stats().entries, 0);
}

TEST(DiskBackendTest, DiskFullPausesWritesWithOneWarningAndReadsContinue) {
  FaultEnv env(Env::Default());
  DiskBackendOptions o = Opts(testing::TempDir(), 1 << 20);
  o.env = &env;
  o.write_pause_after_failure_ms = 60'000;
  auto d = DiskBackend::Open(o).value();
  ASSERT_TRUE(d->Put(Key(1), Bytes(100, 1)).ok());
  env.SetDiskFull(true);
  Status s = d->Put(Key(2), Bytes(100, 1));
  EXPECT_EQ(s.code(), StatusCode::kIOError) << s.ToString();
  EXPECT_NE(s.message().find("No space"), std::string::npos) << s.ToString();
  // Paused: fails fast without touching the file system.
  int64_t writes_before = env.write_attempts();
  EXPECT_EQ(d->Put(Key(3), Bytes(100, 1)).code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(env.write_attempts(), writes_before);
  EXPECT_TRUE(d->Get(Key(1)).value().has_value());
  EXPECT_FALSE(d->Contains(Key(2)).value());
  EXPECT_EQ(d->stats().put_failures, 2);
  EXPECT_TRUE(d->CheckInvariants().ok());
  // No temp file is left behind by the failed write.
  auto names = Env::Default()->ListDir(std::filesystem::path(d->PathFor(Key(2))).parent_path()).value();
  for (const auto& n : names) EXPECT_EQ(n.find(".tmp."), std::string::npos) << n;
}

TEST(DiskBackendTest, WritesResumeAfterThePause) {
  FaultEnv env(Env::Default());
  DiskBackendOptions o = Opts(testing::TempDir(), 1 << 20);
  o.env = &env;
  o.write_pause_after_failure_ms = 0;
  auto d = DiskBackend::Open(o).value();
  env.SetDiskFull(true);
  EXPECT_FALSE(d->Put(Key(1), Bytes(10, 1)).ok());
  env.SetDiskFull(false);
  EXPECT_TRUE(d->Put(Key(1), Bytes(10, 1)).ok());
  EXPECT_TRUE(d->Get(Key(1)).value().has_value());
}

TEST(DiskBackendTest, RejectsBadOptions) {
  EXPECT_EQ(DiskBackend::Open(Opts("", 10)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(DiskBackend::Open(Opts(testing::TempDir(), 0)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(DiskBackend::Open(Opts("/proc/nope/kv", 10)).ok());
}

TEST(DiskBackendTest, DefaultDirFollowsXdg) {
  setenv("XDG_CACHE_HOME", "/x/cache", 1);
  EXPECT_EQ(DefaultDiskTierDir(), "/x/cache/swarmkv/kv");
  unsetenv("XDG_CACHE_HOME");
  setenv("HOME", "/home/u", 1);
  EXPECT_EQ(DefaultDiskTierDir(), "/home/u/.cache/swarmkv/kv");
}

// Other writers of a shared directory (issue 17): planted names are never followed or trusted.
TEST(DiskBackendTest, PlantedSymlinksFifosAndHugeFilesAreDroppedBeforeAnyAllocation) {
  std::string dir = testing::TempDir();
  auto d = DiskBackend::Open(Opts(dir, 1 << 30)).value();
  std::string secret = dir + "/../secret-" + std::to_string(::getpid());
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(secret, std::string("do not read"), false).ok());
  // A symlink at an entry's name: refused (not followed), unlinked, the target untouched.
  ASSERT_EQ(::symlink(secret.c_str(), d->PathFor(Key(1)).c_str()), 0);
  auto r = d->Get(Key(1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find("symbolic link"), std::string::npos) << r.status().message();
  EXPECT_FALSE(std::filesystem::is_symlink(d->PathFor(Key(1))));
  EXPECT_EQ(Env::Default()->ReadFile(secret).value(), "do not read");
  // A FIFO: not a regular file, and the open does not block.
  ASSERT_EQ(::mkfifo(d->PathFor(Key(2)).c_str(), 0600), 0);
  ReadBuffer buf;
  auto g = d->GetInto(Key(2), &buf);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("not a regular file"), std::string::npos);
  // A sparse 4 GiB file: refused by its size before anything is allocated.
  {
    int fd = ::open(d->PathFor(Key(3)).c_str(), O_WRONLY | O_CREAT, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, off_t{4} << 30), 0);
    ::close(fd);
  }
  g = d->GetInto(Key(3), &buf);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("more than any entry"), std::string::npos) << g.status().message();
  EXPECT_EQ(buf.size(), 0u);
  EXPECT_FALSE(std::filesystem::exists(d->PathFor(Key(3))));
  // Entries are private files.
  ASSERT_TRUE(d->Put(Key(4), Bytes(100, 1)).ok());
  EXPECT_EQ(std::filesystem::status(d->PathFor(Key(4))).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  ::unlink(secret.c_str());
}

TEST(DiskBackendTest, ASymlinkPlantedAtTheTempNameIsNeverWrittenThrough) {
  std::string dir = testing::TempDir();
  auto d = DiskBackend::Open(Opts(dir, 1 << 30)).value();
  std::string victim = dir + "/../victim-" + std::to_string(::getpid());
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(victim, std::string("precious"), false).ok());
  // Env::WriteFileAtomic names its temp file <path>.tmp.<pid>.<counter>, the counter process-wide:
  // plant a window of those names, then write until a write lands on one of them.
  constexpr int kWindow = 20000;
  std::vector<std::string> planted;
  for (int i = 0; i < kWindow; ++i) {
    std::string name = d->PathFor(Key(7)) + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(i);
    if (::symlink(victim.c_str(), name.c_str()) == 0) planted.push_back(name);
  }
  bool hit = false;
  for (int i = 0; i < kWindow && !hit; ++i) hit = !d->Put(Key(7), Bytes(50, 9)).ok();
  EXPECT_TRUE(hit) << "no write reached a planted name (the process-wide counter is past the window)";
  EXPECT_EQ(Env::Default()->ReadFile(victim).value(), "precious");
  for (const auto& p : planted) ::unlink(p.c_str());
  ::unlink(victim.c_str());
}

TEST(DiskBackendTest, StartupRemovesOnlyItsOwnTempFilesOfDeadWriters) {
  std::string dir = testing::TempDir();
  std::string base = DiskBackend::Open(Opts(dir, 1 << 20)).value()->PathFor(Key(9));
  std::string dead = base + ".tmp.4194305.0";                               // no such process
  std::string live = base + ".tmp." + std::to_string(::getpid()) + ".999";  // a live writer
  std::string foreign = base.substr(0, base.rfind('/')) + "/notes.tmp.1.txt";
  for (const auto& p : {dead, live, foreign}) ASSERT_TRUE(Env::Default()->WriteFileAtomic(p, std::string("x"), false).ok());
  auto d = DiskBackend::Open(Opts(dir, 1 << 20)).value();
  EXPECT_EQ(d->temp_files_removed(), 1);
  EXPECT_FALSE(std::filesystem::exists(dead));
  EXPECT_TRUE(std::filesystem::exists(live));
  EXPECT_TRUE(std::filesystem::exists(foreign));
}

}  // namespace
}  // namespace swarmkv
