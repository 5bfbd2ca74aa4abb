// The agent loop of swarm-bench: each agent sends its conversation (a shared codebase as the
// system message, its own task), appends the answer and a tool result, and sends the grown
// conversation again, `turns` times; all agents of a mode run at once, each on its own thread.
//
// Invariant: an agent's conversation on turn t+1 extends its conversation on turn t message by
// message (answer, tool result), so its prompt on turn t+1 starts with its prompt on turn t up to
// the end of that turn's prompt — a prefix cache can reuse its whole history. An agent's script
// (context, task, tool results, stand-in answers) depends only on the seed and the agent's index,
// so every mode and every server sees the same workload.
//
// Thread-safety: RunAgentLoops starts and joins its own threads; scripts are read-only meanwhile.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cli/swarm/agent_client.h"
#include "cli/swarm/report.h"
#include "cli/swarm/workload.h"

namespace swarmkv::cli {

// What one agent says, turn by turn.
struct AgentScript {
  int index = 0;                                // the agent's number (its task, tool results)
  int codebase = 0;                             // which shared context it reads
  std::shared_ptr<const std::string> context;   // that context's text
  std::string task;                             // its first user message
  std::vector<std::string> answers;             // stand-in answers of turns 0 .. turns-2
  std::vector<std::string> tool_results;        // tool results after turns 0 .. turns-2
};

struct AgentScriptOptions {
  uint64_t seed = 1;
  int turns = 4;
  int suffix_tokens = 64;  // the task's length, roughly (words = tokens / 2)
  int64_t tool_tokens = 512;
  int64_t answer_tokens = 256;
};

// With --distinct-prefixes K, agent i reads codebase i mod K.
int CodebaseOfAgent(int agent, int distinct_prefixes);

AgentScript MakeAgentScript(int agent, int codebase, std::shared_ptr<const std::string> context,
                            const AgentScriptOptions& options, const CountTokensFn& count_tokens);

// The messages of `script`'s turn `turn` (0-based): the context, the task, then for each earlier
// turn its answer (`answers[t]`: the server's text or the stand-in) and tool result.
std::vector<ChatMessage> ConversationAt(const AgentScript& script, int turn, const std::vector<std::string>& answers);

struct AgentLoopOptions {
  ServerApi api = ServerApi::kSwarmkv;
  int port = 0;
  std::string model;
  int turns = 4;
  int32_t num_predict = 256;
  uint64_t seed = 1;
  bool server_answers = false;  // append the server's text instead of the stand-in answer
};

// Runs every script's loop at once and returns the mode's requests, inter-token gaps, wall time
// and errors (server-side figures — KV, RSS, /metrics — are the caller's). A failed request ends
// that agent's loop.
ModeResult RunAgentLoops(const std::string& name, const AgentLoopOptions& options,
                         const std::vector<const AgentScript*>& scripts);

}  // namespace swarmkv::cli
