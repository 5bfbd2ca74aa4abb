// Python's str semantics (and int(), float(), round() of a string or float) as jinja2 running on
// CPython gives them to chat templates: Unicode-aware case mapping, strip/split/replace/splitlines,
// title and case tests, and the sandboxed str.format. Internal to the jinja builtins.
//
// Invariant: pure functions of their inputs (PyFormat reads attributes through the Interp and is
// bounded by Interp::CheckSize).
// Thread-safety: stateless.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tokenizer/jinja_value.h"

namespace swarmkv::jinja {
class Interp;
}

namespace swarmkv::jinja::internal {

// Python's str.isspace() for one code point.
bool PySpace(uint32_t c);
std::string Upper(std::string_view s);
std::string Lower(std::string_view s);
// Python str.strip family: strips code points in `chars` (or white space when null).
std::string Strip(std::string_view s, const Value& chars, bool left, bool right);
// Python str.split / rsplit.
List Split(std::string_view s, const Value& sep, int64_t maxsplit, bool from_right);
// Python str.replace (count < 0: all).
std::string Replace(const std::string& s, const std::string& old, const std::string& repl, int64_t count);
// Python str.splitlines() (line breaks dropped).
std::vector<std::string> SplitLines(const std::string& s);
// Python str.capitalize.
std::string Capitalize(const std::string& s);
bool IsAlphaCp(uint32_t cp);
// Python str.title: upper-case a cased letter after an uncased one, lower-case the rest.
std::string PyTitle(const std::string& s);
// True when `s` is not empty and every code point satisfies `pred` (Python's isdigit() family).
bool AllCp(const std::string& s, bool (*pred)(uint32_t));
// Python islower / isupper: at least one cased character, all cased ones in that case.
bool CaseTest(const std::string& s, bool upper);
// Python int(str, 10): optional sign, digits with single underscores, surrounding white space.
bool ParsePyInt(const std::string& raw, int64_t* out);
// Python float(str), including inf/infinity/nan and underscores.
bool ParsePyFloat(const std::string& raw, double* out);
// Python round(x, n) for floats: round half to even on the exact binary value.
double PyRound(double x, int64_t n);
// The sandboxed str.format: {} {0} {name} with optional !r/!s and a simple format spec.
Result<std::string> PyFormat(Interp& in, const std::string& fmt, CallArgs& a);

}  // namespace swarmkv::jinja::internal
