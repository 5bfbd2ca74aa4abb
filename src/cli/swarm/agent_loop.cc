#include "cli/swarm/agent_loop.h"

#include <chrono>
#include <thread>

namespace swarmkv::cli {

int CodebaseOfAgent(int agent, int distinct_prefixes) { return distinct_prefixes > 1 ? agent % distinct_prefixes : 0; }

AgentScript MakeAgentScript(int agent, int codebase, std::shared_ptr<const std::string> context,
                            const AgentScriptOptions& options, const CountTokensFn& count_tokens) {
  AgentScript s;
  s.index = agent;
  s.codebase = codebase;
  s.context = std::move(context);
  s.task = MakeAgentTask(options.seed, agent, options.suffix_tokens / 2);
  for (int t = 0; t + 1 < options.turns; ++t) {
    s.answers.push_back(MakeAnswer(options.seed, agent, t, options.answer_tokens, count_tokens));
    s.tool_results.push_back(MakeToolResult(options.seed, agent, t, options.tool_tokens, count_tokens));
  }
  return s;
}

std::vector<ChatMessage> ConversationAt(const AgentScript& script, int turn, const std::vector<std::string>& answers) {
  std::vector<ChatMessage> m = {{"system", script.context ? *script.context : std::string(), ""},
                                {"user", script.task, ""}};
  for (int t = 0; t < turn && t < static_cast<int>(script.tool_results.size()); ++t) {
    m.push_back({"assistant", t < static_cast<int>(answers.size()) ? answers[static_cast<size_t>(t)] : std::string(), ""});
    m.push_back({"tool", script.tool_results[static_cast<size_t>(t)], "read_file"});
  }
  return m;
}

ModeResult RunAgentLoops(const std::string& name, const AgentLoopOptions& options,
                         const std::vector<const AgentScript*>& scripts) {
  using Clock = std::chrono::steady_clock;
  ModeResult mode;
  mode.name = name;
  mode.agents = static_cast<int>(scripts.size());
  mode.turns = options.turns;
  struct PerAgent {
    std::vector<RequestRecord> requests;
    std::vector<double> itl_ms;
    std::string error;
  };
  std::vector<PerAgent> per_agent(scripts.size());
  const auto start = Clock::now();
  auto since_start = [&](Clock::time_point t) { return std::chrono::duration<double, std::milli>(t - start).count(); };
  std::vector<std::thread> threads;
  for (size_t i = 0; i < scripts.size(); ++i) {
    threads.emplace_back([&, i] {
      const AgentScript& script = *scripts[i];
      PerAgent& out = per_agent[i];
      std::vector<std::string> answers;
      for (int turn = 0; turn < options.turns; ++turn) {
        AgentRequest req;
        req.api = options.api;
        req.model = options.model;
        req.messages = ConversationAt(script, turn, answers);
        req.num_predict = options.num_predict;
        req.seed = options.seed;
        RequestRecord rec;
        rec.agent = script.index;
        rec.turn = turn;
        rec.start_ms = since_start(Clock::now());
        AgentResult a = RunAgentRequest(options.port, req);
        rec.end_ms = rec.start_ms + a.total_ms;
        rec.ttft_ms = a.ttft_ms;
        rec.first_token_at_ms = rec.start_ms + a.ttft_ms;
        rec.last_token_at_ms = rec.start_ms + (a.token_ms.empty() ? a.ttft_ms : a.token_ms.back());
        rec.prompt_tokens = a.prompt_tokens;
        rec.cached_tokens = a.cached_tokens;
        rec.completion_tokens = a.completion_tokens;
        rec.streamed_tokens = static_cast<int64_t>(a.token_ms.size());
        for (size_t k = 1; k < a.token_ms.size(); ++k) out.itl_ms.push_back(a.token_ms[k] - a.token_ms[k - 1]);
        if (!a.status.ok()) {
          out.error = "agent " + std::to_string(script.index + 1) + " turn " + std::to_string(turn + 1) + ": " +
                      a.status.ToString();
          return;
        }
        out.requests.push_back(rec);
        const size_t t = static_cast<size_t>(turn);
        answers.push_back(options.server_answers || t >= script.answers.size() ? a.text : script.answers[t]);
      }
    });
  }
  for (auto& t : threads) t.join();
  mode.wall_ms = since_start(Clock::now());
  for (auto& a : per_agent) {
    mode.requests.insert(mode.requests.end(), a.requests.begin(), a.requests.end());
    mode.itl_ms.insert(mode.itl_ms.end(), a.itl_ms.begin(), a.itl_ms.end());
    if (!a.error.empty()) mode.errors.push_back(a.error);
  }
  return mode;
}

}  // namespace swarmkv::cli
