// Every real chat template in ../shared/chat-templates rendered by our Jinja interpreter and by
// Python jinja2 (scripts/render_chat_template.py, configured as transformers configures it) for
// the conversations agents send; the outputs must be byte-equal, and where jinja2 raises we must
// fail too.
#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/testing.h"
#include "tokenizer/jinja_builtins.h"
#include "tokenizer/jinja_template.h"

namespace swarmkv {
namespace {

using ojson = nlohmann::ordered_json;

constexpr int64_t kPinnedTime = 1767323045;  // 2026-01-02 03:04:05, as the python script pins it
constexpr const char* kPython = "/usr/bin/python3";

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool HasJinja2() { return std::system((std::string(kPython) + " -c 'import jinja2' 2>/dev/null").c_str()) == 0; }

ojson Tools() {
  return ojson::parse(R"([
    {"type": "function", "function": {"name": "get_weather",
      "description": "Get the current weather in a city — “quoted”, ünïcödé 👋",
      "parameters": {"type": "object", "properties": {
        "location": {"type": "string", "description": "City name, e.g. Paris"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["location"]}}},
    {"type": "function", "function": {"name": "search",
      "description": "Search the web",
      "parameters": {"type": "object", "properties": {
        "query": {"type": "string"}, "max_results": {"type": "integer", "default": 5}},
        "required": ["query"]}}}
  ])");
}

// An assistant turn calling get_weather; `arguments` an object (Ollama, transformers) or a JSON
// string (OpenAI).
ojson ToolCall(const char* content_json, const char* id = "call_1", bool args_as_string = false) {
  ojson m = ojson::parse(R"({"role": "assistant", "tool_calls": [{"type": "function",
      "function": {"name": "get_weather", "arguments": {"location": "Paris", "unit": "celsius"}}}]})");
  m["tool_calls"][0]["id"] = id;
  if (args_as_string) m["tool_calls"][0]["function"]["arguments"] = R"({"location": "Paris", "unit": "celsius"})";
  m["content"] = ojson::parse(content_json);
  return m;
}

struct Scenario {
  std::string name;
  ojson context;
};

std::vector<Scenario> Scenarios() {
  const ojson user = {{"role", "user"}, {"content", "Hello! Wie geht's? 👋 \"quotes\" & <tags>"}};
  const ojson system = {{"role", "system"}, {"content", "You are a terse assistant."}};
  const ojson history = ojson::array({system, {{"role", "user"}, {"content", "Name a color."}},
                                      {{"role", "assistant"}, {"content", "Blue."}},
                                      {{"role", "user"}, {"content", "Another one?"}}});
  const ojson weather_q = {{"role", "user"}, {"content", "What is the weather in Paris?"}};
  const ojson tool_result = {{"role", "tool"}, {"tool_call_id", "call_1"}, {"name", "get_weather"},
                             {"content", "{\"temperature\": 18, \"sky\": \"clear\"}"}};
  std::vector<Scenario> s;
  auto add = [&](std::string name, ojson messages, bool gen, ojson extra) {
    ojson ctx = extra.is_null() ? ojson::object() : extra;
    ctx["messages"] = std::move(messages);
    ctx["add_generation_prompt"] = gen;
    ctx["bos_token"] = "<|bos|>";
    ctx["eos_token"] = "<|eos|>";
    s.push_back({std::move(name), std::move(ctx)});
  };
  add("plain", ojson::array({user}), true, nullptr);
  add("system", ojson::array({system, user}), true, nullptr);
  add("multi_turn", history, true, nullptr);
  ojson ended = history;
  ended.push_back({{"role", "assistant"}, {"content", "Green."}});
  add("multi_turn_no_generation_prompt", ended, false, nullptr);
  add("tools", ojson::array({system, weather_q}), true, {{"tools", Tools()}});
  add("tool_call", ojson::array({weather_q, ToolCall("\"\"")}), false, {{"tools", Tools()}});
  add("tool_result", ojson::array({weather_q, ToolCall("null"), tool_result}), true, {{"tools", Tools()}});
  add("thinking_on", history, true, {{"enable_thinking", true}});
  add("thinking_off", history, true, {{"enable_thinking", false}});
  // Variants many templates expect: a 9-character call id (Mistral), text content in the calling
  // turn, arguments as a JSON string, content parts, reasoning in history, RAG documents.
  ojson result9 = tool_result;
  result9["tool_call_id"] = "abcDEF123";
  add("tool_result_id9", ojson::array({system, weather_q, ToolCall("\"\"", "abcDEF123"), result9}), true,
      {{"tools", Tools()}});
  add("tool_call_arguments_string", ojson::array({weather_q, ToolCall("\"Let me check.\"", "abcDEF123", true), result9}),
      true, {{"tools", Tools()}});
  add("content_parts",
      ojson::array({{{"role", "user"}, {"content", {{{"type", "text"}, {"text", "Describe "}}, {{"type", "text"}, {"text", "this."}}}}}}),
      true, nullptr);
  ojson reasoning = history;
  reasoning[2]["reasoning_content"] = "The user wants a color; blue is simple.";
  add("reasoning_history", reasoning, true, {{"enable_thinking", true}});
  add("documents", ojson::array({user}), true,
      {{"documents", {{{"title", "Doc A"}, {"text", "Paris is in France."}}, {{"title", "Doc B"}, {"text", "Berlin is in Germany."}}}}});
  return s;
}

// Runs the Python oracle over [{"template": path, "context": {...}}, ...]; the results in order.
ojson RunOracle(const ojson& jobs) {
  const std::string script = std::string(SWARMKV_SOURCE_DIR) + "/scripts/render_chat_template.py";
  const std::string tmp = testing::TempDir("chat-golden");
  const std::string jobs_path = tmp + "/jobs.json";
  std::ofstream(jobs_path) << jobs.dump();
  const std::string cmd = std::string(kPython) + " " + script + " --batch " + jobs_path;
  const testing::ShellResult r = testing::RunShell(cmd);
  if (r.exit_code != 0) return nullptr;
  return ojson::parse(r.out, nullptr, false);
}

// Edge cases of filters, tests, methods, scoping and number formatting (one template per line of
// testdata/jinja_snippets.txt), compared with jinja2 without any shared data.
TEST(ChatTemplateGolden, SnippetsRenderLikeJinja2) {
  if (!HasJinja2()) GTEST_SKIP() << "python3-jinja2 is not installed (" << kPython << " -c 'import jinja2' failed)";
  std::ifstream f(std::string(SWARMKV_SOURCE_DIR) + "/src/tokenizer/testdata/jinja_snippets.txt");
  std::vector<std::string> snippets;
  for (std::string line; std::getline(f, line);) {
    if (!line.empty()) snippets.push_back(line);
  }
  ASSERT_GT(snippets.size(), 40u);
  const std::string tmp = testing::TempDir("jinja-snippets");
  const ojson ctx = {{"messages", {{{"role", "user"}, {"content", "hi"}}}}};
  ojson jobs = ojson::array();
  for (size_t i = 0; i < snippets.size(); ++i) {
    const std::string path = tmp + "/" + std::to_string(i) + ".jinja";
    std::ofstream(path) << snippets[i];
    jobs.push_back({{"template", path}, {"context", ctx}});
  }
  const ojson expected = RunOracle(jobs);
  ASSERT_TRUE(expected.is_array() && expected.size() == snippets.size());
  for (size_t i = 0; i < snippets.size(); ++i) {
    auto t = JinjaTemplate::Parse(snippets[i]);
    Result<std::string> got = t.ok() ? (*t)->Render(ctx) : Result<std::string>(t.status());
    if (!expected[i]["ok"].get<bool>()) {
      EXPECT_FALSE(got.ok()) << snippets[i] << "\njinja2: " << expected[i]["error"];
    } else {
      ASSERT_TRUE(got.ok()) << snippets[i] << "\n" << got.status().ToString();
      EXPECT_EQ(*got, expected[i]["text"].get<std::string>()) << snippets[i];
    }
  }
}

TEST(ChatTemplateGolden, EveryTemplateRendersLikeJinja2) {
  const std::string dir = SKV_REQUIRE_SHARED("chat-templates");
  if (!HasJinja2()) GTEST_SKIP() << "python3-jinja2 is not installed (" << kPython << " -c 'import jinja2' failed)";
  std::vector<std::string> templates;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n.size() > 6 && n.ends_with(".jinja")) templates.push_back(dir + "/" + n);
    }
    closedir(d);
  }
  std::sort(templates.begin(), templates.end());
  ASSERT_FALSE(templates.empty());
  const std::vector<Scenario> scenarios = Scenarios();

  ojson jobs = ojson::array();
  for (const std::string& t : templates) {
    for (const Scenario& s : scenarios) jobs.push_back({{"template", t}, {"context", s.context}});
  }
  const ojson expected = RunOracle(jobs);
  ASSERT_TRUE(expected.is_array() && expected.size() == jobs.size()) << "the python oracle failed";

  jinja::PinJinjaTimeForTesting(kPinnedTime);
  int pass = 0, total = 0, expected_errors = 0;
  std::vector<std::string> failures;
  for (size_t ti = 0; ti < templates.size(); ++ti) {
    const std::string name = templates[ti].substr(dir.size() + 1);
    Result<std::shared_ptr<const JinjaTemplate>> tmpl = JinjaTemplate::Parse(ReadFile(templates[ti]));
    for (size_t si = 0; si < scenarios.size(); ++si) {
      const ojson& want = expected[ti * scenarios.size() + si];
      ++total;
      Result<std::string> got = tmpl.ok() ? (*tmpl)->Render(scenarios[si].context) : Result<std::string>(tmpl.status());
      const std::string where = name + " × " + scenarios[si].name;
      if (!want["ok"].get<bool>()) {
        ++expected_errors;
        if (got.ok()) {
          failures.push_back(where + ": jinja2 raised (" + want["error"].get<std::string>() + ") but we rendered");
        } else {
          ++pass;
          if (std::getenv("SWARMKV_SHOW_TEMPLATE_ERRORS") != nullptr) {
            std::printf("%s\n  jinja2: %s\n  ours:   %s\n", where.c_str(), want["error"].get<std::string>().c_str(),
                        got.status().message().c_str());
          }
        }
        continue;
      }
      if (!got.ok()) {
        failures.push_back(where + ": we failed: " + got.status().ToString());
      } else if (*got != want["text"].get<std::string>()) {
        const std::string& w = want["text"].get_ref<const std::string&>();
        size_t at = 0;
        while (at < got->size() && at < w.size() && (*got)[at] == w[at]) ++at;
        size_t from = at > 40 ? at - 40 : 0;
        failures.push_back(where + ": differs at byte " + std::to_string(at) + "\n  want: " +
                           ojson(w.substr(from, 120)).dump() + "\n  got:  " + ojson(got->substr(from, 120)).dump());
      } else {
        ++pass;
      }
    }
  }
  jinja::PinJinjaTimeForTesting(0);
  std::printf("chat templates: %d / %d (template × scenario) match jinja2 (%zu templates × %zu scenarios; %d are "
              "errors in jinja2 too)\n", pass, total, templates.size(), scenarios.size(), expected_errors);
  for (const std::string& f : failures) ADD_FAILURE() << f;
}

// gpt-oss's harmony template with the inputs only it reads: reasoning_effort, model_identity,
// builtin_tools, a developer message, `thinking` on assistant turns (kept before a tool call,
// dropped once a final answer follows), a training-style render of the last turn, and the
// errors it raises on channel tags in content or a tool result without a call.
TEST(ChatTemplateGolden, GptOssHarmonyRendersLikeJinja2) {
  const std::string path = SKV_REQUIRE_SHARED("chat-templates/openai-gpt-oss-120b.jinja");
  if (!HasJinja2()) GTEST_SKIP() << "python3-jinja2 is not installed (" << kPython << " -c 'import jinja2' failed)";
  const ojson user = {{"role", "user"}, {"content", "What is the weather in Paris?"}};
  ojson call = ToolCall("\"\"");
  call.erase("content");
  call["thinking"] = "I should call get_weather.";
  const ojson result = {{"role", "tool"}, {"content", "{\"temperature\": 18}"}};
  const ojson final_answer = {{"role", "assistant"}, {"content", "18 °C and clear."}, {"thinking", "Report it."}};
  std::vector<std::pair<std::string, ojson>> cases;
  auto add = [&](std::string name, ojson messages, bool gen, ojson extra) {
    extra["messages"] = std::move(messages);
    extra["add_generation_prompt"] = gen;
    cases.emplace_back(std::move(name), std::move(extra));
  };
  add("effort_identity", ojson::array({{{"role", "system"}, {"content", "Be brief."}}, user}), true,
      {{"reasoning_effort", "high"}, {"model_identity", "You are a test model."}});
  add("developer", ojson::array({{{"role", "developer"}, {"content", "Answer in French."}}, user}), true,
      {{"reasoning_effort", "low"}});
  add("tools_and_builtins", ojson::array({user}), true, {{"tools", Tools()}, {"builtin_tools", {"browser", "python"}}});
  add("call_keeps_thinking", ojson::array({user, call, result}), true, {{"tools", Tools()}});
  add("final_drops_call_thinking", ojson::array({user, call, result, final_answer, user}), true, {{"tools", Tools()}});
  add("training_last_turn", ojson::array({user, final_answer}), false, ojson::object());
  add("channel_tags_in_content_raise",
      ojson::array({user, {{"role", "assistant"}, {"content", "<|channel|>analysis<|message|>x"}}, user}), true,
      ojson::object());
  add("tool_without_call_raises", ojson::array({user, result}), true, ojson::object());
  ojson jobs = ojson::array();
  for (const auto& [name, ctx] : cases) jobs.push_back({{"template", path}, {"context", ctx}});
  const ojson expected = RunOracle(jobs);
  ASSERT_TRUE(expected.is_array() && expected.size() == jobs.size()) << "the python oracle failed";
  auto tmpl = JinjaTemplate::Parse(ReadFile(path));
  ASSERT_TRUE(tmpl.ok()) << tmpl.status().ToString();
  jinja::PinJinjaTimeForTesting(kPinnedTime);
  int raised = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    Result<std::string> got = (*tmpl)->Render(cases[i].second);
    if (!expected[i]["ok"].get<bool>()) {
      ++raised;
      EXPECT_FALSE(got.ok()) << cases[i].first << ": jinja2 raised " << expected[i]["error"];
      continue;
    }
    ASSERT_TRUE(got.ok()) << cases[i].first << ": " << got.status().ToString();
    EXPECT_EQ(*got, expected[i]["text"].get<std::string>()) << cases[i].first;
  }
  jinja::PinJinjaTimeForTesting(0);
  EXPECT_EQ(raised, 2);
  // The harmony framing the server's reply parser relies on.
  Result<std::string> gen = (*tmpl)->Render(cases[3].second);
  ASSERT_TRUE(gen.ok());
  EXPECT_TRUE(gen->ends_with("<|start|>assistant")) << *gen;
  EXPECT_NE(gen->find("<|channel|>analysis<|message|>I should call get_weather.<|end|>"), std::string::npos) << *gen;
  EXPECT_NE(gen->find("<|start|>assistant to=functions.get_weather<|channel|>commentary json<|message|>"),
            std::string::npos) << *gen;
}

// What the prefix cache can rely on with a model's own template: the prompt of a conversation
// with its generation prompt is a prefix of the prompt after the reply and one more user turn,
// for many templates but not all (some drop the reasoning of earlier turns or re-date the system
// turn); those merely miss the cache from the first differing byte. This measures which.
TEST(ChatTemplateGolden, WhichTemplatesArePrefixStable) {
  const std::string dir = SKV_REQUIRE_SHARED("chat-templates");
  jinja::PinJinjaTimeForTesting(kPinnedTime);
  std::vector<std::string> stable, unstable;
  DIR* d = opendir(dir.c_str());
  ASSERT_NE(d, nullptr);
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (!n.ends_with(".jinja")) continue;
    auto t = JinjaTemplate::Parse(ReadFile(dir + "/" + n));
    if (!t.ok()) continue;
    ojson ctx = {{"bos_token", "<|bos|>"}, {"eos_token", "<|eos|>"}, {"add_generation_prompt", true}};
    ctx["messages"] = ojson::array({{{"role", "user"}, {"content", "Name a color."}}});
    auto before = (*t)->Render(ctx);
    ctx["messages"].push_back({{"role", "assistant"}, {"content", "Blue."}});
    ctx["messages"].push_back({{"role", "user"}, {"content", "Another?"}});
    auto after = (*t)->Render(ctx);
    if (!before.ok() || !after.ok()) continue;
    (after->starts_with(*before) ? stable : unstable).push_back(n);
  }
  closedir(d);
  jinja::PinJinjaTimeForTesting(0);
  std::sort(unstable.begin(), unstable.end());
  std::string list;
  for (const auto& n : unstable) list += " " + n;
  std::printf("prefix-stable over one more turn: %zu templates; not:%s\n", stable.size(), list.c_str());
  for (const char* must : {"Qwen-Qwen2.5-7B-Instruct.jinja", "meta-llama-Llama-3.1-8B-Instruct.jinja"}) {
    EXPECT_NE(std::find(stable.begin(), stable.end(), must), stable.end()) << must;
  }
}

}  // namespace
}  // namespace swarmkv
