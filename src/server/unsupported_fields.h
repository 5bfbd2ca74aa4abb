// Request fields of the Ollama and OpenAI APIs that swarmkv does not implement, and what it does
// with each: a clear error naming the field (it would change the answer), or accepted and
// ignored (it cannot change the answer here: hardware placement, server-side storage), or a log
// warning for an option Ollama does not know either (Ollama: "invalid option provided").
// docs/api.md "Known differences" lists them with the reason.
//
// Fields owned by other parts (tools, format, response_format, logprobs, n) are checked in
// api_request.cc, not here.
//
// Thread-safety: stateless (the warning log is thread-safe).
#pragma once

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "server/api_request.h"

namespace swarmkv {

// OK, or InvalidArgument (400) / Unimplemented (501) naming the field.
Status CheckUnsupportedFields(ApiKind kind, const nlohmann::json& body, const std::string& model_name);

}  // namespace swarmkv
