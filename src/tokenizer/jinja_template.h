// JinjaTemplate: a parsed Jinja2 template (the subset chat templates use) and its sandboxed
// renderer. Semantics follow Python jinja2 3.x as Hugging Face transformers configures it:
// ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols]),
// the {% generation %} block, globals raise_exception(msg) and strftime_now(fmt), and
// transformers' tojson (json.dumps with ensure_ascii=False, no key sorting). Undefined values
// behave as jinja2's default Undefined (printing gives "", most other uses are errors).
//
// Invariant: rendering has no side effects outside its output (no I/O, the context is copied
// into template values, mutating list/dict methods are refused as the immutable sandbox does)
// and is bounded by JinjaLimits (loop iterations, call depth, output size).
//
// Thread-safety: immutable after Parse; Render is const and safe to call concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "tokenizer/jinja_limits.h"

namespace swarmkv {

namespace jinja {
struct Node;
}

class JinjaTemplate {
 public:
  // InvalidArgument naming the line and what was expected on a syntax error.
  static Result<std::shared_ptr<const JinjaTemplate>> Parse(std::string_view source);

  // Renders with `context` (a JSON object: its keys become template variables). Errors:
  // InvalidArgument "chat template line N: ..." when the template raises or fails on this input;
  // ResourceExhausted when a limit is hit.
  Result<std::string> Render(const nlohmann::ordered_json& context, const JinjaLimits& limits = {}) const;

  ~JinjaTemplate();

 private:
  JinjaTemplate() = default;
  std::shared_ptr<const jinja::Node> root_;
};

}  // namespace swarmkv
