#include "cli/swarm/workload.h"

#include <array>
#include <functional>
#include <string_view>

namespace swarmkv::cli {
namespace {

// splitmix64: tiny, fast, and the same everywhere.
struct Rng {
  uint64_t state;
  uint64_t Next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  template <size_t N>
  std::string_view Pick(const std::array<std::string_view, N>& words) {
    return words[Next() % N];
  }
};

constexpr std::array<std::string_view, 24> kNouns = {
    "widget", "order", "account", "session", "buffer", "request", "invoice", "ledger",
    "cursor", "packet", "tensor", "block", "token", "record", "schema", "vertex",
    "queue", "shard", "lease", "report", "window", "cache", "filter", "stream"};
constexpr std::array<std::string_view, 16> kVerbs = {
    "count", "merge", "find", "split", "flush", "validate", "encode", "decode",
    "update", "collect", "resolve", "render", "schedule", "compact", "index", "sort"};
constexpr std::array<std::string_view, 12> kAdjectives = {
    "heavy", "stale", "pending", "active", "dirty", "empty", "remote", "local",
    "shared", "sealed", "cold", "recent"};
constexpr std::array<std::string_view, 8> kTasks = {
    "Review the function %s and list every bug you find.",
    "Explain what %s does to a new team member in two sentences.",
    "Write a unit test for %s that covers the empty case.",
    "Suggest a faster implementation of %s.",
    "Find all callers of %s and say which ones can pass a null pointer.",
    "Rename %s to something clearer and justify the name.",
    "Document the invariants of %s as a header comment.",
    "Check %s for integer overflow and fix it."};

std::string Capitalize(std::string_view s) {
  std::string out(s);
  if (!out.empty() && out[0] >= 'a' && out[0] <= 'z') out[0] = static_cast<char>(out[0] - 'a' + 'A');
  return out;
}

std::string FunctionName(Rng& rng) {
  return Capitalize(rng.Pick(kVerbs)) + Capitalize(rng.Pick(kAdjectives)) + Capitalize(rng.Pick(kNouns)) + "s";
}

void AppendFile(Rng& rng, int file_index, std::string* out) {
  std::string module = "module_" + std::to_string(file_index % 7);
  std::string noun(rng.Pick(kNouns));
  std::string type = Capitalize(noun);
  *out += "// file: src/" + module + "/" + noun + "_store_" + std::to_string(file_index) + ".cc\n";
  *out += "#include \"" + module + "/" + noun + "_store.h\"\n\nnamespace app {\n\n";
  int functions = 3 + static_cast<int>(rng.Next() % 4);
  for (int f = 0; f < functions; ++f) {
    std::string fn = FunctionName(rng);
    std::string adj(rng.Pick(kAdjectives));
    std::string field = std::string(rng.Pick(kNouns)) + "_count";
    int threshold = static_cast<int>(rng.Next() % 1000);
    *out += "// Returns how many " + noun + "s are " + adj + " when " + field + " exceeds " +
            std::to_string(threshold) + ".\n";
    *out += "int " + fn + "(const std::vector<" + type + ">& items, int limit) {\n";
    *out += "  int result = 0;\n";
    *out += "  for (const auto& item : items) {\n";
    *out += "    if (item." + field + " > " + std::to_string(threshold) + " && item.is_" + adj + "()) {\n";
    *out += "      result += item.weight() % (limit + 1);\n";
    *out += "    }\n  }\n  return result;\n}\n\n";
  }
  *out += "}  // namespace app\n\n";
}

// Appends chunks from `append` until the text reaches `target_tokens`, then cuts it back at a
// line end to the longest prefix within the target. Counts the text a few dozen times at most.
std::string FillToTokens(std::string text, int64_t target_tokens, const CountTokensFn& count_tokens,
                         const std::function<void(std::string*)>& append) {
  auto estimate = [&](const std::string& t) -> int64_t {
    return count_tokens ? count_tokens(t) : static_cast<int64_t>(static_cast<double>(t.size()) / 3.5);
  };
  // Grow in proportion to the remaining gap, re-counting a handful of times.
  for (int round = 0; round < 16; ++round) {
    int64_t have = estimate(text);
    if (have >= target_tokens) break;
    double chars_per_token = have > 0 ? static_cast<double>(text.size()) / static_cast<double>(have) : 3.5;
    size_t want_chars = text.size() + static_cast<size_t>(static_cast<double>(target_tokens - have) * chars_per_token) + 1;
    while (text.size() < want_chars) append(&text);
  }
  // Chunks are appended whole, so the text overshoots: cut it back at a line end to the longest
  // prefix within the target (binary search over line ends; a dozen counts).
  if (estimate(text) > target_tokens) {
    size_t lo = 0, hi = text.size();  // estimate(text[0, lo)) <= target < estimate(text[0, hi))
    while (hi - lo > 64) {
      const size_t mid = lo + (hi - lo) / 2;
      (estimate(text.substr(0, mid)) <= target_tokens ? lo : hi) = mid;
    }
    const size_t nl = text.rfind('\n', lo == 0 ? 0 : lo - 1);
    if (nl != std::string::npos) {
      text.resize(nl + 1);
    } else if (lo > 0) {  // a target shorter than the first line: its end becomes the newline
      text.resize(lo);
      text.back() = '\n';
    } else {
      text.clear();
    }
  }
  return text;
}

// A seed for one (kind, agent, turn) piece of the workload, far from every other piece's.
uint64_t PieceSeed(uint64_t seed, uint64_t kind, int agent, int turn) {
  Rng rng{seed ^ (kind * 0xD1B54A32D192ED03ull)};
  rng.state ^= rng.Next() + static_cast<uint64_t>(agent) * 0x9E3779B97F4A7C15ull;
  rng.state ^= rng.Next() + static_cast<uint64_t>(turn) * 0xBF58476D1CE4E5B9ull;
  return rng.Next();
}

}  // namespace

std::string MakeSharedContext(uint64_t seed, int64_t target_tokens, const CountTokensFn& count_tokens, int codebase) {
  // Codebase 0 keeps the seed as it is, so its text is the one of earlier versions.
  Rng rng{codebase == 0 ? seed : PieceSeed(seed, 1, codebase, 0)};
  int file_index = 0;
  return FillToTokens("You are reviewing the following codebase. Answer questions about it precisely.\n\n",
                      target_tokens, count_tokens, [&](std::string* text) { AppendFile(rng, file_index++, text); });
}

std::string MakeToolResult(uint64_t seed, int agent, int turn, int64_t target_tokens, const CountTokensFn& count_tokens) {
  Rng rng{PieceSeed(seed, 2, agent, turn)};
  int file_index = 1000 + static_cast<int>(rng.Next() % 9000);
  const std::string header = "read_file returned src/module_" + std::to_string(file_index % 7) + "/" +
                             std::string(rng.Pick(kNouns)) + "_store_" + std::to_string(file_index) + ".cc:\n";
  return FillToTokens(header, target_tokens, count_tokens, [&](std::string* text) { AppendFile(rng, file_index++, text); });
}

std::string MakeAnswer(uint64_t seed, int agent, int turn, int64_t target_tokens, const CountTokensFn& count_tokens) {
  Rng rng{PieceSeed(seed, 3, agent, turn)};
  return FillToTokens("", target_tokens, count_tokens, [&](std::string* text) {
    *text += "I checked " + FunctionName(rng) + ": it " + std::string(rng.Pick(kVerbs)) + "s the " +
             std::string(rng.Pick(kAdjectives)) + " " + std::string(rng.Pick(kNouns)) + "s and returns early when " +
             std::string(rng.Pick(kNouns)) + "_count exceeds " + std::to_string(rng.Next() % 1000) + ". Next I read " +
             FunctionName(rng) + ".\n";
  });
}

std::string MakeAgentTask(uint64_t seed, int index, int approx_words) {
  Rng rng{seed * 1000003u + static_cast<uint64_t>(index) + 17};
  std::string fn = FunctionName(rng);
  std::string_view pattern = kTasks[static_cast<size_t>(index) % kTasks.size()];
  std::string task;
  size_t pos = pattern.find("%s");
  task = "Agent " + std::to_string(index + 1) + ": " + std::string(pattern.substr(0, pos)) + fn +
         std::string(pattern.substr(pos + 2));
  int words = 0;
  for (char c : task) words += c == ' ';
  while (words < approx_words) {
    task += " Consider the " + std::string(rng.Pick(kAdjectives)) + " " + std::string(rng.Pick(kNouns)) + "s too.";
    words += 5;
  }
  return task;
}

}  // namespace swarmkv::cli
