// HttpServerFixture: the server's HTTP tests' set-up (never linked into swarmkv) — an HttpServer on
// a free loopback port over the scripted backend of test_backend.h, a placeholder model file
// served as "tiny", and a cpp-httplib client for it.
//
// The end-to-end tests, which run the real `swarmkv serve` child, use tests/server/server_fixture.h.
//
// Invariant: members are torn down server first, then models, then the backend (the order the
// server's threads need). Thread-safety: a test fixture, used from the test's thread.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>

#include <memory>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/testing.h"
#include "server/http_server.h"
#include "server/test_backend.h"

namespace swarmkv::testing {

class HttpServerFixture : public ::testing::Test {
 protected:
  // Starts the server with `options` (port chosen here). The placeholder model file is served as
  // "tiny" and as each name of `aliases`; with_backend=false is a server built without an engine.
  void StartHttpServer(HttpServerOptions options, bool with_backend, const std::vector<std::string>& aliases = {}) {
    const std::string dir = TempDir("http-models");
    ASSERT_TRUE(Env::Default()->WriteFileAtomic(dir + "/tiny.gguf", std::string("x"), false).ok());
    ModelRegistryOptions ro;
    ro.model_flags = {"tiny=" + dir + "/tiny.gguf"};
    for (const std::string& alias : aliases) ro.model_flags.push_back(alias + "=" + dir + "/tiny.gguf");
    auto reg = ModelRegistry::Build(ro);
    ASSERT_TRUE(reg.ok());
    registry_ = std::make_unique<ModelRegistry>(std::move(reg).value());
    if (with_backend) backend_ = std::make_unique<ScriptedBackend>();
    models_ = std::make_unique<ModelManager>(registry_.get(), backend_.get(), ModelManagerOptions{});
    options.port = 0;
    server_ = std::make_unique<HttpServer>(options, registry_.get(), models_.get(), backend_.get(), &metrics_);
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override {
    server_.reset();
    models_.reset();
    backend_.reset();
  }
  httplib::Client Client() {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(10, 0);
    return c;
  }
  httplib::Result Post(const std::string& path, const std::string& body, const char* type = "application/json",
                       httplib::Headers headers = {}) {
    return Client().Post(path.c_str(), headers, body, type);
  }

  ServerMetrics metrics_;
  std::unique_ptr<ModelRegistry> registry_;
  std::unique_ptr<ScriptedBackend> backend_;
  std::unique_ptr<ModelManager> models_;
  std::unique_ptr<HttpServer> server_;
};

}  // namespace swarmkv::testing
