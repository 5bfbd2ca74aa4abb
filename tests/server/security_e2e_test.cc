// End-to-end: the attacks of issue 17 against the real `swarmkv serve` binary on loopback, with
// the real test model, driven by curl and the official npm clients. Each failed before the
// hardening: the nested body killed the process, the foreign Origin/Host were served, the 60 KB
// `curl -d` body was a false 413, and nothing asked for a key.
#include <cstdlib>
#include <fstream>

#include "base/env.h"
#include "server_fixture.h"

namespace swarmkv::e2e {
namespace {

using json = nlohmann::json;

class SecurityE2ETest : public ServerE2ETest {
 protected:
  std::string CurlArgs(const std::string& args, const std::string& path) {
    auto r = RunShell("curl -sS --max-time 60 -w '\\n%{http_code}' " + args + " " +
                      ShellQuote("http://127.0.0.1:" + std::to_string(port()) + path));
    return r.out;
  }
  static int Status(const std::string& out) {
    size_t nl = out.rfind('\n');
    return nl == std::string::npos ? -1 : std::atoi(out.c_str() + nl + 1);
  }
  std::string WriteFile(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
};

TEST_F(SecurityE2ETest, MillionDeepNestingIs400AndTheServerLives) {
  StartServer();
  std::string nested = std::string(1000000, '[') + std::string(1000000, ']');
  std::string file = WriteFile("nested.json", R"({"model":"tiny","name":"p","messages":)" + nested + "}");
  for (const char* path : {"/api/kv/pin", "/api/chat", "/v1/chat/completions", "/api/show", "/api/generate"}) {
    std::string out = CurlArgs("-H 'Content-Type: application/json' --data-binary @" + ShellQuote(file), path);
    EXPECT_EQ(Status(out), 400) << path << ": " << out.substr(0, 300);
    EXPECT_NE(out.find("nested deeper than"), std::string::npos) << path;
  }
  EXPECT_EQ(Curl("GET", "/api/version").first, 200);
}

TEST_F(SecurityE2ETest, BrowserOriginsAndRebindingHostsAre403) {
  StartServer();
  std::string body = R"({"model":"tiny","prompt":"Once","stream":false,"options":{"num_predict":2}})";
  std::string out = CurlArgs("-H 'Origin: http://evil.example' -H 'Content-Type: text/plain' -d " + ShellQuote(body),
                             "/api/generate");
  EXPECT_EQ(Status(out), 403) << out;
  out = CurlArgs("-H 'Host: evil.example:11434'", "/api/tags");
  EXPECT_EQ(Status(out), 403) << out;
  out = CurlArgs("-X OPTIONS -i -H 'Origin: http://localhost:3000' -H 'Access-Control-Request-Method: POST'",
                 "/api/chat");
  EXPECT_EQ(Status(out), 204) << out;
  EXPECT_NE(out.find("Access-Control-Allow-Origin: http://localhost:3000"), std::string::npos) << out;
}

TEST_F(SecurityE2ETest, CurlDashDOf60KiloBytesIsServed) {
  StartServer();
  REQUIRE_ENGINE();
  json body = {{"model", "tiny"}, {"prompt", "Once upon a time"}, {"stream", false},
               {"options", {{"num_predict", 4}}}, {"padding", std::string(60000, 'a')}};
  std::string file = WriteFile("long.json", body.dump());
  std::string out = CurlArgs("-d @" + ShellQuote(file), "/api/generate");  // form-urlencoded, as curl -d sends
  ASSERT_EQ(Status(out), 200) << out.substr(0, 300);
  EXPECT_TRUE(json::parse(out.substr(0, out.rfind('\n')))["done"].get<bool>());
}

TEST_F(SecurityE2ETest, ApiKeyAndTheClientsOwnKeyOptions) {
  const std::string key = "e2e-key-0123456789abcdef";
  std::string key_file = WriteFile("key.txt", key + "\n");
  StartServer({"--api-key-file", key_file});
  EXPECT_EQ(Curl("GET", "/api/version").first, 200);
  EXPECT_EQ(Curl("GET", "/api/tags").first, 401);
  EXPECT_EQ(Status(CurlArgs("-H 'Authorization: Bearer wrong'", "/api/tags")), 401);
  EXPECT_EQ(Status(CurlArgs("-H " + ShellQuote("Authorization: Bearer " + key), "/api/tags")), 200);
  std::string why = EnsureNpmClients();
  if (!why.empty()) GTEST_SKIP() << why;
  json denied = Node("ollama-list");
  EXPECT_FALSE(denied["ok"].get<bool>()) << denied.dump();
  setenv("SWARMKV_TEST_API_KEY", key.c_str(), 1);
  json r = Node("with-api-key");
  unsetenv("SWARMKV_TEST_API_KEY");
  ASSERT_TRUE(r["ok"].get<bool>()) << r.dump();
  EXPECT_FALSE(r["result"]["ollama"].get<std::string>().empty());
  EXPECT_FALSE(r["result"]["openai"].get<std::string>().empty());
}

TEST_F(SecurityE2ETest, NetworkHostWithoutAKeyRefusesToStart) {
  auto r = RunShell(std::string(SWARMKV_BIN) + " serve --host 0.0.0.0 --port 0 --no-ollama --kv-disk off 2>&1");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("--insecure-no-auth"), std::string::npos) << r.out;
}

// rediss:// with TLS files that cannot be used stops start-up naming the flag (and never shows
// the password); TLS flags without rediss:// are an error too, not silently ignored.
TEST_F(SecurityE2ETest, BadRedisTlsSettingsAreClearStartupErrors) {
  auto r = RunShell(std::string(SWARMKV_BIN) +
                    " serve --port 0 --no-ollama --kv-disk off --kv-redis rediss://u:topsecret@127.0.0.1:6380/0"
                    " --redis-tls-ca /nonexistent/ca.pem 2>&1");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("--redis-tls-ca"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("topsecret"), std::string::npos) << r.out;
  auto plain = RunShell(std::string(SWARMKV_BIN) +
                        " serve --port 0 --no-ollama --kv-disk off --kv-redis redis://127.0.0.1:6380/0"
                        " --redis-tls-insecure 2>&1");
  EXPECT_EQ(plain.exit_code, 2) << plain.out;
  EXPECT_NE(plain.out.find("rediss://"), std::string::npos) << plain.out;
}

}  // namespace
}  // namespace swarmkv::e2e
