// The grammar a request's output must follow, from its structured-output and tool fields:
// Ollama format "json" / OpenAI json_object -> any JSON object; a JSON schema (format,
// response_format json_schema) -> that schema; tool_choice required (or named, or Ollama/OpenAI
// tools with a structured format absent and tool_choice required) -> one call
// {"name": <a tool's name>, "arguments": <that tool's parameters>} — what ParseModelOutput reads
// back as a call, so even a weak model returns a call that parses and validates.
//
// Invariant: a schema we cannot enforce is an InvalidArgument error naming the keyword (and the
// field it came from), never a silently unconstrained output.
//
// Thread-safety: stateless.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "server/api_request.h"
#include "structured/json_grammar.h"

namespace swarmkv {

struct OutputGrammar {
  std::string key;                       // names the grammar (the compiled-mask cache key)
  std::shared_ptr<const JsonGrammar> grammar;
};

// nullopt: the output is unconstrained.
Result<std::optional<OutputGrammar>> OutputGrammarFor(const ApiRequest& request);

}  // namespace swarmkv
