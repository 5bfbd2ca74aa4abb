// HttpServer: swarmkv's HTTP front end (cpp-httplib), Ollama- and OpenAI-compatible.
//
// Routes: POST /api/generate, /api/chat, /v1/chat/completions, /v1/completions (generation);
// GET /api/tags, /api/ps, /api/version, /v1/models, /api/kv, /api/kv/pins, /metrics; POST /api/show,
// /api/kv/pin, /api/kv/unpin, DELETE /api/kv/pin (server/pin_service.h); out-of-scope Ollama endpoints (pull, push, create, copy, delete,
// embed, embeddings, blobs) answer 501 with a JSON error at once. Anything else: 404 JSON.
//
// Protection (docs/security.md): loopback by default; the Host and Origin allow-lists and the
// optional API key of request_guard.h (403/401) before any route; connections handled by
// connection_guard.h (header deadline and size cap, a connection cap and a bounded wait for a
// worker, 503 beyond); at most max_headers headers (431); every POST body read by swarmkv itself
// whatever its Content-Type, chunked or not, up to max_body_bytes (413); client JSON parsed with
// depth and element caps (json_limits.h, 400); at most max_active_generations generation
// requests in flight — beyond that 503 with Retry-After; a non-streamed generation is cancelled
// when its client disconnects, and any generation when generation_timeout_ms passes.
//
// Invariant: every response to a bad request is a JSON error with a 4xx/5xx status; no input
// makes a handler throw out or crash (an exception handler turns any escape into a 500 JSON).
//
// Thread-safety: Start/Stop from one thread; handlers run on the worker pool.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "server/backend.h"
#include "server/gguf_summary.h"
#include "server/model_manager.h"
#include "server/model_registry.h"
#include "server/pin_limits.h"
#include "server/request_guard.h"
#include "server/server_metrics.h"

namespace httplib {
class Server;
class Request;
class Response;
class ContentReader;
}  // namespace httplib

namespace swarmkv {

class GuardedHttpServer;
class PinService;

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 11434;                      // 0: any free port (see port())
  int worker_threads = 64;               // concurrent connections served
  size_t max_body_bytes = 8u << 20;      // 413 beyond
  int read_timeout_ms = 10000;           // per read; a slow-loris client is dropped after this
  int write_timeout_ms = 10000;
  int keep_alive_timeout_s = 5;
  int max_connections = 512;             // open sockets; 503 beyond
  int header_timeout_ms = 10000;         // a request's whole header block (slow-loris)
  int body_timeout_ms = 60000;           // a request's whole body
  size_t max_header_bytes = 64 << 10;    // request line + headers; 431 beyond
  int max_headers = 100;                 // header count; 431 beyond
  int64_t generation_timeout_ms = 0;     // wall deadline of one generation; 0: none
  size_t max_pins = 1024;                // live KV pins (POST /api/kv/pin); 429 beyond
  int64_t max_pinned_tokens = 1 << 20;   // tokens of all live pins' prefixes; 429 beyond
  int64_t pin_wait_ms = 120000;          // a non-streamed pin's answer waits this long, then 202
  uint64_t max_pinned_bytes = 0;         // KV all live pins may keep; 0: half the KV budget; 429 beyond
  // Access (request_guard.h): API key, Origin and Host allow-lists.
  std::string api_key;                   // empty: no key
  std::vector<std::string> allowed_origins;  // added to DefaultAllowedOrigins()
  std::vector<std::string> allowed_hosts;
  int max_active_generations = 256;      // 503 + Retry-After beyond
  int retry_after_s = 2;
  int32_t default_num_ctx = 0;           // when a request gives none; 0: the model's training context
  std::string version = "0.1.0";
};

class HttpServer {
 public:
  // `backend` may be null: generation routes then answer 503 naming the missing engine.
  HttpServer(HttpServerOptions options, const ModelRegistry* registry, ModelManager* models,
             ServerBackend* backend, ServerMetrics* metrics);
  ~HttpServer();

  // Binds and starts serving on a background thread. Errors: the port is taken, bad host.
  Status Start();
  // Runs raw HTTP request bytes through the routes in-process (no socket, no Start needed) and
  // returns the raw response bytes: the fuzzer's door to every handler.
  std::string HandleRawRequest(const std::string& bytes);
  // The bound port (after Start).
  int port() const { return port_; }
  // Blocks until Stop() is called from another thread (or a signal handler path) .
  void Wait();
  void Stop();

 private:
  void RegisterRoutes();
  void HandleGeneration(int kind, const httplib::Request& req, httplib::Response& res);
  // Reads a POST body into req.body (any Content-Type) or answers 413/400 and returns false.
  bool ReadBody(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader);
  void HandleShow(const httplib::Request& req, httplib::Response& res);
  void HandleKv(httplib::Response& res);
  // KV pins (pin_handlers.cc).
  void HandlePin(const httplib::Request& req, httplib::Response& res);
  void HandleUnpin(const httplib::Request& req, httplib::Response& res);
  void HandlePins(httplib::Response& res);

  // Constant after construction.
  const HttpServerOptions options_;
  const ModelRegistry* registry_;
  ModelManager* models_;
  ServerBackend* backend_;
  ServerMetrics* metrics_;

  AccessOptions access_;  // built from options_ in the constructor
  std::unique_ptr<PinService> pins_;  // null without a backend; stopped before the listener goes
  std::unique_ptr<GuardedHttpServer> http_;
  std::thread listener_;
  int port_ = 0;
  GgufSummaryCache summaries_;  // GGUF header facts for /api/show and /api/tags
  PinBudget pin_budget_;        // caps of the pins created through this server
  std::atomic<int> active_generations_{0};
  std::atomic<uint64_t> next_id_{1};
};

}  // namespace swarmkv
