#include "cli/swarm/agent_client.h"

#include <chrono>
#include <sstream>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace swarmkv::cli {

namespace {

using Json = nlohmann::json;

// Generated text may end inside a UTF-8 character; it goes back as a message all the same.
std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

Json MessagesJson(const std::vector<ChatMessage>& messages) {
  Json out = Json::array();
  for (const auto& m : messages) {
    Json j = {{"role", m.role}, {"content", m.content}};
    if (!m.name.empty()) j["name"] = m.name;
    out.push_back(std::move(j));
  }
  return out;
}

// The streamed request's body, or the error of rendering the chat (llama-server).
Result<std::string> RequestBody(int port, const AgentRequest& r) {
  Json body = {{"model", r.model},
               {"stream", true},
               {"stream_options", {{"include_usage", true}}},
               {"max_tokens", r.num_predict},
               {"temperature", 0},
               {"seed", r.seed}};
  if (r.api == ServerApi::kSwarmkv) {
    body["messages"] = MessagesJson(r.messages);
    return Dump(body);
  }
  auto rendered = HttpPost(port, "/apply-template", Dump(Json{{"messages", MessagesJson(r.messages)}}), 600);
  if (!rendered.ok()) return rendered.status();
  const Json t = Json::parse(*rendered, nullptr, false);
  if (t.is_discarded() || !t.contains("prompt") || !t["prompt"].is_string())
    return InternalError("/apply-template: unexpected answer " + rendered->substr(0, 200));
  body["prompt"] = t["prompt"];
  body["cache_prompt"] = true;
  return Dump(body);
}

}  // namespace

AgentResult RunAgentRequest(int port, const AgentRequest& request) {
  using Clock = std::chrono::steady_clock;
  AgentResult result;
  auto body = RequestBody(port, request);
  if (!body.ok()) {
    result.status = body.status();
    return result;
  }
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(3600, 0);
  client.set_write_timeout(60, 0);

  httplib::Request req;
  req.method = "POST";
  req.path = request.api == ServerApi::kSwarmkv ? "/v1/chat/completions" : "/v1/completions";
  req.body = std::move(*body);
  req.set_header("Content-Type", "application/json");
  std::string pending;
  std::string other;  // what was not an event
  bool done = false;
  std::string error;
  auto start = Clock::now();
  auto ms_since_start = [&] { return std::chrono::duration<double, std::milli>(Clock::now() - start).count(); };
  // Server-sent events: "data: {json}" lines, "data: [DONE]" at the end.
  auto on_event = [&](const std::string& line) {
    if (line.rfind("error:", 0) == 0) {
      error = line;
      return false;
    }
    if (line.rfind("data:", 0) != 0) {  // blank lines, comments, event names, or an error answer's body
      if (other.size() < 300) other += line;
      return true;
    }
    std::string data = line.substr(5);
    if (!data.empty() && data[0] == ' ') data.erase(0, 1);
    if (data == "[DONE]") {
      done = true;
      return true;
    }
    const Json j = Json::parse(data, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      error = "unparsable stream line: " + line.substr(0, 200);
      return false;
    }
    if (j.contains("error")) {
      error = j["error"].is_string() ? j["error"].get<std::string>() : j["error"].dump();
      return false;
    }
    const auto choices = j.find("choices");
    if (choices != j.end() && choices->is_array() && !choices->empty()) {
      const Json& c = (*choices)[0];
      // Both servers send one chunk per generated token (an empty text when the token prints
      // nothing yet), then a chunk with the finish reason.
      if (c.value("finish_reason", Json()).is_null()) {
        const double now = ms_since_start();
        if (result.token_ms.empty()) result.ttft_ms = now;
        result.token_ms.push_back(now);
        const Json& text = c.contains("delta") ? c["delta"].value("content", Json()) : c.value("text", Json());
        if (text.is_string()) result.text += text.get<std::string>();
      }
    }
    if (j.contains("usage") && j["usage"].is_object()) {
      const Json& u = j["usage"];
      result.prompt_tokens = u.value("prompt_tokens", int64_t{0});
      result.completion_tokens = u.value("completion_tokens", int64_t{0});
      if (u.contains("prompt_tokens_details") && u["prompt_tokens_details"].is_object())
        result.cached_tokens = u["prompt_tokens_details"].value("cached_tokens", int64_t{0});
    }
    if (j.contains("timings") && j["timings"].is_object() && j["timings"].contains("cache_n"))
      result.cached_tokens = j["timings"].value("cache_n", result.cached_tokens);
    return true;
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    pending.append(data, n);
    size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!on_event(line)) return false;
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
    // A non-2xx body may have gone to the stream receiver or stayed in `pending`.
    const std::string text = !res->body.empty() ? res->body : other + pending;
    result.status = InternalError("agent request: HTTP " + std::to_string(res->status) + " " + text.substr(0, 300));
  } else if (!done) {
    result.status = InternalError("agent stream ended without [DONE]");
  } else if (result.prompt_tokens == 0) {
    result.status = InternalError("agent stream carried no usage (prompt token counts)");
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
