// How a tools request is rendered for a model whose chat template cannot express tools (a GGUF
// without a Jinja template, or one that never mentions `tools`): the server writes the tools
// into the system message as a generic preamble, renders earlier calls as the JSON the preamble
// asks for, and turns tool results into user turns. The model is told to answer a call with only
// {"name": ..., "arguments": {...}} — the bare-JSON form ParseModelOutput reads, and exactly what
// constrained decoding writes for tool_choice required/named.
//
// Thread-safety: stateless.
#pragma once

#include <vector>

#include "server/backend.h"

namespace swarmkv {

std::vector<ApiChatMessage> WithGenericToolPrompt(const std::vector<ApiChatMessage>& messages,
                                                  const nlohmann::ordered_json& tools);

}  // namespace swarmkv
