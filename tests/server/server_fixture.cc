#include "server_fixture.h"

#include <sstream>

#include "base/env.h"
#include "base/testing.h"

namespace swarmkv::e2e {

std::string TestModel(std::string* why) {
  std::string shared = testing::SharedPath("models/stories260K.gguf");
  if (!shared.empty()) return shared;
  // No ../shared: the built-in synthetic model, if this build has make-model.
  std::string out = testing::TempDir("e2e-model") + "/tiny.gguf";
  auto r = RunShell(ShellQuote(SWARMKV_BIN) + " make-model --shape tiny --seed 1 -o " + ShellQuote(out) + " 2>&1");
  if (r.exit_code == 0 && Env::Default()->FileExists(out)) return out;
  *why = "no test model: ../shared/models is absent and `swarmkv make-model --shape tiny` failed: " + r.out;
  return "";
}

std::string EnsureNpmClients() {
  std::string dir = SWARMKV_NPM_DIR;
  if (RunShell("command -v node >/dev/null && command -v npm >/dev/null").exit_code != 0)
    return "node/npm are not installed (scripts/install-deps.sh installs them)";
  const std::string src = SWARMKV_NPM_SRC;
  // Installs again whenever package.json changed since the last install (its copy is the stamp).
  std::string cmd = "mkdir -p " + ShellQuote(dir) + " && cp " + ShellQuote(src + "/package.json") + " " +
                    ShellQuote(src + "/client.mjs") + " " + ShellQuote(src + "/agents.mjs") + " " + ShellQuote(dir) +
                    " && cd " + ShellQuote(dir) + " && flock .install.lock sh -c 'cmp -s package.json .installed.json || " +
                    "(npm install --no-audit --no-fund --loglevel=error && cp package.json .installed.json)' 2>&1";
  auto r = RunShell(cmd);
  if (r.exit_code != 0) return "npm install of the test clients failed: " + r.out;
  return "";
}

void ServerE2ETest::SetUp() {
  std::string why;
  model_path_ = TestModel(&why);
  if (model_path_.empty()) GTEST_SKIP() << why;
  dir_ = testing::TempDir("e2e-server");
}

void ServerE2ETest::TearDown() {
  if (server_) {
    Status s = server_->Stop(10000);
    EXPECT_TRUE(s.ok()) << "swarmkv serve did not stop cleanly: " << s.ToString() << " (log: " << dir_ << "/server.log)";
  }
}

void ServerE2ETest::StartServer(const std::vector<std::string>& extra_args) {
  cli::ServerProcessOptions o;
  o.binary = SWARMKV_BIN;
  o.args = {"--model", "tiny=" + model_path_, "--no-ollama"};
  // Defaults unless the test gives its own: a private disk tier (never the user's cache dir, and
  // no hits left over from another test) and a RAM budget.
  auto given = [&](const std::string& flag) {
    for (const auto& a : extra_args) {
      if (a == flag) return true;
    }
    return false;
  };
  if (!given("--kv-disk")) o.args.insert(o.args.end(), {"--kv-disk", dir_ + "/kv"});
  if (!given("--kv-memory")) o.args.insert(o.args.end(), {"--kv-memory", "256MiB"});
  o.args.insert(o.args.end(), extra_args.begin(), extra_args.end());
  o.log_path = dir_ + "/server.log";
  o.ready_timeout_ms = 60000;
  server_ = std::make_unique<cli::ServerProcess>();
  Status s = server_->Start(o);
  ASSERT_TRUE(s.ok()) << s.ToString();
}

void ServerE2ETest::ExpectGeneration() {
  auto [status, body] = Curl("POST", "/api/generate",
                             R"({"model":"tiny","prompt":"a","stream":false,"options":{"num_predict":1}})");
  ASSERT_EQ(status, 200) << "the server does not generate: " << body;
}

nlohmann::json ServerE2ETest::Node(const std::string& scenario, const std::string& model) {
  std::string dir = SWARMKV_NPM_DIR;
  auto r = RunShell("cd " + ShellQuote(dir) + " && node client.mjs " + ShellQuote(scenario) + " " +
               std::to_string(port()) + " " + ShellQuote(model) + " 2>&1");
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (j.is_discarded()) return {{"ok", false}, {"error", "node harness printed no JSON: " + r.out}, {"status", -1}};
  return j;
}

std::pair<int, std::string> ServerE2ETest::Curl(const std::string& method, const std::string& path,
                                                const std::string& body) {
  std::string cmd = "curl -sS -N --max-time 120 -X " + method + " -w '\\n%{http_code}' ";
  if (!body.empty() || method == "POST") cmd += "-H 'Content-Type: application/json' --data-binary " + ShellQuote(body) + " ";
  cmd += ShellQuote("http://127.0.0.1:" + std::to_string(port()) + path);
  auto r = RunShell(cmd);
  size_t nl = r.out.rfind('\n');
  if (nl == std::string::npos) return {-1, r.out};
  return {std::atoi(r.out.c_str() + nl + 1), r.out.substr(0, nl)};
}

double ServerE2ETest::Metric(const std::string& series, const std::string& labels) {
  auto [status, text] = Curl("GET", "/metrics");
  EXPECT_EQ(status, 200);
  double sum = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line.rfind(series, 0) != 0) continue;
    const std::string rest = line.substr(series.size());
    if (!rest.empty() && rest[0] != '{' && rest[0] != ' ') continue;  // a longer series name
    if (!labels.empty() && rest.find(labels) == std::string::npos) continue;
    sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

}  // namespace swarmkv::e2e
