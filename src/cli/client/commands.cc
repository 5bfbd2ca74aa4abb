#include "cli/client/commands.h"

#include <cstdio>
#include <ctime>
#include <iostream>
#include <vector>

#include "cli/client/api_client.h"

namespace swarmkv::cli {

using json = nlohmann::json;

namespace {

// "2026-12-03T07:52:33Z" (or with a fraction/offset, ignored) -> unix seconds; 0 when unparsable.
int64_t ParseRfc3339(const std::string& s) {
  std::tm tm{};
  if (strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], r[i].size());
    }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 4, ' ');
    }
    std::cout << line << "\n";
  }
}

Result<ApiClient> Client() {
  SKV_ASSIGN_OR_RETURN(auto address, ServerAddressFromEnv());
  return ApiClient(address);
}

int Fail(const Status& s) {
  std::cerr << "Error: " << s.message() << "\n";
  return 1;
}

std::string ShortId(const json& m) {
  std::string d = m.value("digest", "");
  if (auto colon = d.find(':'); colon != std::string::npos) d = d.substr(colon + 1);
  return d.substr(0, 12);
}

}  // namespace

std::string HumanBytes(uint64_t bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(bytes));
  else std::snprintf(buf, sizeof(buf), v < 10 ? "%.1f %s" : "%.0f %s", v, units[u]);
  return buf;
}

std::string HumanSince(int64_t s) {
  const bool future = s < 0;
  int64_t a = future ? -s : s;
  auto fmt = [&](int64_t n, const char* unit) {
    std::string t = std::to_string(n) + " " + unit + (n == 1 ? "" : "s");
    return future ? t + " from now" : t + " ago";
  };
  if (a < 60) return future ? "Less than a minute from now" : "Less than a minute ago";
  if (a < 120) return future ? "About a minute from now" : "About a minute ago";
  if (a < 3600) return fmt(a / 60, "minute");
  if (a < 2 * 86400) return fmt(a / 3600, "hour");
  if (a < 60 * 86400) return fmt(a / 86400, "day");
  if (a < 3 * 365 * 86400) return fmt(a / (30 * 86400), "month");
  return future ? "Forever" : fmt(a / (365 * 86400), "year");
}

int RunList() {
  auto c = Client();
  if (!c.ok()) return Fail(c.status());
  auto tags = c->Get("/api/tags");
  if (!tags.ok()) return Fail(tags.status());
  std::vector<std::vector<std::string>> rows{{"NAME", "ID", "SIZE", "MODIFIED"}};
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  for (const auto& m : (*tags)["models"]) {
    std::string modified = HumanSince(now - ParseRfc3339(m.value("modified_at", "")));
    if (m.contains("error")) modified += "  (cannot be served: " + m["error"].get<std::string>() + ")";
    rows.push_back({m.value("name", ""), ShortId(m), HumanBytes(m.value("size", uint64_t{0})), modified});
  }
  PrintTable(rows);
  return 0;
}

int RunPs() {
  auto c = Client();
  if (!c.ok()) return Fail(c.status());
  auto ps = c->Get("/api/ps");
  if (!ps.ok()) return Fail(ps.status());
  std::vector<std::vector<std::string>> rows{{"NAME", "ID", "SIZE", "PROCESSOR", "UNTIL"}};
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  for (const auto& m : (*ps)["models"]) {
    rows.push_back({m.value("name", ""), ShortId(m), HumanBytes(m.value("size", uint64_t{0})), "100% CPU",
                    HumanSince(now - ParseRfc3339(m.value("expires_at", "")))});
  }
  PrintTable(rows);
  return 0;
}

int RunShow(const std::string& name) {
  auto c = Client();
  if (!c.ok()) return Fail(c.status());
  auto show = c->Post("/api/show", {{"model", name}});
  if (!show.ok()) return Fail(show.status());
  const json& d = (*show)["details"];
  const json& info = (*show)["model_info"];
  std::string arch = d.value("family", "");
  auto meta = [&](const std::string& key) -> std::string {
    auto it = info.find(arch + "." + key);
    return it == info.end() || it->is_null() ? "" : it->dump();
  };
  std::vector<std::vector<std::string>> rows{{"architecture", arch},
                                             {"parameters", d.value("parameter_size", "")},
                                             {"context length", meta("context_length")},
                                             {"embedding length", meta("embedding_length")},
                                             {"quantization", d.value("quantization_level", "")}};
  std::cout << "  Model\n";
  for (const auto& r : rows)
    if (!r[1].empty()) std::printf("    %-20s%s\n", r[0].c_str(), r[1].c_str());
  std::cout << "\n  Capabilities\n";
  for (const auto& cap : (*show)["capabilities"]) std::cout << "    " << cap.get<std::string>() << "\n";
  std::string system = show->value("system", "");
  if (!system.empty()) std::cout << "\n  System\n    " << system << "\n";
  std::cout << "\n";
  return 0;
}

int RunStop(const std::string& name) {
  auto c = Client();
  if (!c.ok()) return Fail(c.status());
  // Only a running model is stopped: an empty generate would load one that is not.
  auto ps = c->Get("/api/ps");
  if (!ps.ok()) return Fail(ps.status());
  std::string want = name.find(':') == std::string::npos ? name + ":latest" : name;
  bool running = false;
  for (const auto& m : (*ps)["models"]) running |= m.value("name", "") == want || m.value("name", "") == name;
  if (!running) return Fail(NotFoundError("couldn't find model \"" + name + "\" to stop"));
  auto r = c->Post("/api/generate", {{"model", name}, {"keep_alive", 0}});
  if (!r.ok()) return Fail(r.status());
  return 0;
}

}  // namespace swarmkv::cli
