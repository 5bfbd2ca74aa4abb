// libFuzzer target for the HTTP request handlers, in-process (HttpServer::HandleRawRequest: no
// socket): every route, through httplib's own request parsing, swarmkv's body reading, access
// checks, the depth-capped JSON parser and each handler, over the scripted backend of
// server/test_backend.h. Any bytes must give HTTP responses — never a crash, a hang, or a
// response that is not HTTP (ASan/UBSan watch).
//
// Input: byte 0 picks the mode. Even: the rest is a JSON body for route (byte 1 % routes), sent
// with a Content-Length (byte 0 & 2: chunked instead). Odd: the rest is the whole raw request.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "base/env.h"
#include "server/http_server.h"
#include "server/model_manager.h"
#include "server/model_registry.h"
#include "server/server_metrics.h"
#include "server/test_backend.h"

namespace {

using namespace swarmkv;

struct World {
  World() {
    char dir_template[] = "/tmp/skv-http-fuzz-XXXXXX";
    std::string dir = ::mkdtemp(dir_template);
    (void)Env::Default()->WriteFileAtomic(dir + "/tiny.gguf", std::string("x"), false);
    ModelRegistryOptions ro;
    ro.model_flags = {"tiny=" + dir + "/tiny.gguf"};
    registry = std::make_unique<ModelRegistry>(ModelRegistry::Build(ro).value());
    backend = std::make_unique<testing::ScriptedBackend>();
    backend->natural_tokens = 2;
    backend->token_interval_ms = 0;
    models = std::make_unique<ModelManager>(registry.get(), backend.get(), ModelManagerOptions{});
    HttpServerOptions o;
    o.max_body_bytes = 1 << 20;
    o.api_key = "";  // the key check has its own unit tests; here every handler must be reached
    server = std::make_unique<HttpServer>(o, registry.get(), models.get(), backend.get(), &metrics);
  }
  ServerMetrics metrics;
  std::unique_ptr<ModelRegistry> registry;
  std::unique_ptr<testing::ScriptedBackend> backend;
  std::unique_ptr<ModelManager> models;
  std::unique_ptr<HttpServer> server;
};

const char* const kRoutes[] = {"POST /api/generate",   "POST /api/chat",      "POST /v1/chat/completions",
                               "POST /v1/completions", "POST /api/show",      "POST /api/kv/pin",
                               "POST /api/kv/unpin",   "POST /api/pull",      "GET /api/tags",
                               "GET /api/ps",          "GET /v1/models",      "GET /api/kv",
                               "GET /metrics",         "GET /api/version",    "OPTIONS /api/chat",
                               "DELETE /api/delete",   "POST /api/blobs/sha", "GET /nowhere"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* world = new World();  // once per process; never destroyed (libFuzzer exits)
  if (size < 2) return 0;
  std::string request;
  if (data[0] & 1) {
    request.assign(reinterpret_cast<const char*>(data + 1), size - 1);
  } else {
    std::string body(reinterpret_cast<const char*>(data + 2), size - 2);
    request = std::string(kRoutes[data[1] % (sizeof(kRoutes) / sizeof(kRoutes[0]))]) +
              " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n";
    if (data[0] & 2) {
      char len[32];
      std::snprintf(len, sizeof(len), "%zx", body.size());
      request += "Transfer-Encoding: chunked\r\n\r\n" + std::string(len) + "\r\n" + body + "\r\n0\r\n\r\n";
    } else {
      request += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    }
  }
  std::string response = world->server->HandleRawRequest(request);
  if (!response.empty() && response.rfind("HTTP/1.1 ", 0) != 0) std::abort();  // not HTTP: a bug
  return 0;
}
