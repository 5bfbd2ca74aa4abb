// Jinja AST: one node type for statements and expressions of the chat-template subset of Jinja2.
//
// Invariant: the tree is immutable after parsing, and its depth is bounded by the parser
// (JinjaLimits::max_expression_depth), so evaluating it recursively is bounded too.
// Thread-safety: immutable; shared by concurrent renders.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace swarmkv::jinja {

enum class NodeKind {
  // Statements.
  kBody,        // kids: statements in order
  kText,        // str: literal data
  kOutput,      // a: expression to print
  kIf,          // a: condition, body, orelse (an elif is a nested kIf in orelse)
  kFor,         // a: target (kName/kTuple), b: iterable, c: filter condition or null, body, orelse
  kSet,         // a: target (kName, kTuple or kAttr on a namespace), b: value
  kSetBlock,    // a: target, body; c: a kFilter chain applied to the body (operand null) or null
  kMacro,       // str: name, params + defaults, body
  kCallBlock,   // a: the call (kCall), params + defaults: the caller's, body: the caller's body
  kFilterBlock, // c: kFilter chain (innermost operand null), body
  kScope,       // body only: {% generation %} (and {% with %} without assignments)
  kBreak,
  kContinue,
  // Expressions.
  kConst,     // literal: constant (int/float/string/bool/none) in `lit_*`
  kName,      // str: variable name
  kTuple,     // kids
  kList,      // kids
  kDict,      // kids: key, value, key, value...
  kAttr,      // a: object, str: attribute name
  kItem,      // a: object, b: index
  kSlice,     // a: object, kids[0..2]: start, stop, step (each may be null)
  kCall,      // a: callee, kids: positional args, kwargs
  kFilter,    // a: operand (null inside filter blocks), str: filter name, kids, kwargs
  kTest,      // a: operand, str: test name, kids, kwargs, negate
  kBinary,    // str: + - * / // % ** ~, a, b
  kUnary,     // str: - or +, a
  kNot,       // a
  kAnd,       // a, b
  kOr,        // a, b
  kCompare,   // a: first operand, ops[i] applies to kids[i] (chained like Python)
  kCondExpr,  // a: condition, b: value if true, c: value if false (null: undefined)
};

enum class ConstKind { kNone, kBool, kInt, kFloat, kString };

struct Node;
using NodePtr = std::shared_ptr<const Node>;

struct Node {
  NodeKind kind;
  int line = 0;
  std::string str;
  NodePtr a, b, c;
  std::vector<NodePtr> kids;
  std::vector<std::pair<std::string, NodePtr>> kwargs;
  std::vector<std::string> ops;
  std::vector<NodePtr> body, orelse;
  std::vector<std::pair<std::string, NodePtr>> params;  // macro/caller parameters and defaults
  bool negate = false;
  bool recursive = false;
  ConstKind lit_kind = ConstKind::kNone;
  bool lit_bool = false;
  long long lit_int = 0;
  double lit_float = 0;
  std::string lit_str;
};

}  // namespace swarmkv::jinja
