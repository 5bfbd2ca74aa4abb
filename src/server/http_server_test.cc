// HTTP-level tests of the server over real loopback sockets (cpp-httplib client), with the
// scripted backend of test_backend.h standing in below the server/engine seam.
#include "server/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "base/env.h"
#include "base/testing.h"
#include "server/test_backend.h"
#include "server/test_http_server.h"

namespace swarmkv {
namespace {

using json = nlohmann::json;

class HttpServerTest : public testing::HttpServerFixture {
 protected:
  // Starts a server serving "tiny" and "alias:v2"; with_backend=false is a server built without an engine.
  void StartServer(bool with_backend, HttpServerOptions o = {}) { StartHttpServer(o, with_backend, {"alias:v2"}); }
  static json Json(const httplib::Result& r) { return json::parse(r->body, nullptr, false); }
};

const char* kChat = R"({"model":"tiny","messages":[{"role":"user","content":"hi"}],"stream":false})";

TEST_F(HttpServerTest, InfoRoutesWithoutEngine) {
  StartServer(false);
  auto c = Client();
  auto v = c.Get("/api/version");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->status, 200);
  EXPECT_TRUE(Json(v).contains("version"));
  auto tags = Json(c.Get("/api/tags"));
  ASSERT_EQ(tags["models"].size(), 2u);
  EXPECT_EQ(tags["models"][0]["name"], "alias:v2");
  EXPECT_EQ(tags["models"][1]["name"], "tiny:latest");
  EXPECT_EQ(tags["models"][0]["digest"], tags["models"][1]["digest"]);  // same weights
  auto models = Json(c.Get("/v1/models"));
  EXPECT_EQ(models["object"], "list");
  EXPECT_EQ(models["data"][1]["id"], "tiny:latest");
  // The test's weights file is not a GGUF: /api/show says so with a 4xx, naming the file.
  auto show = Post("/api/show", R"({"model":"tiny"})");
  EXPECT_EQ(show->status, 422);
  EXPECT_NE(Json(show)["error"].get<std::string>().find("tiny.gguf"), std::string::npos) << show->body;
  EXPECT_EQ(Post("/api/show", R"({"model":"nope"})")->status, 404);
  EXPECT_EQ(Post("/api/show", "{")->status, 400);
  EXPECT_EQ(Json(c.Get("/api/ps"))["models"].size(), 0u);
  auto kv = Json(c.Get("/api/kv"));
  EXPECT_EQ(kv["engine_attached"], false);
  // Generation without an engine: a clear 503, not a hang.
  auto gen = Post("/api/chat", kChat);
  EXPECT_EQ(gen->status, 503);
  EXPECT_NE(Json(gen)["error"].get<std::string>().find("without an engine"), std::string::npos);
}

TEST_F(HttpServerTest, ErrorsAreJsonWithTheRightStatus) {
  StartServer(true);
  struct Case { const char* path; std::string body; int status; const char* needle; };
  std::vector<Case> cases = {
      {"/api/chat", "{not json", 400, "not valid JSON"},
      {"/api/chat", R"({"model":"ghost","messages":[{"role":"user","content":"x"}]})", 404, "'ghost' not found"},
      {"/api/generate", R"({"model":"tiny","prompt":"x","options":{"num_predict":99999999}})", 400, "num_predict"},
      // Ollama clamps num_ctx and truncates (context_window.h); truncate:false refuses, naming both numbers.
      {"/api/generate", R"({"model":"tiny","prompt":")" + std::string(100, 'a') + R"(","truncate":false,"options":{"num_ctx":50}})",
       400, "num_ctx is 50"},
      {"/v1/chat/completions", R"({"model":1})", 400, "'model' must be a string"},
      {"/api/generate", R"({"model":"tiny","prompt":"x","template":"{{ .Bogus }}"})", 400, "unrecognised chat template"},
      {"/api/pull", R"({"model":"llama3"})", 501, "not supported"},
      {"/api/embed", R"({})", 501, "embeddings are not served"},
      {"/api/nothing", R"({})", 404, "no route"},
  };
  for (const auto& c : cases) {
    auto r = Post(c.path, c.body);
    ASSERT_TRUE(r) << c.path;
    EXPECT_EQ(r->status, c.status) << c.path << " " << c.body << " -> " << r->body;
    json j = Json(r);
    ASSERT_FALSE(j.is_discarded()) << r->body;
    std::string msg = j["error"].is_string() ? j["error"].get<std::string>() : j["error"]["message"].get<std::string>();
    EXPECT_NE(msg.find(c.needle), std::string::npos) << c.path << ": " << msg;
  }
  // The prompt-too-long message names both numbers.
  auto r = Post("/api/generate", R"({"model":"tiny","raw":true,"truncate":false,"prompt":")" + std::string(100, 'a') +
                                     R"(","options":{"num_ctx":50}})");
  EXPECT_NE(r->body.find("101 tokens"), std::string::npos) << r->body;
  // OpenAI routes answer in OpenAI's error shape.
  auto o = Json(Post("/v1/chat/completions", "[]"));
  EXPECT_EQ(o["error"]["type"], "invalid_request_error");
}

TEST_F(HttpServerTest, BodyOverTheLimitIs413) {
  HttpServerOptions o;
  o.max_body_bytes = 1024;
  StartServer(true, o);
  auto r = Post("/api/chat", std::string(4096, ' '));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_NE(r->body.find("limit of 1024 bytes"), std::string::npos) << r->body;
  EXPECT_EQ(Post("/api/chat", kChat)->status, 200);
}

TEST_F(HttpServerTest, OllamaChatAndGenerateNonStreaming) {
  StartServer(true);
  auto r = Post("/api/chat", kChat);
  ASSERT_EQ(r->status, 200) << r->body;
  json j = Json(r);
  EXPECT_EQ(j["model"], "tiny");
  EXPECT_EQ(j["message"]["role"], "assistant");
  EXPECT_EQ(j["message"]["content"], "w0 w1 w2 w3 w4 ");
  EXPECT_EQ(j["done"], true);
  EXPECT_EQ(j["done_reason"], "stop");
  EXPECT_EQ(j["eval_count"], 5);
  // "<|user|>hi\n<|assistant|>" is 24 bytes, plus BOS.
  EXPECT_EQ(j["prompt_eval_count"], 25);
  for (const char* f : {"total_duration", "load_duration", "prompt_eval_duration", "eval_duration"})
    EXPECT_TRUE(j[f].is_number_integer()) << f;
  auto g = Json(Post("/api/generate", R"({"model":"tiny","raw":true,"prompt":"ab","stream":false,"options":{"num_predict":2}})"));
  EXPECT_EQ(g["response"], "w0 w1 ");
  EXPECT_EQ(g["done_reason"], "length");
  EXPECT_EQ(g["context"], json({0, 'a' + 1, 'b' + 1, 1000, 1001}));
  // The context continues a conversation: no BOS again, the old tokens first.
  auto g2 = Json(Post("/api/generate", R"({"model":"tiny","raw":true,"prompt":"c","stream":false,"options":{"num_predict":1},"context":)" +
                                           g["context"].dump() + "}"));
  EXPECT_EQ(g2["prompt_eval_count"], 6);
  EXPECT_EQ(backend_->loads, 1);  // tiny and its alias share one loaded model
  EXPECT_EQ(Json(Post("/api/chat", R"({"model":"alias:v2","messages":[{"role":"user","content":"x"}],"stream":false})"))["done"], true);
  EXPECT_EQ(backend_->loads, 1);
}

std::vector<json> NdjsonLines(const std::string& body) {
  std::vector<json> out;
  size_t start = 0;
  while (start < body.size()) {
    size_t nl = body.find('\n', start);
    if (nl == std::string::npos) nl = body.size();
    out.push_back(json::parse(body.substr(start, nl - start)));
    start = nl + 1;
  }
  return out;
}

TEST_F(HttpServerTest, OllamaStreamsNdjson) {
  StartServer(true);
  auto r = Post("/api/generate", R"({"model":"tiny","prompt":"hello"})");
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/x-ndjson");
  auto lines = NdjsonLines(r->body);
  ASSERT_GE(lines.size(), 2u);
  std::string text;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    EXPECT_EQ(lines[i]["done"], false);
    text += lines[i]["response"].get<std::string>();
  }
  EXPECT_EQ(text, "w0 w1 w2 w3 w4 ");
  const json& last = lines.back();
  EXPECT_EQ(last["done"], true);
  EXPECT_EQ(last["response"], "");
  EXPECT_EQ(last["eval_count"], 5);
  EXPECT_EQ(last["context"].size(), last["prompt_eval_count"].get<size_t>() + 5);
}

TEST_F(HttpServerTest, OpenAIStreamsSseEndingInDone) {
  StartServer(true);
  backend_->reuse_tokens = 4;
  auto r = Post("/v1/chat/completions", R"({"model":"tiny","stream":true,"stream_options":{"include_usage":true},
                                            "messages":[{"role":"user","content":"hi"}]})");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/event-stream");
  const std::string& b = r->body;
  ASSERT_GE(b.size(), 14u);
  EXPECT_EQ(b.substr(b.size() - 14), "data: [DONE]\n\n");
  std::string text;
  json usage, finish;
  size_t pos = 0;
  while ((pos = b.find("data: ", pos)) != std::string::npos) {
    size_t end = b.find("\n\n", pos);
    std::string payload = b.substr(pos + 6, end - pos - 6);
    pos = end;
    if (payload == "[DONE]") break;
    json j = json::parse(payload);
    EXPECT_EQ(j["object"], "chat.completion.chunk");
    if (j.contains("usage")) usage = j["usage"];
    else if (!j["choices"][0]["finish_reason"].is_null()) finish = j["choices"][0]["finish_reason"];
    else text += j["choices"][0]["delta"]["content"].get<std::string>();
  }
  EXPECT_EQ(text, "w0 w1 w2 w3 w4 ");
  EXPECT_EQ(finish, "stop");
  EXPECT_EQ(usage["completion_tokens"], 5);
  EXPECT_EQ(usage["prompt_tokens_details"]["cached_tokens"], 4);
  auto c = Json(Post("/v1/completions", R"({"model":"tiny","prompt":"x","max_tokens":3})"));
  EXPECT_EQ(c["choices"][0]["text"], "w0 w1 w2 ");
  EXPECT_EQ(c["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(c["usage"]["prompt_tokens"], 2);
}

// gpt-oss: a harmony reply (analysis, then a final answer or a call on the commentary channel)
// reaches clients as thinking + content or as a tool call, streamed or not, on both APIs.
TEST_F(HttpServerTest, HarmonyRepliesSplitIntoThinkingContentAndToolCalls) {
  StartServer(true);
  backend_->harmony = true;
  const std::vector<std::string> analysis = {"<|channel|>", "analysis", "<|message|>", "Two plus", " two.", "<|end|>",
                                             "<|start|>", "assistant"};
  backend_->reply_pieces = analysis;
  for (const char* p : {"<|channel|>", "final", "<|message|>", "It is", " 4."}) backend_->reply_pieces.push_back(p);
  auto chat = Json(Post("/v1/chat/completions", R"({"model":"tiny","messages":[{"role":"user","content":"2+2?"}]})"));
  EXPECT_EQ(chat["choices"][0]["message"]["reasoning_content"], "Two plus two.") << chat.dump();
  EXPECT_EQ(chat["choices"][0]["message"]["content"], "It is 4.") << chat.dump();
  auto ollama = Json(Post("/api/chat", R"({"model":"tiny","stream":false,"messages":[{"role":"user","content":"2+2?"}]})"));
  EXPECT_EQ(ollama["message"]["thinking"], "Two plus two.") << ollama.dump();
  EXPECT_EQ(ollama["message"]["content"], "It is 4.") << ollama.dump();
  // Streamed: the framing never reaches the client.
  auto r = Post("/v1/chat/completions", R"({"model":"tiny","stream":true,"messages":[{"role":"user","content":"2+2?"}]})");
  ASSERT_EQ(r->status, 200);
  std::string thinking, content;
  for (size_t pos = 0; (pos = r->body.find("data: {", pos)) != std::string::npos;) {
    const size_t end = r->body.find("\n\n", pos);
    json j = json::parse(r->body.substr(pos + 6, end - pos - 6));
    pos = end;
    const json& d = j["choices"][0]["delta"];
    if (d.contains("reasoning_content")) thinking += d["reasoning_content"].get<std::string>();
    if (d.contains("content") && d["content"].is_string()) content += d["content"].get<std::string>();
  }
  EXPECT_EQ(thinking, "Two plus two.");
  EXPECT_EQ(content, "It is 4.");
  // A call on the commentary channel.
  backend_->reply_pieces = analysis;
  for (const char* p : {" to=functions.get_weather", "<|channel|>", "commentary", " json", "<|message|>",
                        "{\"location\":", " \"Paris\"}", "<|call|>"})
    backend_->reply_pieces.push_back(p);
  const std::string tools = R"("tools":[{"type":"function","function":{"name":"get_weather","parameters":{
      "type":"object","properties":{"location":{"type":"string"}}}}}])";
  auto call = Json(Post("/v1/chat/completions",
                        R"({"model":"tiny","messages":[{"role":"user","content":"weather?"}],)" + tools + "}"));
  const json& m = call["choices"][0]["message"];
  EXPECT_EQ(m["reasoning_content"], "Two plus two.") << call.dump();
  EXPECT_TRUE(m["content"].is_null()) << call.dump();
  ASSERT_EQ(m["tool_calls"].size(), 1u) << call.dump();
  EXPECT_EQ(m["tool_calls"][0]["function"]["name"], "get_weather");
  EXPECT_EQ(json::parse(m["tool_calls"][0]["function"]["arguments"].get<std::string>()), json({{"location", "Paris"}}));
  EXPECT_EQ(call["choices"][0]["finish_reason"], "tool_calls");
  auto ocall = Json(Post("/api/chat", R"({"model":"tiny","stream":false,"messages":[{"role":"user","content":"w?"}],)" +
                                          tools + "}"));
  ASSERT_EQ(ocall["message"]["tool_calls"].size(), 1u) << ocall.dump();
  EXPECT_EQ(ocall["message"]["tool_calls"][0]["function"]["arguments"]["location"], "Paris");
  // The effort reaches the template as its reasoning_effort; a raw completion is not parsed.
  auto raw = Json(Post("/v1/completions", R"({"model":"tiny","prompt":"x"})"));
  EXPECT_NE(raw["choices"][0]["text"].get<std::string>().find("<|channel|>"), std::string::npos) << raw.dump();
}

TEST_F(HttpServerTest, EngineQueueFullAndEngineErrors) {
  StartServer(true);
  backend_->reject_submits = true;
  auto r = Post("/v1/chat/completions", R"({"model":"tiny","messages":[{"role":"user","content":"x"}]})");
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->get_header_value("Retry-After"), "2");
  EXPECT_EQ(Json(r)["error"]["type"], "server_overloaded");
  backend_->reject_submits = false;
  // An engine error before the response started: a 500 JSON error naming it.
  backend_->fail_after_tokens = 2;
  auto e = Post("/api/chat", kChat);
  EXPECT_EQ(e->status, 500);
  EXPECT_NE(e->body.find("NaN in layer 3"), std::string::npos) << e->body;
  // Mid-stream: the stream ends with an error object instead of the final message.
  auto s = Post("/api/generate", R"({"model":"tiny","prompt":"x"})");
  ASSERT_EQ(s->status, 200);
  auto last = json::parse(s->body.substr(s->body.rfind('\n', s->body.size() - 2) + 1));
  EXPECT_NE(last["error"].get<std::string>().find("NaN"), std::string::npos) << s->body;
  auto sse = Post("/v1/chat/completions", R"({"model":"tiny","stream":true,"messages":[{"role":"user","content":"x"}]})");
  EXPECT_NE(sse->body.find("NaN in layer 3"), std::string::npos) << sse->body;
  EXPECT_EQ(sse->body.substr(sse->body.size() - 14), "data: [DONE]\n\n");
}

TEST_F(HttpServerTest, FairnessKeyIsTheClientNotTheConnection) {
  StartServer(true);
  EXPECT_EQ(Post("/api/chat", kChat)->status, 200);
  EXPECT_EQ(backend_->client_id(), "127.0.0.1");
  EXPECT_EQ(Post("/v1/completions", R"({"model":"tiny","prompt":"x","user":"agent-7"})")->status, 200);
  EXPECT_EQ(backend_->client_id(), "agent-7");
  auto c = Client();
  EXPECT_EQ(c.Post("/api/chat", httplib::Headers{{"X-Client-Id", "team-a"}}, kChat, "application/json")->status, 200);
  EXPECT_EQ(backend_->client_id(), "team-a");
}

// Sends a streaming request and stops reading after `max_chunks` chunks (closing the socket).
int StreamAndHangUp(int port, const std::string& path, const std::string& body, int max_chunks) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(10, 0);
  int chunks = 0;
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.body = body;
  req.set_header("Content-Type", "application/json");
  req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return ++chunks < max_chunks; };
  (void)c.send(req);
  return chunks;
}

TEST_F(HttpServerTest, ClientDisconnectCancelsTheGeneration) {
  StartServer(true);
  backend_->natural_tokens = 100000;  // would run for minutes
  backend_->token_interval_ms = 2;
  for (const char* path : {"/api/chat", "/v1/chat/completions"}) {
    int before = backend_->cancels;
    EXPECT_EQ(StreamAndHangUp(server_->port(), path,
                              R"({"model":"tiny","stream":true,"messages":[{"role":"user","content":"x"}]})", 3),
              3);
    for (int i = 0; i < 500 && backend_->cancels == before; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(backend_->cancels, before + 1) << path;
  }
  // Cancelled generations are counted although nobody drains their stream any more.
  std::string want = "swarmkv_generations_total{finish_reason=\"cancelled\"} 2\n";
  for (int i = 0; i < 200 && metrics_.Render().find(want) == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_NE(metrics_.Render().find(want), std::string::npos) << metrics_.Render();
  // The server keeps serving.
  backend_->natural_tokens = 2;
  EXPECT_EQ(Post("/api/chat", kChat)->status, 200);
}

TEST_F(HttpServerTest, BeyondTheQueueLimitIs503WithRetryAfter) {
  HttpServerOptions o;
  o.max_active_generations = 1;
  o.retry_after_s = 3;
  StartServer(true, o);
  backend_->natural_tokens = 100000;
  backend_->token_interval_ms = 2;
  std::thread holder([&] {
    // Reads until the server ends the stream (below).
    StreamAndHangUp(server_->port(), "/api/generate", R"({"model":"tiny","prompt":"x"})", 1 << 30);
  });
  // Wait until the first request holds the only slot: the server takes it before Submit, and the
  // generation runs until the test ends it.
  for (int i = 0; i < 2000 && backend_->submits == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (backend_->submits != 1) {
    backend_->fail_after_tokens = 0;
    holder.join();
    FAIL() << "the first request never reached the engine";
  }
  auto r = Post("/api/chat", kChat);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->get_header_value("Retry-After"), "3");
  EXPECT_NE(r->body.find("retry later"), std::string::npos) << r->body;
  backend_->fail_after_tokens = 0;  // ends the holder's generation (and so its stream)
  holder.join();
  for (int i = 0; i < 500 && backend_->finished < 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  backend_->fail_after_tokens = -1;
  backend_->natural_tokens = 2;
  // The slot is free again once the first client left. Until the server has seen the hang-up a
  // retry can still be refused (slow under sanitizers); every refusal is counted.
  int status = 0;
  int refused = 1;
  for (int i = 0; i < 100 && status != 200; ++i) {
    auto ok = Post("/api/chat", kChat);
    status = ok ? ok->status : -1;
    if (status == 503) ++refused;
    if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(status, 200);
  std::string want = "swarmkv_queue_rejections_total " + std::to_string(refused) + "\n";
  EXPECT_NE(metrics_.Render().find(want), std::string::npos) << metrics_.Render();
}

TEST_F(HttpServerTest, SlowLorisIsDroppedAndOthersAreServed) {
  HttpServerOptions o;
  o.read_timeout_ms = 300;
  o.header_timeout_ms = 300;
  o.keep_alive_timeout_s = 1;
  StartServer(true, o);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  std::string partial = "POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Len";
  ASSERT_EQ(send(fd, partial.data(), partial.size(), 0), static_cast<ssize_t>(partial.size()));
  // Meanwhile everyone else is served.
  EXPECT_EQ(Post("/api/chat", kChat)->status, 200);
  // The server hangs up on the slow client after its read timeout.
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  char buf[256];
  std::string got;
  auto t0 = std::chrono::steady_clock::now();
  ssize_t n;
  while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) got.append(buf, static_cast<size_t>(n));
  double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  close(fd);
  EXPECT_EQ(n, 0) << "the server should hang up on a request whose headers never end";
  EXPECT_LT(waited, 4.0);
  // It says why first: a 408 with a JSON error, never a 200.
  if (!got.empty()) {
    EXPECT_EQ(got.rfind("HTTP/1.1 408", 0), 0u) << got;
    EXPECT_NE(got.find("{\"error\""), std::string::npos) << got;
  }
}

TEST_F(HttpServerTest, FuzzedBodiesNeverBreakTheServer) {
  StartServer(true);
  backend_->natural_tokens = 1;
  std::mt19937 rng(1234);
  const std::vector<std::string> posts = {"/api/generate", "/api/chat", "/v1/chat/completions", "/v1/completions",
                                          "/api/show", "/api/kv/pin", "/api/kv/unpin", "/api/pull", "/api/embed"};
  const std::vector<std::string> seeds = {
      R"({"model":"tiny","prompt":"hi","stream":false,"options":{"num_predict":2,"num_ctx":64}})",
      R"({"model":"tiny","messages":[{"role":"user","content":"hi"}],"stream":true})",
      R"({"model":"tiny","messages":[{"role":"user","content":[{"type":"text","text":"a"}]}],"max_tokens":2})",
      R"({"model":"tiny","prompt":["a"],"stream":true,"stream_options":{"include_usage":true}})",
      R"({"model":"tiny","name":"p","prompt":"abc","ttl":"1s"})"};
  auto c = Client();
  int served = 0;
  for (int i = 0; i < 400; ++i) {
    std::string body = seeds[rng() % seeds.size()];
    switch (rng() % 4) {
      case 0: body = body.substr(0, rng() % (body.size() + 1)); break;  // truncated
      case 1: for (int k = 0; k < 4; ++k) body[rng() % body.size()] = static_cast<char>(rng()); break;
      case 2: { body.assign(rng() % 200, '\0'); for (auto& ch : body) ch = static_cast<char>(rng()); break; }
      default: break;
    }
    auto r = c.Post(posts[rng() % posts.size()].c_str(), body, "application/json");
    ASSERT_TRUE(r) << "request " << i << " got no answer";
    EXPECT_TRUE(r->status == 200 || (r->status >= 400 && r->status < 600)) << r->status;
    if (r->status >= 400) {
      json j = json::parse(r->body, nullptr, false);
      EXPECT_TRUE(j.is_object() && j.contains("error")) << r->status << " " << r->body;
    }
    served += r->status == 200;
  }
  EXPECT_GT(served, 0);
  auto ok = Post("/api/chat", kChat);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(Json(ok)["done"], true);
  EXPECT_TRUE(models_->CheckInvariants().ok());
}

TEST_F(HttpServerTest, KvPinUnpinMetricsAndKeepAlive) {
  StartServer(true);
  auto kv = Json(Client().Get("/api/kv"));
  EXPECT_EQ(kv["engine_attached"], true);
  EXPECT_EQ(kv["budget_bytes"], 1 << 20);
  EXPECT_EQ(kv["tiers"]["ram"]["bytes"], 4096);
  EXPECT_DOUBLE_EQ(kv["hit_ratio"].get<double>(), 0.75);
  ASSERT_EQ(kv["most_shared_prefixes"].size(), 1u) << kv.dump();
  EXPECT_EQ(kv["most_shared_prefixes"][0]["tokens"], 64);
  EXPECT_EQ(kv["most_shared_prefixes"][0]["sequences"], 3);
  EXPECT_EQ(kv["most_shared_prefixes"][0]["bytes_saved"], 16384);
  EXPECT_EQ(kv["most_shared_prefixes"][0]["pinned"], true);
  EXPECT_EQ(kv["cold"]["slices_read"], 90);
  EXPECT_EQ(kv["cold"]["bytes_read"], 368640);
  EXPECT_EQ(kv["cold"]["preemptions_swapped"], 2);
  EXPECT_EQ(kv["cold"]["swap_read_failures"], 0);
  auto pin = Post("/api/kv/pin", R"({"model":"tiny","name":"codebase","prompt":"abc","ttl":"10m"})");
  ASSERT_EQ(pin->status, 200) << pin->body;
  EXPECT_EQ(Json(pin)["tokens"], 4);
  EXPECT_EQ(Json(pin)["computed"], 4);  // the preload ran through the generation service
  EXPECT_EQ(Json(pin)["bytes"], 2048);
  EXPECT_EQ(backend_->pins(), 1u);
  auto pins = Json(Client().Get("/api/kv/pins"));
  ASSERT_EQ(pins["pins"].size(), 1u) << pins.dump();
  EXPECT_EQ(pins["pins"][0]["model"], "tiny:latest");
  EXPECT_EQ(pins["pins"][0]["resident_tokens"], 4);
  EXPECT_EQ(pins["pins"][0]["state"], "resident");
  // Streamed: NDJSON progress, then the outcome; names are per model (alias:v2 is another model).
  auto streamed = Post("/api/kv/pin", R"({"model":"alias:v2","name":"codebase","prompt":"abcdef","stream":true})");
  ASSERT_EQ(streamed->status, 200) << streamed->body;
  EXPECT_EQ(streamed->get_header_value("Content-Type"), "application/x-ndjson");
  const std::string last = streamed->body.substr(streamed->body.rfind('\n', streamed->body.size() - 2) + 1);
  EXPECT_EQ(json::parse(last)["status"], "success") << streamed->body;
  EXPECT_EQ(json::parse(last)["tokens"], 7) << streamed->body;
  EXPECT_EQ(Post("/api/kv/unpin", R"({"name":"codebase"})")->status, 400) << "ambiguous without a model";
  EXPECT_EQ(Post("/api/kv/unpin", R"({"name":"codebase","model":"alias:v2"})")->status, 200);
  EXPECT_EQ(Post("/api/kv/pin", R"({"model":"nope","name":"x","prompt":"abc"})")->status, 404);
  EXPECT_EQ(Post("/api/kv/pin", R"({"model":"tiny","name":"x"})")->status, 400);
  EXPECT_EQ(Post("/api/kv/unpin", R"({"name":"codebase"})")->status, 200);
  EXPECT_EQ(Post("/api/kv/unpin", R"({"name":"codebase"})")->status, 404);
  EXPECT_EQ(backend_->pins(), 0u);

  EXPECT_EQ(Post("/api/chat", kChat)->status, 200);
  std::string m = Client().Get("/metrics")->body;
  // The chat's 25 prompt tokens + the pins' preloads: 4 + 7.
  for (const char* want : {"swarmkv_prompt_tokens_computed_total 36\n", "swarmkv_kv_pin_preloads_total{result=\"done\"} 2\n", "swarmkv_prompt_tokens_reused_total 0\n",
                           "swarmkv_generated_tokens_total 5\n", "swarmkv_kv_bytes{tier=\"ram\"} 4096\n",
                           "swarmkv_kv_bytes{tier=\"redis\"} 0\n", "swarmkv_evictions_total{reason=\"budget\"} 0\n",
                           "swarmkv_requests_total{route=\"/api/chat\",code=\"200\"} 1\n",
                           "swarmkv_time_to_first_token_seconds_count 1\n",
                           "swarmkv_inter_token_latency_seconds_count 4\n",
                           "swarmkv_kv_cold_read_bytes_total 368640\n", "swarmkv_kv_cold_read_slices_total 90\n",
                           "swarmkv_kv_preemptions_swapped_total 2\n"})
    EXPECT_NE(m.find(want), std::string::npos) << want << " missing:\n" << m;

  auto ps = Json(Client().Get("/api/ps"));
  ASSERT_EQ(ps["models"].size(), 2u);  // tiny and alias: one loaded weights file, two names
  // Ollama: an empty generate with keep_alive 0 unloads.
  auto un = Json(Post("/api/generate", R"({"model":"tiny","keep_alive":0})"));
  EXPECT_EQ(un["done_reason"], "unload");
  for (int i = 0; i < 100 && !models_->Loaded().empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(Json(Client().Get("/api/ps"))["models"].size(), 0u);
}

// A client that leaves a pin it asked for does not cancel it: the preload finishes and the pin
// holds; asking again while it runs joins the same preload.
TEST_F(HttpServerTest, PinOutlivesItsClient) {
  StartServer(true);
  backend_->prefill_ms = 600;
  httplib::Client impatient("127.0.0.1", server_->port());
  impatient.set_read_timeout(0, 100000);  // leaves after 100 ms
  auto gone = impatient.Post("/api/kv/pin", R"({"model":"tiny","name":"code","prompt":"abcdefgh"})", "application/json");
  EXPECT_FALSE(gone) << "the client should have timed out";
  // The same pin again joins the running preload (no second job); another prefix is a conflict.
  EXPECT_EQ(Post("/api/kv/pin", R"({"model":"tiny","name":"code","prompt":"zzzzzzzz","stream":true})")->status, 409);
  auto joined = Post("/api/kv/pin", R"({"model":"tiny","name":"code","prompt":"abcdefgh"})");
  ASSERT_EQ(joined->status, 200) << joined->body;
  EXPECT_EQ(Json(joined)["computed"], 9);
  EXPECT_EQ(backend_->cancels.load(), 0);
  EXPECT_EQ(backend_->finished.load(), 1) << "one preload, joined by the second request";
  auto pins = Json(Client().Get("/api/kv/pins"));
  ASSERT_EQ(pins["pins"].size(), 1u);
  EXPECT_EQ(pins["pins"][0]["state"], "resident");
}

// A non-streamed pin waits at most --pin-wait for its preload: then 202 with the job's progress,
// and the preload goes on (the pin list shows it; the same pin again joins it).
TEST_F(HttpServerTest, PinAnswers202WhenItsPreloadOutlastsThePinWait) {
  HttpServerOptions o;
  o.pin_wait_ms = 100;
  StartServer(true, o);
  backend_->prefill_ms = 1500;
  const auto start = std::chrono::steady_clock::now();
  auto pin = Post("/api/kv/pin", R"({"model":"tiny","name":"code","prompt":"abcdefgh"})");
  ASSERT_TRUE(pin);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1000));
  ASSERT_EQ(pin->status, 202) << pin->body;
  json j = Json(pin);
  EXPECT_EQ(j["name"], "code");
  EXPECT_EQ(j["model"], "tiny:latest");
  EXPECT_TRUE(j["status"] == "queued" || j["status"] == "restoring" || j["status"] == "computing") << j.dump();
  EXPECT_EQ(j["total"], 8);  // 9 tokens (BOS + 8 bytes) in 2-token blocks
  // The preload runs to its end without a waiter.
  std::string state;
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
       state != "resident" && std::chrono::steady_clock::now() < until;) {
    auto pins = Json(Client().Get("/api/kv/pins"));
    ASSERT_EQ(pins["pins"].size(), 1u) << pins.dump();
    state = pins["pins"][0]["state"];
    if (state != "resident") std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling the server's state
  }
  EXPECT_EQ(state, "resident");
  EXPECT_EQ(backend_->finished.load(), 1);
  EXPECT_EQ(backend_->cancels.load(), 0);
}

// A non-streamed pin's handler stops waiting when its client leaves: with one worker, the next
// request is answered while the preload still runs.
TEST_F(HttpServerTest, APinWaitEndsWhenItsClientLeaves) {
  HttpServerOptions o;
  o.worker_threads = 1;
  StartServer(true, o);
  backend_->prefill_ms = 5000;
  httplib::Client impatient("127.0.0.1", server_->port());
  impatient.set_read_timeout(0, 100000);  // leaves after 100 ms
  EXPECT_FALSE(impatient.Post("/api/kv/pin", R"({"model":"tiny","name":"code","prompt":"abcdefgh"})", "application/json"));
  const auto start = std::chrono::steady_clock::now();
  auto pins = Client().Get("/api/kv/pins");
  ASSERT_TRUE(pins);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(2000));
  ASSERT_EQ(Json(pins)["pins"].size(), 1u) << pins->body;
  EXPECT_EQ(Json(pins)["pins"][0]["state"], "computing") << "answered while the preload ran";
  EXPECT_EQ(backend_->cancels.load(), 0) << "the client leaving does not cancel the pin";
}

// Pins may keep at most --max-pinned-bytes of KV (whole blocks x block bytes): 429 naming the
// flag beyond it; a pin replacing its own name, or one made after an unpin, fits again.
TEST_F(HttpServerTest, PinnedBytesAreCapped) {
  HttpServerOptions o;
  o.max_pinned_bytes = 8 * 1024;  // the scripted backend: 2-token blocks of 1 KiB
  StartServer(true, o);
  auto a = Post("/api/kv/pin", R"({"model":"tiny","name":"a","prompt":"123456789"})");  // 10 tokens: 5 KiB
  ASSERT_EQ(a->status, 200) << a->body;
  auto b = Post("/api/kv/pin", R"({"model":"tiny","name":"b","prompt":"abcdefghi"})");
  ASSERT_EQ(b->status, 429) << b->body;
  EXPECT_NE(b->body.find("--max-pinned-bytes"), std::string::npos) << b->body;
  EXPECT_NE(b->body.find("5.00 KiB"), std::string::npos) << b->body;
  EXPECT_EQ(Json(Client().Get("/api/kv/pins"))["pins"].size(), 1u) << "the refused pin left nothing behind";
  EXPECT_EQ(Post("/api/kv/pin", R"({"model":"tiny","name":"a","prompt":"123456789"})")->status, 200) << "its own share";
  ASSERT_EQ(Post("/api/kv/unpin", R"({"name":"a"})")->status, 200);
  EXPECT_EQ(Post("/api/kv/pin", R"({"model":"tiny","name":"b","prompt":"abcdefghi"})")->status, 200);
}

}  // namespace
}  // namespace swarmkv
