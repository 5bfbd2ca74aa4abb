#include "base/testing.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <vector>

#ifndef SWARMKV_SHARED_DIR_DEFAULT
#define SWARMKV_SHARED_DIR_DEFAULT ""
#endif

namespace swarmkv::testing {
namespace {

bool IsDir(const std::string& p) {
  struct stat st;
  return !p.empty() && ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

struct TempDirs {
  std::mutex mu;
  std::vector<std::string> dirs;
  ~TempDirs() {
    std::error_code ec;
    for (const auto& d : dirs) std::filesystem::remove_all(d, ec);
  }
};

TempDirs& AllTempDirs() {
  static TempDirs t;
  return t;
}

}  // namespace

std::string SharedDataDir() {
  if (const char* env = std::getenv("SWARMKV_SHARED_DIR")) return IsDir(env) ? env : "";
  std::string d = SWARMKV_SHARED_DIR_DEFAULT;
  return IsDir(d) ? d : "";
}

std::string SharedPath(const std::string& rel) {
  std::string dir = SharedDataDir();
  if (dir.empty()) return "";
  std::string p = dir + "/" + rel;
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 ? p : "";
}

std::string TempDir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/" + prefix + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  char* d = ::mkdtemp(buf.data());
  if (d == nullptr) return "";
  auto& all = AllTempDirs();
  std::lock_guard<std::mutex> lock(all.mu);
  all.dirs.emplace_back(d);
  return d;
}

ShellResult RunShell(const std::string& command) {
  ShellResult r;
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace swarmkv::testing
