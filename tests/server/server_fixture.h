// Shared set-up of the server end-to-end tests: a model to serve, a `swarmkv serve` child on a
// free loopback port, the npm clients, and small HTTP/curl/node helpers.
//
// The model is /work/shared's stories260K.gguf, or the built-in synthetic model
// (`swarmkv make-model --shape tiny`) when ../shared is absent; with neither the tests skip
// saying so. Generation tests start with REQUIRE_ENGINE(), which fails the test (never skips it)
// when the server does not generate.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/testing.h"
#include "cli/swarm/server_process.h"

namespace swarmkv::e2e {

// Shell commands (base/testing.h).
using CmdResult = testing::ShellResult;
using testing::RunShell;
using testing::ShellQuote;

// A model file for the tests, or "" (with `why` set) when none can be had.
std::string TestModel(std::string* why);
// Installs the npm clients once per build dir (under a file lock); "" on success, else why not.
std::string EnsureNpmClients();

class ServerE2ETest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  // Starts the server with the test model as "tiny" plus `extra_args`.
  void StartServer(const std::vector<std::string>& extra_args = {});
  // Asserts the server generates (a one-token /api/generate answers 200).
  void ExpectGeneration();
  // node client.mjs SCENARIO PORT MODEL -> its JSON line.
  nlohmann::json Node(const std::string& scenario, const std::string& model = "tiny");
  // curl with -w status; returns {status, body}.
  std::pair<int, std::string> Curl(const std::string& method, const std::string& path, const std::string& body = "");
  // The sum of every sample of the Prometheus series `series` on /metrics whose labels contain
  // `labels` (e.g. tier="disk"); 0 when there is none.
  double Metric(const std::string& series, const std::string& labels = "");

  std::string model_path_;
  std::string dir_;
  std::unique_ptr<cli::ServerProcess> server_;
  int port() const { return server_->port(); }
};

// Fails the test (never skips it) when the server does not generate.
#define REQUIRE_ENGINE() ASSERT_NO_FATAL_FAILURE(ExpectGeneration())

}  // namespace swarmkv::e2e
