// `swarmkv serve`: the Ollama/OpenAI-compatible HTTP server over swarm memory.
//
//   swarmkv serve [--host 127.0.0.1] [--port 11434] [--model NAME=PATH ...] [--models DIR]
//                 [--ollama-models DIR | --no-ollama] [--keep-alive 5m] [--kv-memory 25%]
//                 [--kv-disk DIR|off] [--kv-disk-size 50GiB] [--kv-shared-dir P] [--kv-redis URL] ...
//
// Listens on loopback unless --host says otherwise (binding beyond loopback is a choice the user
// makes explicitly, and is logged). Stops cleanly on SIGINT/SIGTERM: the HTTP server stops, the
// models unload (running generations are cancelled), then RAM's cached KV blocks are flushed to
// the persistent tiers for at most --kv-shutdown-flush, so a restarted server finds them.
#include <csignal>
#include <iostream>
#include <thread>

#include "base/logging.h"
#include "base/units.h"
#include "cli/command.h"
#include "kernels/cpu_features.h"
#include "server/backend_factory.h"
#include "server/http_server.h"
#include "server/model_manager.h"
#include "server/model_registry.h"
#include "server/ollama_store.h"
#include "server/server_metrics.h"

namespace swarmkv::cli {
namespace {

struct ServeOptions {
  HttpServerOptions http;
  BackendOptions backend;
  std::vector<std::string> models;
  std::string models_dir;
  std::string ollama_dir;
  bool no_ollama = false;
  std::string keep_alive = "5m";
  std::string max_body = "8MiB";
  std::string shutdown_flush = "5s";
  std::string write_through = "on";
};

int RunServe(ServeOptions& o) {
  // Block the stop signals in every thread; one thread waits for them and stops the server.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto keep_alive = ParseKeepAliveMs(o.keep_alive);
  if (!keep_alive.ok()) {
    std::cerr << "swarmkv serve: --keep-alive: " << keep_alive.status().message() << "\n";
    return 2;
  }
  auto body = ParseByteSize(o.max_body);
  if (!body.ok() || *body == 0) {
    std::cerr << "swarmkv serve: --max-body '" << o.max_body << "' is not a byte size\n";
    return 2;
  }
  o.http.max_body_bytes = *body;
  auto flush = ParseKeepAliveMs(o.shutdown_flush);
  if (!flush.ok() || *flush < 0) {
    std::cerr << "swarmkv serve: --kv-shutdown-flush '" << o.shutdown_flush << "' is not a duration like 5s (0: none)\n";
    return 2;
  }
  o.backend.kv_shutdown_flush_ms = *flush;
  if (o.write_through != "on" && o.write_through != "off") {
    std::cerr << "swarmkv serve: --kv-write-through '" << o.write_through << "' is not on or off\n";
    return 2;
  }
  o.backend.tiers.write_through = o.write_through == "on";
  // --redis HOST:PORT (the older spelling) means redis://HOST:PORT.
  if (!o.backend.tiers.redis_url.empty() && o.backend.tiers.redis_url.find("://") == std::string::npos)
    o.backend.tiers.redis_url = "redis://" + o.backend.tiers.redis_url;
  ModelRegistryOptions ro;
  ro.model_flags = o.models;
  ro.models_dir = o.models_dir;
  // An explicit --ollama-models wins over --no-ollama; otherwise the default store unless disabled.
  ro.ollama_dir = !o.ollama_dir.empty() ? o.ollama_dir : (o.no_ollama ? "" : DefaultOllamaStore());
  auto registry = ModelRegistry::Build(ro);
  if (!registry.ok()) {
    std::cerr << "swarmkv serve: " << registry.status().ToString() << "\n";
    return 2;
  }
  if (registry->size() == 0)
    SKV_LOG(WARN) << "no models: give --model NAME=PATH, --models DIR, or pull models into an Ollama store";

  // Destroyed after the backend: engine threads report finished generations until they stop.
  ServerMetrics metrics;
  std::unique_ptr<ServerBackend> backend;
  auto created = CreateServerBackend(o.backend);
  if (created.ok()) {
    backend = std::move(created).value();
  } else if (created.status().code() == StatusCode::kUnimplemented) {
    SKV_LOG(WARN) << "serving without generation: " << created.status().ToString();
  } else {
    // A bad flag value (KV type, sizes, tier directory, Redis URL) is the user's to fix now.
    std::cerr << "swarmkv serve: " << created.status().ToString() << "\n";
    return 2;
  }
  ModelManagerOptions mo;
  mo.default_keep_alive_ms = *keep_alive;
  ModelManager models(&*registry, backend.get(), mo);
  o.http.version = SWARMKV_VERSION;
  HttpServer server(o.http, &*registry, &models, backend.get(), &metrics);
  Status s = server.Start();
  if (!s.ok()) {
    std::cerr << "swarmkv serve: " << s.ToString() << "\n";
    return 1;
  }
  if (o.http.host != "127.0.0.1" && o.http.host != "localhost" && o.http.host != "::1")
    SKV_LOG(WARN) << "listening on " << o.http.host << ": reachable beyond this machine, without authentication";
  SKV_LOG(INFO) << "swarmkv serve listening on " << o.http.host << ":" << server.port() << " with "
                << registry->size() << " model(s); kernels " << IsaName(ActiveIsa());

  std::thread waiter([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    SKV_LOG(INFO) << "signal " << sig << ": stopping";
    server.Stop();
  });
  server.Wait();
  // If the listener ended on its own (not by a signal), wake the waiter.
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  return 0;
}

CommandRegistrar reg("serve", "Serve the Ollama- and OpenAI-compatible HTTP API", [](CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  app.add_option("--host", o->http.host, "Address to listen on (default loopback 127.0.0.1)");
  app.add_option("--port", o->http.port, "Port (0: any free port)")->check(CLI::Range(0, 65535));
  app.add_option("--model", o->models, "NAME=PATH of a GGUF file (repeatable)");
  app.add_option("--models", o->models_dir, "Directory of *.gguf files, each named by its file name");
  app.add_option("--ollama-models", o->ollama_dir, "Ollama model store (default $OLLAMA_MODELS or ~/.ollama/models)");
  app.add_flag("--no-ollama", o->no_ollama, "Do not read an Ollama model store");
  app.add_option("--keep-alive", o->keep_alive, "Default keep_alive of a loaded model (5m; 0 unloads at once; -1 never)");
  app.add_option("--workers", o->http.worker_threads, "HTTP worker threads (concurrent connections)")
      ->check(CLI::Range(1, 4096));
  app.add_option("--max-queue", o->http.max_active_generations, "Generation requests in flight before 503")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--max-body", o->max_body, "Request body limit (413 beyond)");
  app.add_option("--read-timeout-ms", o->http.read_timeout_ms, "Per-read timeout against slow clients")
      ->check(CLI::Range(100, 3600000));
  app.add_option("--num-ctx", o->http.default_num_ctx, "Context of a request that gives no num_ctx")
      ->check(CLI::Range(16, 1 << 22));
  app.add_option("-t,--threads", o->backend.threads, "Engine threads (default: physical cores)");
  app.add_option("--kv-memory", o->backend.kv_memory, "KV RAM budget (bytes like 4GiB, or 25%)");
  app.add_option("--kv-type", o->backend.kv_type, "KV dtype: f16, bf16, q8_0, q4_0");
  app.add_option("--kv-block-tokens", o->backend.block_tokens, "Tokens per KV block");
  app.add_option("--kv-disk", o->backend.tiers.disk_dir,
                 "Disk tier directory (default $XDG_CACHE_HOME/swarmkv/kv; 'off' for none)");
  app.add_option("--kv-disk-size", o->backend.tiers.disk_size, "Disk tier budget (default 50GiB)");
  app.add_option("--kv-shared-dir", o->backend.tiers.shared_dir, "Shared-directory tier (e.g. NFS), below the disk");
  app.add_option("--kv-shared-size", o->backend.tiers.shared_size, "Shared-directory tier budget (default 50GiB)");
  app.add_option("--kv-redis", o->backend.tiers.redis_url, "Redis tier redis://host:port/db, below the disk");
  app.add_option("--redis", o->backend.tiers.redis_url, "Redis tier (alias of --kv-redis; host:port accepted)");
  app.add_option("--kv-redis-ttl", o->backend.tiers.redis_ttl_seconds, "TTL of Redis entries in seconds (0: none)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  app.add_option("--kv-zstd-level", o->backend.tiers.zstd_level, "zstd level of stored KV entries (0: raw)")
      ->check(CLI::Range(0, 22));
  app.add_option("--kv-shutdown-flush", o->shutdown_flush,
                 "On SIGTERM/SIGINT, write cached RAM KV to the tiers for at most this long (default 5s; 0: none)");
  app.add_option("--kv-write-through", o->write_through,
                 "Write newly sealed KV blocks to the disk/Redis tiers while the write-back queue is idle, "
                 "so a crash loses little (on|off, default on)");
  app.add_flag("--no-prefix-cache", [o](int64_t) { o->backend.prefix_cache = false; },
               "Disable prefix reuse: every prompt token is computed; the KV tiers are not opened");
  return [o] { return RunServe(*o); };
});

}  // namespace
}  // namespace swarmkv::cli
