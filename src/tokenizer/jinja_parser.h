// Jinja parser: tokens -> AST (jinja_ast.h) for the chat-template subset: if/elif/else, for
// (with else, a filter condition, loop controls), set (plain, tuple, namespace attribute, block),
// macro, call blocks, filter blocks, generation, raw; expressions with jinja2's precedence.
//
// Invariant: a syntax error, an unknown tag, filter or test (jinja2 rejects those when it compiles)
// or nesting deeper than the limit is an InvalidArgument naming the line.
// Thread-safety: pure function.
#pragma once

#include <string_view>

#include "base/status.h"
#include "tokenizer/jinja_ast.h"
#include "tokenizer/jinja_limits.h"

namespace swarmkv::jinja {

Result<NodePtr> ParseTemplate(std::string_view source, const JinjaLimits& limits = {});

}  // namespace swarmkv::jinja
