// What the HTTP layer costs around the engine, each next to its baseline in the same run:
//   BM_ParseChatRequest      vs BM_JsonParseOnly        (validation on top of JSON parsing)
//   BM_GetTags               vs BM_BareHttplibGet       (routing, metrics, JSON per request)
//   BM_StreamNdjson/N tokens vs BM_BareChunkedStream    (per-token streaming path: observer ->
//                                                         queue -> NDJSON -> socket -> client)
//   BM_RenderMetrics                                     (a /metrics scrape)
// The engine is the scripted test backend (no model compute), so these isolate server overhead.
#include <benchmark/benchmark.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "base/env.h"
#include "server/api_request.h"
#include "server/http_server.h"
#include "server/test_backend.h"

namespace swarmkv {
namespace {

const std::string kChatBody = R"({"model":"tiny","stream":true,"options":{"temperature":0,"num_predict":64,"seed":1,
  "stop":["\n\n"]},"messages":[{"role":"system","content":"You are a helpful assistant that answers briefly."},
  {"role":"user","content":"Summarise the design of a paged, tiered KV cache shared by many agents in three sentences."}]})";

void BM_JsonParseOnly(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(nlohmann::json::parse(kChatBody));
}
BENCHMARK(BM_JsonParseOnly);

void BM_ParseChatRequest(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(ParseApiRequest(ApiKind::kOllamaChat, kChatBody));
}
BENCHMARK(BM_ParseChatRequest);

struct Fixture {
  Fixture() {
    std::string path = "/tmp/swarmkv-bench-model.gguf";
    (void)Env::Default()->WriteFileAtomic(path, std::string("x"), false);
    ModelRegistryOptions ro;
    ro.model_flags = {"tiny=" + path};
    registry = std::make_unique<ModelRegistry>(std::move(ModelRegistry::Build(ro)).value());
    backend.token_interval_ms = 0;
    models = std::make_unique<ModelManager>(registry.get(), &backend, ModelManagerOptions{});
    HttpServerOptions o;
    o.port = 0;
    server = std::make_unique<HttpServer>(o, registry.get(), models.get(), &backend, &metrics);
    (void)server->Start();
  }
  ServerMetrics metrics;
  testing::ScriptedBackend backend;
  std::unique_ptr<ModelRegistry> registry;
  std::unique_ptr<ModelManager> models;
  std::unique_ptr<HttpServer> server;
};

Fixture& Shared() {
  static Fixture* f = new Fixture();  // lives for the process (threads inside)
  return *f;
}

struct BareServer {
  BareServer() {
    svr.Get("/x", [](const httplib::Request&, httplib::Response& r) { r.set_content("{\"models\":[]}", "application/json"); });
    svr.Post("/stream", [](const httplib::Request& q, httplib::Response& r) {
      int n = std::stoi(q.body);
      r.set_chunked_content_provider("application/x-ndjson", [n, i = 0](size_t, httplib::DataSink& sink) mutable {
        std::string line = R"({"model":"tiny","created_at":"2026-01-01T00:00:00.000000000Z","response":"w0 ","done":false})"
                           "\n";
        if (i++ < n) return sink.write(line.data(), line.size());
        sink.done();
        return true;
      });
    });
    svr.set_tcp_nodelay(true);  // as HttpServer does: compare like with like
    port = svr.bind_to_any_port("127.0.0.1");
    th = std::thread([this] { svr.listen_after_bind(); });
  }
  httplib::Server svr;
  int port;
  std::thread th;
};

BareServer& Bare() {
  static BareServer* b = new BareServer();
  return *b;
}

void BM_BareHttplibGet(benchmark::State& state) {
  httplib::Client c("127.0.0.1", Bare().port);
  c.set_keep_alive(true);
  c.set_tcp_nodelay(true);
  for (auto _ : state) benchmark::DoNotOptimize(c.Get("/x"));
}
BENCHMARK(BM_BareHttplibGet)->UseRealTime();

void BM_GetTags(benchmark::State& state) {
  httplib::Client c("127.0.0.1", Shared().server->port());
  c.set_keep_alive(true);
  c.set_tcp_nodelay(true);
  for (auto _ : state) benchmark::DoNotOptimize(c.Get("/api/tags"));
}
BENCHMARK(BM_GetTags)->UseRealTime();

void BM_BareChunkedStream(benchmark::State& state) {
  httplib::Client c("127.0.0.1", Bare().port);
  c.set_tcp_nodelay(true);
  for (auto _ : state) {
    auto r = c.Post("/stream", std::to_string(state.range(0)), "text/plain");
    if (!r || r->status != 200) state.SkipWithError("bare stream failed");
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_BareChunkedStream)->Arg(64)->Arg(512)->UseRealTime();

void BM_StreamNdjson(benchmark::State& state) {
  Fixture& f = Shared();
  f.backend.natural_tokens = static_cast<int>(state.range(0));
  httplib::Client c("127.0.0.1", f.server->port());
  c.set_tcp_nodelay(true);
  std::string body = R"({"model":"tiny","prompt":"hello","raw":true,"options":{"num_predict":)" +
                     std::to_string(state.range(0)) + "}}";
  for (auto _ : state) {
    auto r = c.Post("/api/generate", body, "application/json");
    if (!r || r->status != 200) state.SkipWithError("stream failed");
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_StreamNdjson)->Arg(64)->Arg(512)->UseRealTime();

void BM_RenderMetrics(benchmark::State& state) {
  ServerMetrics m;
  for (int i = 0; i < 1000; ++i) m.OnRequest("/api/chat", 200, 0.01 * i);
  for (auto _ : state) benchmark::DoNotOptimize(m.Render());
}
BENCHMARK(BM_RenderMetrics);

}  // namespace
}  // namespace swarmkv

BENCHMARK_MAIN();
