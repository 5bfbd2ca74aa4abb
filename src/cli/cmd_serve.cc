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
#include <cstdlib>
#include <iostream>
#include <thread>

#include "base/env.h"
#include "base/logging.h"
#include "base/units.h"
#include "cli/command.h"
#include "kernels/cpu_features.h"
#include "server/backend_factory.h"
#include "server/http_server.h"
#include "server/model_manager.h"
#include "server/model_registry.h"
#include "server/ollama_store.h"
#include "server/request_guard.h"
#include "server/server_metrics.h"
#include "tiers/entry_mac.h"

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
  std::string api_key_file;
  std::string kv_secret_file;
  bool insecure_no_auth = false;
  std::string generation_timeout = "0";
  std::string pin_wait = "2m";
  std::string max_pinned_bytes = "0";
  int max_loaded_models = 0;
};

// `-m PATH` (llama-server's spelling) means `--model STEM=PATH`; NAME=PATH stays as it is. A
// path that exists is a path even when it contains '='.
std::string ModelFlagWithName(const std::string& flag) {
  size_t eq = flag.find('=');
  auto st = Env::Default()->Stat(flag);
  if (eq != std::string::npos && !(st.ok() && !st->is_dir)) return flag;
  std::string stem = flag.substr(flag.find_last_of('/') == std::string::npos ? 0 : flag.find_last_of('/') + 1);
  if (stem.size() > 5 && stem.compare(stem.size() - 5, 5, ".gguf") == 0) stem.resize(stem.size() - 5);
  return stem + "=" + flag;
}

// The API key from --api-key, else --api-key-file, else $SWARMKV_API_KEY; and the refusal to
// serve a network address without one (docs/security.md). Returns false with a message on error.
bool ResolveAccess(ServeOptions& o) {
  if (o.http.api_key.empty() && !o.api_key_file.empty()) {
    auto text = Env::Default()->ReadFile(o.api_key_file);
    if (!text.ok()) {
      std::cerr << "swarmkv serve: --api-key-file: " << text.status().ToString() << "\n";
      return false;
    }
    std::string key = *text;
    while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' ')) key.pop_back();
    if (key.empty()) {
      std::cerr << "swarmkv serve: --api-key-file " << o.api_key_file << " is empty\n";
      return false;
    }
    o.http.api_key = key;
  }
  if (o.http.api_key.empty()) {
    if (const char* env = std::getenv("SWARMKV_API_KEY"); env != nullptr) o.http.api_key = env;
  }
  if (!o.http.api_key.empty() && o.http.api_key.size() < 16)
    SKV_LOG(WARN) << "the API key is shorter than 16 characters: easy to guess";
  if (!IsLoopbackHost(o.http.host) && o.http.api_key.empty() && !o.insecure_no_auth) {
    std::cerr << "swarmkv serve: --host " << o.http.host
              << " is reachable beyond this machine: give an API key (--api-key, --api-key-file or "
                 "SWARMKV_API_KEY), or --insecure-no-auth to serve without one\n";
    return false;
  }
  return true;
}

int RunServe(ServeOptions& o) {
  // Block the stop signals in every thread; one thread waits for them and stops the server.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  if (!ResolveAccess(o)) return 2;
  {
    auto secret = ResolveKvSecret(o.backend.tiers.kv_secret, o.kv_secret_file, std::getenv("SWARMKV_KV_SECRET"));
    if (!secret.ok()) {
      std::cerr << "swarmkv serve: " << secret.status().message() << "\n";
      return 2;
    }
    o.backend.tiers.kv_secret = *secret;
  }
  auto gen_timeout = ParseKeepAliveMs(o.generation_timeout);
  if (!gen_timeout.ok() || *gen_timeout < 0) {
    std::cerr << "swarmkv serve: --generation-timeout '" << o.generation_timeout
              << "' is not a duration like 10m (0: none)\n";
    return 2;
  }
  o.http.generation_timeout_ms = *gen_timeout;
  auto pin_wait = ParseKeepAliveMs(o.pin_wait);
  if (!pin_wait.ok() || *pin_wait < 0) {
    std::cerr << "swarmkv serve: --pin-wait '" << o.pin_wait << "' is not a duration like 2m\n";
    return 2;
  }
  o.http.pin_wait_ms = *pin_wait;
  auto pinned_bytes = ParseByteSize(o.max_pinned_bytes);
  if (!pinned_bytes.ok()) {
    std::cerr << "swarmkv serve: --max-pinned-bytes '" << o.max_pinned_bytes << "' is not a byte size like 2GiB\n";
    return 2;
  }
  o.http.max_pinned_bytes = *pinned_bytes;
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
  for (const auto& m : o.models) ro.model_flags.push_back(ModelFlagWithName(m));
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
  if (!created.ok()) {
    // A bad flag value (KV type, sizes, tier directory, Redis URL) is the user's to fix now.
    std::cerr << "swarmkv serve: " << created.status().ToString() << "\n";
    return 2;
  }
  backend = std::move(created).value();
  ModelManagerOptions mo;
  mo.default_keep_alive_ms = *keep_alive;
  mo.max_loaded_models = o.max_loaded_models;
  ModelManager models(&*registry, backend.get(), mo);
  o.http.version = SWARMKV_VERSION;
  HttpServer server(o.http, &*registry, &models, backend.get(), &metrics);
  Status s = server.Start();
  if (!s.ok()) {
    std::cerr << "swarmkv serve: " << s.ToString() << "\n";
    return 1;
  }
  if (!IsLoopbackHost(o.http.host))
    SKV_LOG(WARN) << "listening on " << o.http.host << ": reachable beyond this machine, "
                  << (o.http.api_key.empty() ? "WITHOUT authentication (--insecure-no-auth)" : "API key required");
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
  app.add_option("-m,--model", o->models, "NAME=PATH of a GGUF file, or just PATH (named by its file name without .gguf); repeatable");
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
  app.add_option("--num-ctx", o->http.default_num_ctx,
                 "Context of a request that gives no num_ctx (0: the model's training context; paged KV "
                 "costs nothing until used)")
      ->check(CLI::Range(0, 1 << 22));
  app.add_option("--api-key", o->http.api_key,
                 "Require 'Authorization: Bearer KEY' on every route but /api/version and / (also $SWARMKV_API_KEY)");
  app.add_option("--api-key-file", o->api_key_file, "File holding the API key (first line)");
  app.add_flag("--insecure-no-auth", o->insecure_no_auth,
               "Allow a non-loopback --host without an API key (anyone who can reach the port can use it)");
  app.add_option("--allowed-origins", o->http.allowed_origins,
                 "Browser origins allowed besides the local defaults, e.g. https://chat.example.com or "
                 "chrome-extension://* ('*' wildcards; repeatable or comma-separated)")
      ->delimiter(',');
  app.add_option("--allowed-hosts", o->http.allowed_hosts,
                 "Host header names a loopback server also answers (DNS-rebinding allow-list; comma-separated)")
      ->delimiter(',');
  app.add_option("--max-connections", o->http.max_connections, "Open connections before 503")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--header-timeout-ms", o->http.header_timeout_ms,
                 "Time a client has to send a request's whole header block (slow-loris)")
      ->check(CLI::Range(100, 3600000));
  app.add_option("--max-loaded-models", o->max_loaded_models,
                 "Models resident at once (0: no cap); one more unloads the idle model closest to expiry, "
                 "or is a 503 while all are in use")
      ->check(CLI::Range(0, 4096));
  app.add_option("--max-pins", o->http.max_pins, "Live KV pins (POST /api/kv/pin) before 429")
      ->check(CLI::Range(0, 1 << 24));
  app.add_option("--max-pinned-tokens", o->http.max_pinned_tokens, "Tokens of all live pins' prefixes before 429")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  app.add_option("--max-pinned-bytes", o->max_pinned_bytes,
                 "KV bytes all live pins may keep, e.g. 2GiB, before 429 (0: half of --kv-memory)");
  app.add_option("--pin-wait", o->pin_wait,
                 "How long POST /api/kv/pin (not streamed) waits for its preload before answering 202 with its "
                 "progress (default 2m)");
  app.add_option("--generation-timeout", o->generation_timeout,
                 "Wall deadline of one generation request, e.g. 10m (0: none; 504 or a cut stream beyond)");
  app.add_option("-t,--threads", o->backend.threads, "Engine threads (default: physical cores)");
  app.add_option("--kv-memory", o->backend.kv_memory, "KV RAM budget (bytes like 4GiB, or 25%)");
  app.add_option("--kv-type", o->backend.kv_type, "KV dtype: f16, bf16, q8_0, q4_0");
  app.add_option("--kv-block-tokens", o->backend.block_tokens, "Tokens per KV block");
  app.add_option("--kv-hot-window", o->backend.kv_hot_window,
                 "Tokens of each running sequence kept in RAM; older KV goes to the disk tier's cold/ "
                 "directory and is streamed back to attention, so a context can exceed --kv-memory (0: off)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--kv-checkpoint-interval", o->backend.kv_checkpoint_interval,
                 "Hybrid (recurrent) models: keep the recurrent-state checkpoint in every N-th KV block; a prefix "
                 "hit recomputes from the last one (0: N from the cost model, state bytes vs recompute)")
      ->check(CLI::Range(0, 1 << 20));
  app.add_option("--kv-disk", o->backend.tiers.disk_dir,
                 "Disk tier directory (default $XDG_CACHE_HOME/swarmkv/kv; 'off' for none)");
  app.add_option("--kv-disk-size", o->backend.tiers.disk_size, "Disk tier budget (default 50GiB)");
  app.add_option("--kv-shared-dir", o->backend.tiers.shared_dir, "Shared-directory tier (e.g. NFS), below the disk");
  app.add_option("--kv-shared-size", o->backend.tiers.shared_size, "Shared-directory tier budget (default 50GiB)");
  app.add_option("--kv-redis", o->backend.tiers.redis_url,
                 "Redis tier redis://[[user]:password@]host:port/db (rediss:// for TLS), below the disk");
  app.add_option("--redis", o->backend.tiers.redis_url, "Redis tier (alias of --kv-redis; host:port accepted)");
  app.add_option("--redis-tls-ca", o->backend.tiers.redis_tls.ca_path,
                 "rediss://: CA certificate(s) the server's certificate must chain to: a PEM file, or a directory "
                 "prepared with `openssl rehash` (default: the system store)");
  app.add_option("--redis-tls-cert", o->backend.tiers.redis_tls.cert_file,
                 "rediss://: client certificate (PEM) for servers that require one (tls-auth-clients yes)");
  app.add_option("--redis-tls-key", o->backend.tiers.redis_tls.key_file,
                 "rediss://: the client certificate's private key (PEM, unencrypted)");
  app.add_option("--redis-tls-server-name", o->backend.tiers.redis_tls.server_name,
                 "rediss://: the name the server's certificate must carry, also sent as SNI (default: the URL's "
                 "host, or each cluster node's announced address)");
  app.add_flag("--redis-tls-insecure", o->backend.tiers.redis_tls.insecure,
               "rediss://: DO NOT verify the server's certificate or name (encrypted, but anyone on the path can "
               "impersonate the server)");
  app.add_option("--kv-redis-ttl", o->backend.tiers.redis_ttl_seconds, "TTL of Redis entries in seconds (0: none)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  app.add_option("--kv-secret", o->backend.tiers.kv_secret,
                 "Sign KV tier entries with HMAC-SHA256 under this secret (>= 16 bytes; also $SWARMKV_KV_SECRET); "
                 "unsigned or forged entries in a shared dir or Redis are dropped");
  app.add_option("--kv-secret-file", o->kv_secret_file, "File holding the KV secret (trailing newline ignored)");
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
