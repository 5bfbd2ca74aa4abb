// End-to-end: the real `swarmkv serve` binary over loopback, driven by curl and the official
// ollama/openai npm clients: routes, errors, robustness and generation (a server that cannot
// generate fails the generation tests; they skip only when the npm clients cannot be installed).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <random>
#include <thread>

#include "base/env.h"
#include "base/testing.h"
#include "server_fixture.h"

namespace swarmkv::e2e {
namespace {

using json = nlohmann::json;

#define REQUIRE_NPM()                                       \
  do {                                                      \
    std::string why_ = EnsureNpmClients();                  \
    if (!why_.empty()) GTEST_SKIP() << why_;                \
  } while (0)

TEST_F(ServerE2ETest, InfoRoutesWithCurl) {
  // An Ollama store read in place: a manifest whose model layer is the test model's bytes.
  std::string store = dir_ + "/ollama";
  std::string blob = store + "/blobs/sha256-" + std::string(64, '1');
  ASSERT_TRUE(Env::Default()->CreateDirs(store + "/blobs").ok());
  ASSERT_EQ(RunShell("cp " + ShellQuote(model_path_) + " " + ShellQuote(blob)).exit_code, 0);
  std::string mdir = store + "/manifests/registry.ollama.ai/library/storyteller";
  ASSERT_TRUE(Env::Default()->CreateDirs(mdir).ok());
  ASSERT_TRUE(Env::Default()
                  ->WriteFileAtomic(mdir + "/latest",
                                    std::string(R"({"schemaVersion":2,"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:)") +
                                        std::string(64, '1') + R"(","size":1}]})",
                                    false)
                  .ok());
  StartServer({"--ollama-models", store});
  auto [st, tags] = Curl("GET", "/api/tags");
  ASSERT_EQ(st, 200) << tags;
  json t = json::parse(tags);
  std::vector<std::string> names;
  for (auto& m : t["models"]) names.push_back(m["name"]);
  // The fixture passes --no-ollama; an explicit --ollama-models still wins.
  EXPECT_NE(std::find(names.begin(), names.end(), "tiny:latest"), names.end()) << tags;
  EXPECT_NE(std::find(names.begin(), names.end(), "storyteller:latest"), names.end()) << tags;
  auto [sv, version] = Curl("GET", "/api/version");
  EXPECT_EQ(sv, 200);
  EXPECT_TRUE(json::parse(version).contains("version"));
  auto [sm, metrics] = Curl("GET", "/metrics");
  EXPECT_EQ(sm, 200);
  for (const char* series : {"swarmkv_prompt_tokens_computed_total", "swarmkv_prompt_tokens_reused_total",
                             "swarmkv_kv_bytes{tier=\"ram\"}", "swarmkv_kv_bytes{tier=\"disk\"}",
                             "swarmkv_kv_bytes{tier=\"redis\"}", "swarmkv_evictions_total{reason=",
                             "swarmkv_time_to_first_token_seconds", "swarmkv_inter_token_latency_seconds",
                             "swarmkv_requests_total", "swarmkv_generated_tokens_total"})
    EXPECT_NE(metrics.find(series), std::string::npos) << series;
  auto [sk, kv] = Curl("GET", "/api/kv");
  EXPECT_EQ(sk, 200);
  for (const char* f : {"budget_bytes", "tiers", "usage", "hit_ratio", "most_shared_prefixes"})
    EXPECT_TRUE(json::parse(kv).contains(f)) << f;
}

TEST_F(ServerE2ETest, BadInputWithCurl) {
  StartServer({"--max-body", "64KiB"});
  struct Case { std::string method, path, body; int status; const char* needle; };
  std::vector<Case> cases = {
      {"POST", "/api/chat", "{\"model\":", 400, "not valid JSON"},
      {"POST", "/api/chat", R"({"model":"tiny","messages":[]})", 200, "\"load\""},  // api.md: loads the model
      {"POST", "/api/chat", R"({"model":"tiny","messages":"hello"})", 400, "must be an array"},
      {"POST", "/api/generate", R"({"model":"nope","prompt":"x"})", 404, "'nope' not found"},
      {"POST", "/api/generate", R"({"model":"tiny","prompt":"x","options":{"num_predict":1000000000}})", 400, "num_predict"},
      {"POST", "/api/generate", R"({"model":"tiny","prompt":"x","options":{"temperature":"warm"}})", 400, "temperature"},
      {"POST", "/v1/chat/completions", R"({"model":"tiny","messages":[{"role":"user","content":"x"}],"n":4,"stream":true})", 400, "field 'n'"},
      {"POST", "/api/pull", R"({"model":"llama3"})", 501, "not supported"},
      {"POST", "/api/create", R"({"model":"x"})", 501, "not supported"},
      {"POST", "/api/embed", R"({"model":"tiny","input":"x"})", 501, "embeddings are not served"},
      {"DELETE", "/api/delete", R"({"model":"tiny"})", 501, "not supported"},
      {"GET", "/api/nope", "", 404, "no route"},
      {"POST", "/api/chat", std::string(100000, ' '), 413, "limit of 65536 bytes"},
  };
  for (const auto& c : cases) {
    auto [status, body] = Curl(c.method, c.path, c.body);
    EXPECT_EQ(status, c.status) << c.method << " " << c.path << ": " << body;
    EXPECT_NE(body.find(c.needle), std::string::npos) << c.path << ": " << body;
    EXPECT_FALSE(json::parse(body, nullptr, false).is_discarded()) << body;
  }
}

TEST_F(ServerE2ETest, NpmClientsListShowAndErrors) {
  REQUIRE_NPM();
  StartServer();
  json list = Node("ollama-list");
  ASSERT_TRUE(list["ok"]) << list.dump();
  EXPECT_EQ(list["result"]["names"], json::array({"tiny:latest"}));
  json show = Node("ollama-show");
  ASSERT_TRUE(show["ok"]) << show.dump();
  EXPECT_EQ(show["result"]["details"]["format"], "gguf");
  // Read from the GGUF header without loading the model.
  EXPECT_FALSE(show["result"]["details"]["family"].get<std::string>().empty()) << show.dump();
  EXPECT_FALSE(show["result"]["details"]["parameter_size"].get<std::string>().empty()) << show.dump();
  EXPECT_TRUE(show["result"]["model_info"].contains("general.architecture")) << show.dump();
  json models = Node("openai-models");
  ASSERT_TRUE(models["ok"]) << models.dump();
  EXPECT_EQ(models["result"]["ids"], json::array({"tiny:latest"}));
  json pull = Node("ollama-pull");
  EXPECT_FALSE(pull["ok"]);
  EXPECT_EQ(pull["status"], 501);
  json unknown = Node("ollama-chat", "nope");
  EXPECT_FALSE(unknown["ok"]);
  EXPECT_EQ(unknown["status"], 404);
  json unknown_oa = Node("openai-chat", "nope");
  EXPECT_FALSE(unknown_oa["ok"]);
  EXPECT_EQ(unknown_oa["status"], 404);
  // api.md "Load a model": a chat with an empty messages array loads the model.
  json empty = Node("ollama-chat-empty");
  EXPECT_TRUE(empty["ok"]) << empty.dump();
  EXPECT_EQ(empty["result"]["done_reason"], "load") << empty.dump();
}

TEST_F(ServerE2ETest, FuzzedBodiesThenANormalRequest) {
  StartServer();
  std::mt19937 rng(7);
  const std::vector<std::string> routes = {"/api/generate", "/api/chat", "/v1/chat/completions", "/v1/completions",
                                           "/api/show", "/api/kv/pin", "/api/kv/unpin", "/api/pull"};
  const std::string seed =
      R"({"model":"tiny","messages":[{"role":"user","content":"hi"}],"prompt":"hi","stream":false,"options":{"num_predict":2}})";
  for (int i = 0; i < 60; ++i) {
    std::string body = seed.substr(0, rng() % (seed.size() + 1));
    if (i % 3 == 0) {
      for (auto& c : body) {
        if (rng() % 8 == 0) c = static_cast<char>('!' + rng() % 90);
      }
    }
    auto [status, out] = Curl("POST", routes[rng() % routes.size()], body);
    ASSERT_GT(status, 0) << "no answer (server crashed?) for body " << body;
    if (status >= 400) {
      EXPECT_FALSE(json::parse(out, nullptr, false).is_discarded()) << out;
    }
  }
  ASSERT_TRUE(server_->alive());
  auto [st, tags] = Curl("GET", "/api/tags");
  EXPECT_EQ(st, 200);
  auto [sg, gen] = Curl("POST", "/api/generate", R"({"model":"tiny","prompt":"Once","stream":false,"options":{"num_predict":4}})");
  // With an engine, a normal generation; without, the clear 503 (and the server still serving).
  EXPECT_TRUE(sg == 200 || (sg == 503 && gen.find("without an engine") != std::string::npos)) << sg << " " << gen;
}

// ---- Generation: needs the engine ----

TEST_F(ServerE2ETest, OllamaChatAndGenerateWithTheOllamaClient) {
  REQUIRE_NPM();
  StartServer();
  REQUIRE_ENGINE();
  json chat = Node("ollama-chat");
  ASSERT_TRUE(chat["ok"]) << chat.dump();
  json stream = Node("ollama-chat-stream");
  ASSERT_TRUE(stream["ok"]) << stream.dump();
  EXPECT_EQ(stream["result"]["text"], chat["result"]["text"]);  // temperature 0, seed: same text
  EXPECT_FALSE(chat["result"]["text"].get<std::string>().empty());
  const json& f = stream["result"]["final"];
  EXPECT_EQ(f["done"], true);
  for (const char* k : {"total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration", "eval_count",
                        "eval_duration"})
    EXPECT_TRUE(f.contains(k)) << k;
  EXPECT_LE(f["eval_count"].get<int>(), 16);
  json gen = Node("ollama-generate");
  ASSERT_TRUE(gen["ok"]) << gen.dump();
  EXPECT_TRUE(gen["result"]["final"]["context"].is_array());
  json gen_stream = Node("ollama-generate-stream");
  ASSERT_TRUE(gen_stream["ok"]) << gen_stream.dump();
  EXPECT_EQ(gen_stream["result"]["text"], gen["result"]["text"]);
}

TEST_F(ServerE2ETest, OpenAIChatAndCompletionsWithTheOpenAIClient) {
  REQUIRE_NPM();
  // Small KV blocks: the chat prompt of a model without a chat template is a few tokens
  // (`{{ .Prompt }}`), and only whole blocks are reused.
  StartServer({"--kv-block-tokens", "4"});
  REQUIRE_ENGINE();
  json chat = Node("openai-chat");
  ASSERT_TRUE(chat["ok"]) << chat.dump();
  json stream = Node("openai-chat-stream");
  ASSERT_TRUE(stream["ok"]) << stream.dump();
  EXPECT_EQ(stream["result"]["text"], chat["result"]["text"]);
  EXPECT_TRUE(stream["result"]["usage"]["prompt_tokens_details"].contains("cached_tokens")) << stream.dump();
  // The same prompt twice: the second time its prefix comes from the cache.
  EXPECT_GT(stream["result"]["usage"]["prompt_tokens_details"]["cached_tokens"].get<int>(), 0) << stream.dump();
  json comp = Node("openai-completion");
  ASSERT_TRUE(comp["ok"]) << comp.dump();
  json comp_stream = Node("openai-completion-stream");
  ASSERT_TRUE(comp_stream["ok"]) << comp_stream.dump();
  EXPECT_EQ(comp_stream["result"]["text"], comp["result"]["text"]);
}

TEST_F(ServerE2ETest, StreamingWithCurl) {
  StartServer();
  REQUIRE_ENGINE();
  auto [s1, nd] = Curl("POST", "/api/chat", R"({"model":"tiny","messages":[{"role":"user","content":"Hi"}],"options":{"num_predict":8,"temperature":0}})");
  ASSERT_EQ(s1, 200) << nd;
  json last = json::parse(nd.substr(nd.rfind('\n', nd.size() - 2) + 1));
  EXPECT_EQ(last["done"], true) << nd;
  auto [s2, sse] = Curl("POST", "/v1/chat/completions", R"({"model":"tiny","stream":true,"max_tokens":8,"messages":[{"role":"user","content":"Hi"}]})");
  ASSERT_EQ(s2, 200) << sse;
  EXPECT_NE(sse.find("data: [DONE]"), std::string::npos) << sse;
  // A prompt too long for its num_ctx with truncate:false: 400 naming both numbers (truncated otherwise).
  auto [s3, err] = Curl("POST", "/api/generate", R"({"model":"tiny","raw":true,"truncate":false,"prompt":")" +
                                                     std::string(400, 'a') + R"(","options":{"num_ctx":32}})");
  EXPECT_EQ(s3, 400) << err;
  EXPECT_NE(err.find("num_ctx is 32"), std::string::npos) << err;
}

TEST_F(ServerE2ETest, ClientThatHangsUpCancelsItsGeneration) {
  StartServer();
  REQUIRE_ENGINE();
  // Read the first bytes of a stream, then hang up (the story would otherwise go on).
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  std::string payload = R"({"model":"tiny","prompt":"Once upon a time","options":{"num_predict":100000}})";
  std::string req = "POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
                    std::to_string(payload.size()) + "\r\n\r\n" + payload;
  ASSERT_EQ(send(fd, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  char buf[512];
  ASSERT_GT(recv(fd, buf, sizeof(buf), 0), 0);
  close(fd);
  std::string metrics;
  for (int i = 0; i < 100; ++i) {
    metrics = Curl("GET", "/metrics").second;
    if (metrics.find("swarmkv_generations_total{finish_reason=\"cancelled\"} 1") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(metrics.find("swarmkv_generations_total{finish_reason=\"cancelled\"} 1"), std::string::npos) << metrics;
  // And it keeps serving.
  auto [st, body] = Curl("POST", "/api/generate", R"({"model":"tiny","prompt":"Once","stream":false,"options":{"num_predict":2}})");
  EXPECT_EQ(st, 200) << body;
}

TEST_F(ServerE2ETest, ThirtyTwoClientsAtOnceMatchTheRequestServedAlone) {
  REQUIRE_NPM();
  StartServer();
  REQUIRE_ENGINE();
  json r = Node("concurrent");
  ASSERT_TRUE(r["ok"]) << r.dump();
  std::string alone = r["result"]["alone"];
  ASSERT_FALSE(alone.empty());
  ASSERT_EQ(r["result"]["texts"].size(), 32u);
  for (size_t i = 0; i < 32; ++i) EXPECT_EQ(r["result"]["texts"][i], alone) << "client " << i;
  // Memory stayed within the budget.
  auto [sk, kv] = Curl("GET", "/api/kv");
  json k = json::parse(kv);
  EXPECT_LE(k["committed_bytes"].get<uint64_t>(), k["budget_bytes"].get<uint64_t>()) << kv;
}

// Under a KV budget that holds about one request, concurrent requests wait in the queue (their
// positions shown by /api/ps and /api/kv) or are preempted, and all complete with the reply they
// get alone; only a request that cannot fit even alone is refused, up front, with a 400.
TEST_F(ServerE2ETest, RequestsWaitForMemoryInTheQueueAndAllComplete) {
  if (model_path_.find("stories260K") == std::string::npos)
    GTEST_SKIP() << "the budget below is sized for stories260K's KV (20 KiB blocks); model is " << model_path_;
  // 8 blocks of 32 tokens: 7 usable alone (one kept for a copy-on-write) = 224 tokens.
  StartServer({"--kv-memory", std::to_string(8 * 20480)});
  REQUIRE_ENGINE();
  auto body = [](int i, int n) {
    return R"({"model":"tiny","raw":true,"stream":false,"prompt":"Story )" + std::to_string(i) +
           R"(: once upon a time","options":{"temperature":0,"num_predict":)" + std::to_string(n) + "}}";
  };
  auto [s0, refused] = Curl("POST", "/api/generate", body(0, 1000));
  EXPECT_EQ(s0, 400) << refused;
  EXPECT_NE(refused.find("KV memory budget is"), std::string::npos) << refused;
  EXPECT_NE(refused.find("room for 224 tokens"), std::string::npos) << refused;

  constexpr int kClients = 6;
  std::vector<std::future<std::pair<int, std::string>>> replies;
  for (int i = 0; i < kClients; ++i)
    replies.push_back(std::async(std::launch::async, [&, i] { return Curl("POST", "/api/generate", body(i, 180)); }));
  // Await the queue in /api/ps (bounded: the replies may all be done first on a fast machine).
  bool seen = false;
  for (int tries = 0; tries < 2000 && !seen; ++tries) {
    json ps = json::parse(Curl("GET", "/api/ps").second);
    for (const auto& m : ps["models"]) {
      if (m["queued_requests"].get<int>() > 0) {
        seen = true;
        EXPECT_EQ(m["queue"][0]["position"], 0) << ps.dump();
        EXPECT_GT(m["queue"][0]["tokens"].get<int>(), 0) << ps.dump();
      }
    }
    bool all_done = true;
    for (auto& r : replies) all_done = all_done && r.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
    if (all_done) break;
  }
  std::vector<std::string> texts;
  for (auto& r : replies) {
    auto [st, out] = r.get();
    ASSERT_EQ(st, 200) << out;
    texts.push_back(json::parse(out)["response"]);
  }
  EXPECT_TRUE(seen) << "no request was ever seen waiting in the queue";
  json kv = json::parse(Curl("GET", "/api/kv").second);
  EXPECT_TRUE(kv["queue"].is_array()) << kv.dump();
  EXPECT_TRUE(kv["queue"].empty()) << kv.dump();
  EXPECT_LE(kv["committed_bytes"].get<uint64_t>(), kv["budget_bytes"].get<uint64_t>()) << kv.dump();
  // Each reply is the one the request gets alone.
  for (int i = 0; i < kClients; ++i) {
    auto [st, out] = Curl("POST", "/api/generate", body(i, 180));
    ASSERT_EQ(st, 200) << out;
    EXPECT_EQ(json::parse(out)["response"], texts[static_cast<size_t>(i)]) << "client " << i;
  }
}

int ThreadCount(pid_t pid) {
  auto r = RunShell("ls /proc/" + std::to_string(pid) + "/task | wc -l");
  return std::atoi(r.out.c_str());
}

// Two models busy at once compute on the server's one thread pool (loading the second adds no
// worker threads) and each still gives the reply it gives alone, byte for byte.
TEST_F(ServerE2ETest, TwoModelsShareOneThreadPoolAndKeepTheirReplies) {
  const std::string second = dir_ + "/second.gguf";
  auto made = RunShell(std::string(SWARMKV_BIN) + " make-model --shape tiny --type q8_0 --seed 7 -o " +
                       ShellQuote(second) + " 2>&1");
  ASSERT_EQ(made.exit_code, 0) << made.out;
  StartServer({"--model", "second=" + second, "--threads", "2"});
  REQUIRE_ENGINE();
  auto body = [](const std::string& model) {
    return R"({"model":")" + model +
           R"(","prompt":"Once upon a time there was","stream":false,"options":{"num_predict":24,"temperature":0}})";
  };
  auto [s1, alone1] = Curl("POST", "/api/generate", body("tiny"));
  ASSERT_EQ(s1, 200) << alone1;
  const int threads_one_model = ThreadCount(server_->pid());
  auto [s2, alone2] = Curl("POST", "/api/generate", body("second"));
  ASSERT_EQ(s2, 200) << alone2;
  // Its scheduler's engine thread is the only new one (a pool per model would add workers too);
  // transient threads (tier readers) are given a moment to finish.
  int threads_two_models = ThreadCount(server_->pid());
  for (int i = 0; i < 40 && threads_two_models > threads_one_model + 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    threads_two_models = ThreadCount(server_->pid());
  }
  EXPECT_EQ(threads_two_models, threads_one_model + 1) << "loading a second model started more than its engine thread";
  const std::string text1 = json::parse(alone1)["response"], text2 = json::parse(alone2)["response"];
  std::vector<std::string> got(8);
  std::vector<std::thread> clients;
  for (int i = 0; i < 8; ++i) {
    clients.emplace_back([&, i] {
      auto [st, b] = Curl("POST", "/api/generate", body(i % 2 == 0 ? "tiny" : "second"));
      got[i] = st == 200 ? json::parse(b)["response"].get<std::string>() : "HTTP " + std::to_string(st) + b;
    });
  }
  for (auto& t : clients) t.join();
  for (int i = 0; i < 8; ++i) EXPECT_EQ(got[i], i % 2 == 0 ? text1 : text2) << "client " << i;
}

}  // namespace
}  // namespace swarmkv::e2e
