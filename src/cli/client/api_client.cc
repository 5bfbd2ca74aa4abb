#include "cli/client/api_client.h"

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace swarmkv::cli {

using json = nlohmann::json;

namespace {

constexpr int kConnectTimeoutS = 5;
constexpr int kReadTimeoutS = 600;  // a model load plus a long prefill

std::unique_ptr<httplib::Client> NewClient(const ServerAddress& a) {
  auto c = std::make_unique<httplib::Client>(a.host, a.port);
  c->set_connection_timeout(kConnectTimeoutS, 0);
  c->set_read_timeout(kReadTimeoutS, 0);
  c->set_write_timeout(kReadTimeoutS, 0);
  return c;
}

// The server's `error` (Ollama: a string; OpenAI: {message}) or the raw body.
std::string ErrorText(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error")) {
    const json& e = j["error"];
    if (e.is_string()) return e.get<std::string>();
    if (e.is_object() && e.contains("message") && e["message"].is_string()) return e["message"].get<std::string>();
  }
  return body;
}

Status HttpError(int status, const std::string& body) {
  std::string msg = ErrorText(body);
  if (status == 404) return NotFoundError(msg);
  if (status >= 400 && status < 500) return InvalidArgumentError(msg);
  if (status == 501) return UnimplementedError(msg);
  return UnavailableError("server answered " + std::to_string(status) + ": " + msg);
}

Status Unreachable(const ServerAddress& a, httplib::Error e) {
  return UnavailableError("cannot reach the server at " + a.ToString() + " (" + httplib::to_string(e) +
                          "); is `swarmkv serve` running? (set SWARMKV_HOST to use another address)");
}

Result<json> Decode(const httplib::Result& r, const ServerAddress& a) {
  if (!r) return Unreachable(a, r.error());
  if (r->status != 200) return HttpError(r->status, r->body);
  json j = json::parse(r->body, nullptr, false);
  if (j.is_discarded()) return InternalError("the server's answer is not JSON: " + r->body.substr(0, 200));
  return j;
}

}  // namespace

Result<ServerAddress> ParseServerAddress(const std::string& text) {
  ServerAddress a;
  std::string t = text;
  for (const char* scheme : {"http://", "https://"})
    if (t.rfind(scheme, 0) == 0) t = t.substr(std::string(scheme).size());
  if (auto slash = t.find('/'); slash != std::string::npos) t = t.substr(0, slash);
  if (t.empty()) return a;
  if (t[0] == '[') {  // [::1] or [::1]:port
    size_t close = t.find(']');
    if (close == std::string::npos) return InvalidArgumentError("SWARMKV_HOST '" + text + "': unclosed '['");
    std::string rest = t.substr(close + 1);
    t = t.substr(1, close - 1);
    if (!rest.empty()) t = "[" + t + "]" + rest;  // handled as host:port below, brackets stripped after
  }
  size_t colon = t.rfind(':');
  const bool bracketed = !t.empty() && t[0] == '[';
  if (colon != std::string::npos && (bracketed || t.find(':') == colon)) {
    std::string port = t.substr(colon + 1);
    if (!port.empty()) {
      char* end = nullptr;
      long p = std::strtol(port.c_str(), &end, 10);
      if (*end != '\0' || p <= 0 || p > 65535) return InvalidArgumentError("SWARMKV_HOST '" + text + "': bad port");
      a.port = static_cast<int>(p);
    }
    t = t.substr(0, colon);
    if (bracketed) t = t.substr(1, t.size() - 2);
  }
  if (t == "0.0.0.0" || t.empty()) t = "127.0.0.1";  // the address a server listens on, reached locally
  a.host = t;
  return a;
}

Result<ServerAddress> ServerAddressFromEnv() {
  const char* env = std::getenv("SWARMKV_HOST");
  return ParseServerAddress(env ? env : "");
}

Result<json> ApiClient::Get(const std::string& path) const {
  auto c = NewClient(address_);
  return Decode(c->Get(path.c_str()), address_);
}

Result<json> ApiClient::Post(const std::string& path, const json& body) const {
  auto c = NewClient(address_);
  return Decode(c->Post(path.c_str(), body.dump(), "application/json"), address_);
}

Status ApiClient::PostStream(const std::string& path, const json& body,
                             const std::function<void(const json&)>& on_line, const std::atomic<bool>* cancel) const {
  auto c = NewClient(address_);
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  std::string pending, error_body;
  int status = 0;
  Status stream_error;
  req.response_handler = [&](const httplib::Response& r) {
    status = r.status;
    return true;
  };
  req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
    if (cancel != nullptr && cancel->load()) return false;
    if (status != 200) {
      error_body.append(data, len);
      return true;
    }
    pending.append(data, len);
    size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (line.empty()) continue;
      json j = json::parse(line, nullptr, false);
      if (j.is_discarded()) continue;
      if (j.contains("error")) {
        stream_error = UnavailableError(ErrorText(line));
        continue;
      }
      on_line(j);
    }
    return !(cancel != nullptr && cancel->load());
  };
  // A silent server (a long prefill) sends nothing to notice the cancel by: a watcher shuts the
  // socket down instead, which also tells the server to cancel the generation.
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::thread watcher;
  if (cancel != nullptr) {
    watcher = std::thread([&] {
      std::unique_lock<std::mutex> lock(mu);
      while (!done) {
        if (cancel->load()) {
          c->stop();
          return;
        }
        cv.wait_for(lock, std::chrono::milliseconds(50));  // a signal handler cannot notify a cv
      }
    });
  }
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  bool ok = c->send(req, res, err);
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
  }
  cv.notify_all();
  if (watcher.joinable()) watcher.join();
  if (cancel != nullptr && cancel->load()) return CancelledError("generation stopped");
  if (!ok) return Unreachable(address_, err);
  if (status != 200) return HttpError(status, error_body.empty() ? res.body : error_body);
  return stream_error;
}

}  // namespace swarmkv::cli
