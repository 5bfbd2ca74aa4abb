// Test helpers shared by every module's tests (linked into test binaries only).
//
// SharedDataDir(): the ../shared folder beside the repository (models, llama.cpp references,
// vocabularies), or the SWARMKV_SHARED_DIR environment variable. Tests that need it call
// SKV_REQUIRE_SHARED(relative_path), which skips the test with a clear message when it is absent
// (a user's clone has no ../shared).
//
// RunShell(): a shell command's exit code and standard output, for the tests that drive the
// swarmkv binary (tests/cli, tests/server) or an oracle script.
#pragma once

#include <gtest/gtest.h>

#include <string>

namespace swarmkv::testing {

// The shared data directory, or "" when it does not exist.
std::string SharedDataDir();
// SharedDataDir() + "/" + rel when that path exists, else "".
std::string SharedPath(const std::string& rel);
// A fresh empty directory under the system temp dir, removed (recursively) at process exit.
std::string TempDir(const std::string& prefix = "swarmkv-test");

struct ShellResult {
  int exit_code = -1;  // -1: the command could not be started or did not exit normally
  std::string out;     // its standard output (append " 2>&1" to the command for stderr too)
};
// Runs `command` with /bin/sh and waits for it.
ShellResult RunShell(const std::string& command);
// `s` in single quotes, safe to paste into a shell command.
std::string ShellQuote(const std::string& s);

}  // namespace swarmkv::testing

#define SKV_REQUIRE_SHARED(rel)                                                          \
  ({                                                                                     \
    std::string skv_p_ = ::swarmkv::testing::SharedPath(rel);                            \
    if (skv_p_.empty())                                                                  \
      GTEST_SKIP() << "test data '" << (rel)                                             \
                   << "' not found: ../shared (or SWARMKV_SHARED_DIR) is absent on this machine"; \
    skv_p_;                                                                              \
  })
