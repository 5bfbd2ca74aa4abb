// Jinja evaluator: executes a parsed template (jinja_ast.h) over template values
// (jinja_value.h) with jinja2's scoping (a for-loop iteration, a macro call and a call/generation
// block each get their own frame; `if` does not), loop variables and loop controls, macros with
// caller(), attribute and item lookup as jinja2's sandbox does it (dict methods before keys,
// missing names -> Undefined), Python operators, and the sandbox limits of JinjaLimits.
//
// Invariant: every error comes back as a Status naming the template line ("chat template line N:
// ..."); a limit hit is ResourceExhausted, anything else InvalidArgument.
// Thread-safety: one Interp per render; not shared.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "tokenizer/jinja_ast.h"
#include "tokenizer/jinja_limits.h"
#include "tokenizer/jinja_value.h"

namespace swarmkv::jinja {

struct Frame {
  std::unordered_map<std::string, Value> vars;
  std::shared_ptr<Frame> parent;
};

class Interp {
 public:
  // `context`: the template variables (a dict value).
  Interp(const JinjaLimits& limits, const Value& context);

  // Breaks the reference cycles a render can build (a macro captures the frame that holds it; a
  // namespace can hold itself) so every value is freed.
  ~Interp();
  Interp(const Interp&) = delete;
  Interp& operator=(const Interp&) = delete;

  Result<std::string> Render(const Node& root);
  // Registers a namespace() so the destructor can break cycles through it.
  void RegisterNamespace(const Value& ns) { namespaces_.push_back(ns); }

  // Calls a callable value (macro, builtin, bound method) with evaluated arguments.
  Result<Value> Call(const Value& callee, CallArgs& args);
  // jinja2's environment getattr / getitem.
  Result<Value> GetAttr(const Value& obj, const std::string& name);
  Result<Value> GetItem(const Value& obj, const Value& key);
  // Iterates a value as a for loop does (dict -> keys, str -> characters, Undefined -> nothing).
  Result<List> Iterate(const Value& v);
  // Applies a filter / test by name (for map, select, selectattr and filter blocks).
  Result<Value> Filter(const std::string& name, const Value& operand, CallArgs& args);
  Result<bool> Test(const std::string& name, const Value& operand, CallArgs& args);
  // Checks a produced string or collection against the size limit.
  Status CheckSize(size_t bytes_or_items) const;
  Status Step();
  // Charges work proportional to `bytes` scanned (string indexing, slicing, iteration).
  Status Charge(size_t bytes);

  const JinjaLimits& limits() const { return limits_; }

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  Status Exec(const std::vector<NodePtr>& body, std::string* out);
  Status ExecNode(const Node& n, std::string* out);
  Status ExecNodeImpl(const Node& n, std::string* out);
  Status ExecFor(const Node& n, std::string* out);
  Status Assign(const Node& target, const Value& v);
  Result<Value> Eval(const Node& n);
  Result<Value> EvalImpl(const Node& n);
  Result<Value> EvalCall(const Node& n);
  Result<Value> EvalCompare(const Node& n);
  Result<Value> Binary(const std::string& op, const Value& a, const Value& b);
  Result<CallArgs> EvalArgs(const Node& n);
  // Applies the filter chain ending at `last` (a set or filter block's) to *v, innermost first.
  Status ApplyFilterChain(const Node* last, int line, Value* v);
  Value MakeMacro(const Node& n, std::shared_ptr<Frame> scope);
  Value Lookup(const std::string& name) const;
  Status AtLine(const Status& s, int line) const;

  const JinjaLimits& limits_;
  std::shared_ptr<Frame> globals_;
  std::shared_ptr<Frame> frame_;
  std::vector<std::shared_ptr<Frame>> captured_frames_;  // frames a macro or caller() captured
  std::vector<Value> namespaces_;
  Flow flow_ = Flow::kNormal;
  int64_t loop_iterations_ = 0;
  int64_t steps_ = 0;
  int call_depth_ = 0;
  int eval_depth_ = 0;
};

}  // namespace swarmkv::jinja
