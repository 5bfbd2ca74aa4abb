// Jinja lexer: template source -> tokens (text data, tag delimiters, names, literals, operators),
// applying jinja2's whitespace control as transformers configures it: `-` on a tag strips white
// space on that side, `+` keeps it, trim_blocks drops the first newline after a block or comment
// tag, lstrip_blocks drops spaces and tabs between a line start and a block or comment tag.
// Like jinja2, newlines are normalised to "\n" and one trailing newline of the source is dropped.
//
// Invariant: every token carries the 1-based source line it starts on.
// Thread-safety: pure function.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace swarmkv::jinja {

enum class TokKind {
  kText,        // literal template data
  kVarBegin,    // {{
  kVarEnd,      // }}
  kBlockBegin,  // {%
  kBlockEnd,    // %}
  kName,
  kString,  // value: the unescaped string
  kInt,
  kFloat,
  kOp,  // value: the operator text
  kEnd,
};

struct Token {
  TokKind kind;
  std::string value;
  int line;
};

Result<std::vector<Token>> Lex(std::string_view source);

}  // namespace swarmkv::jinja
