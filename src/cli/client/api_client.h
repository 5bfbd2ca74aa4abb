// ApiClient: the `swarmkv list|ps|show|stop|run NAME` side of the Ollama API — a small blocking
// HTTP client (cpp-httplib) for a running `swarmkv serve` (or any Ollama-compatible server).
//
// The server is $SWARMKV_HOST (as OLLAMA_HOST: "host", "host:port", "http://host:port"),
// default 127.0.0.1:11434. Every call returns the decoded JSON or an error whose message is the
// server's own `error` text (or "cannot reach the server at ..." naming the address).
//
// Thread-safety: one ApiClient per thread; Cancel() may be called from any thread (a signal
// handler path sets the flag it reads).
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace swarmkv::cli {

struct ServerAddress {
  std::string host = "127.0.0.1";
  int port = 11434;
  std::string ToString() const { return host + ":" + std::to_string(port); }
};

// Parses "host", "host:port", "http://host:port/", ":port". "" gives the default.
Result<ServerAddress> ParseServerAddress(const std::string& text);
// $SWARMKV_HOST, else the default.
Result<ServerAddress> ServerAddressFromEnv();

class ApiClient {
 public:
  explicit ApiClient(ServerAddress address) : address_(std::move(address)) {}

  Result<nlohmann::json> Get(const std::string& path) const;
  Result<nlohmann::json> Post(const std::string& path, const nlohmann::json& body) const;
  // POSTs `body` and calls `on_line` with each NDJSON object as it arrives. Returns Cancelled
  // when `cancel` became true mid-stream (the connection is dropped, which cancels the
  // generation on the server), or the stream's own error object as an error.
  Status PostStream(const std::string& path, const nlohmann::json& body,
                    const std::function<void(const nlohmann::json&)>& on_line, const std::atomic<bool>* cancel) const;
  const ServerAddress& address() const { return address_; }

 private:
  ServerAddress address_;
};

}  // namespace swarmkv::cli
