// chat_template_bench: microseconds to parse and to render each real chat template in
// ../shared/chat-templates for a 4-turn conversation with two tools, one JSON line per template.
//
// Baselines in the same run: the built-in chatml family rendering the same messages natively
// ("builtin_chatml_us"), and serialising the whole render context with nlohmann::json dump
// ("json_dump_us") — the floor any per-request templating pays for touching its input once.
//
// Usage: chat_template_bench [--shared DIR] [--repeat N]   (SWARMKV_SHARED_DIR also works)
#include <dirent.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/chat_template.h"
#include "tokenizer/jinja_template.h"

namespace swarmkv {
namespace {

using ojson = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

template <typename F>
double MedianUs(int repeat, F&& f) {
  std::vector<double> t;
  for (int i = 0; i < repeat; ++i) {
    auto a = Clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::micro>(Clock::now() - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

int Main(int argc, char** argv) {
  std::string shared = std::getenv("SWARMKV_SHARED_DIR") ? std::getenv("SWARMKV_SHARED_DIR") : SWARMKV_SHARED_DIR_DEFAULT;
  int repeat = 50;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--shared") shared = argv[i + 1];
    if (std::string(argv[i]) == "--repeat") repeat = std::max(1, std::atoi(argv[i + 1]));
  }
  const std::string dir = shared + "/chat-templates";
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n.ends_with(".jinja")) names.push_back(n);
    }
    closedir(d);
  }
  if (names.empty()) {
    std::fprintf(stderr, "chat_template_bench: no templates in %s\n", dir.c_str());
    return 1;
  }
  std::sort(names.begin(), names.end());

  ojson ctx = ojson::parse(R"({
    "messages": [
      {"role": "system", "content": "You are a helpful assistant that answers briefly."},
      {"role": "user", "content": "What is the capital of France?"},
      {"role": "assistant", "content": "Paris."},
      {"role": "user", "content": "And what is the weather there right now?"}],
    "tools": [
      {"type": "function", "function": {"name": "get_weather", "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"},
          "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["location"]}}},
      {"type": "function", "function": {"name": "search", "description": "Search the web",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}}],
    "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>"})");
  std::vector<ChatMessage> msgs;
  for (const auto& m : ctx["messages"]) msgs.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
  const ChatTemplate chatml(ChatTemplateKind::kChatml);
  size_t sink = 0;
  const double chatml_us = MedianUs(repeat, [&] { sink += chatml.Render(msgs, true)->size(); });
  const double dump_us = MedianUs(repeat, [&] { sink += ctx.dump().size(); });

  for (const std::string& n : names) {
    std::ifstream f(dir + "/" + n, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    const std::string src = ss.str();
    std::shared_ptr<const JinjaTemplate> t;
    const double parse_us = MedianUs(std::max(1, repeat / 10), [&] {
      auto r = JinjaTemplate::Parse(src);
      if (r.ok()) t = *r;
    });
    if (!t) {
      std::printf("{\"bench\":\"chat_template\",\"template\":\"%s\",\"error\":\"parse\"}\n", n.c_str());
      continue;
    }
    bool ok = true;
    size_t bytes = 0;
    const double render_us = MedianUs(repeat, [&] {
      auto r = t->Render(ctx);
      ok = r.ok();
      bytes = ok ? r->size() : 0;
      sink += bytes;
    });
    std::printf("{\"bench\":\"chat_template\",\"template\":\"%s\",\"source_bytes\":%zu,\"parse_us\":%.1f,"
                "\"render_us\":%.1f,\"render_ok\":%s,\"output_bytes\":%zu,\"builtin_chatml_us\":%.2f,"
                "\"json_dump_us\":%.2f}\n",
                n.c_str(), src.size(), parse_us, render_us, ok ? "true" : "false", bytes, chatml_us, dump_us);
  }
  return sink == 1 ? 1 : 0;
}

}  // namespace
}  // namespace swarmkv

int main(int argc, char** argv) { return swarmkv::Main(argc, argv); }
