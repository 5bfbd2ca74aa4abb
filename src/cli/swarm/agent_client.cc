#include "cli/swarm/agent_client.h"

#include <chrono>
#include <sstream>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace swarmkv::cli {

AgentResult RunAgent(int port, const AgentRequest& request) {
  using Clock = std::chrono::steady_clock;
  AgentResult result;
  nlohmann::json body = {
      {"model", request.model},
      {"stream", true},
      {"messages",
       nlohmann::json::array({{{"role", "system"}, {"content", request.system}},
                              {{"role", "user"}, {"content", request.user}}})},
      {"options", {{"temperature", 0}, {"num_predict", request.num_predict}, {"seed", request.seed}}},
  };
  if (request.num_ctx > 0) body["options"]["num_ctx"] = request.num_ctx;
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(3600, 0);
  client.set_write_timeout(60, 0);

  httplib::Request req;
  req.method = "POST";
  req.path = "/api/chat";
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  std::string pending;
  bool got_first = false;
  bool done = false;
  std::string error;
  auto start = Clock::now();
  auto ms_since_start = [&] {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    pending.append(data, n);
    size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (line.empty()) continue;
      auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded()) {
        error = "unparsable stream line: " + line.substr(0, 200);
        return false;
      }
      if (j.contains("error")) {
        error = j["error"].is_string() ? j["error"].get<std::string>() : j["error"].dump();
        return false;
      }
      if (j.contains("message") && j["message"].contains("content")) {
        // The server streams one line per generated token, even when its text is still held back
        // (an incomplete UTF-8 character, a possible stop string): the first line is the first token.
        if (!got_first) {
          got_first = true;
          result.ttft_ms = ms_since_start();
        }
        result.text += j["message"]["content"].get<std::string>();
      }
      if (j.value("done", false)) {
        done = true;
        result.prompt_eval_count = j.value("prompt_eval_count", int64_t{0});
        result.eval_count = j.value("eval_count", int64_t{0});
      }
    }
    return true;
  };
  auto res = client.send(req);
  result.total_ms = ms_since_start();
  if (!error.empty()) {
    result.status = InternalError("agent request failed: " + error);
  } else if (!res) {
    result.status = UnavailableError("agent request failed: " + httplib::to_string(res.error()));
  } else if (res->status != 200) {
    // A non-2xx body may have gone to the stream receiver (as an error line) or stayed in `pending`.
    const std::string body = !res->body.empty() ? res->body : pending;
    result.status = InternalError("agent request: HTTP " + std::to_string(res->status) + " " + body.substr(0, 300));
  } else if (!done) {
    result.status = InternalError("agent stream ended without a final message");
  }
  return result;
}

Result<std::string> HttpGet(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(30, 0);
  auto res = client.Get(path.c_str());
  if (!res) return UnavailableError("GET " + path + ": " + httplib::to_string(res.error()));
  if (res->status != 200) return InternalError("GET " + path + ": HTTP " + std::to_string(res->status));
  return res->body;
}

Result<std::string> HttpPost(int port, const std::string& path, const std::string& body, int read_timeout_s) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(read_timeout_s, 0);
  auto res = client.Post(path.c_str(), body, "application/json");
  if (!res) return UnavailableError("POST " + path + ": " + httplib::to_string(res.error()));
  if (res->status != 200) return InternalError("POST " + path + ": HTTP " + std::to_string(res->status) + ": " + res->body);
  return res->body;
}

double PrometheusValue(const std::string& text, const std::string& name, const std::string& label_filter) {
  std::istringstream in(text);
  std::string line;
  double sum = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.compare(0, name.size(), name) != 0) continue;
    char next = line.size() > name.size() ? line[name.size()] : '\0';
    if (next != '{' && next != ' ') continue;  // another series with this name as prefix
    size_t value_pos = line.rfind(' ');
    if (value_pos == std::string::npos) continue;
    std::string labels = next == '{' ? line.substr(name.size(), line.find('}') - name.size() + 1) : "";
    if (!label_filter.empty() && labels.find(label_filter) == std::string::npos) continue;
    try {
      sum += std::stod(line.substr(value_pos + 1));
    } catch (...) {
    }
  }
  return sum;
}

}  // namespace swarmkv::cli
