// Jinja builtins: the filters, tests, str/list/dict methods and globals chat templates use, with
// Python jinja2's semantics as transformers configures it (tojson = json.dumps(ensure_ascii=False,
// no key sorting); raise_exception; strftime_now; the immutable sandbox refusing list/dict
// mutation; str.format through a sandboxed formatter).
//
// Invariant: no builtin performs I/O; every produced string or list passes Interp::CheckSize.
// Thread-safety: stateless functions (strftime_now reads the clock, or the pinned test time).
//
// Implemented by concept: jinja_filters.cc, jinja_is_tests.cc, jinja_methods.cc, jinja_globals.cc,
// over jinja_pystr.h (Python's str semantics) and jinja_builtin_args.h (argument binding).
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "tokenizer/jinja_value.h"

namespace swarmkv::jinja {

class Interp;

bool IsKnownFilter(std::string_view name);
bool IsKnownTest(std::string_view name);

Result<Value> ApplyFilter(Interp& in, const std::string& name, const Value& operand, CallArgs& args);
Result<bool> ApplyTest(Interp& in, const std::string& name, const Value& operand, CallArgs& args);

// A method of a str, list or dict value: nullopt-like false when `obj` has no such method.
bool HasMethod(const Value& obj, const std::string& name);
Result<Value> CallMethod(Interp& in, const Value& obj, const std::string& name, CallArgs& args);

// The global functions: raise_exception, strftime_now, range, namespace, dict.
void AddGlobals(std::unordered_map<std::string, Value>* globals);

// Pins strftime_now to a Unix time in seconds (tests); 0 = the real clock. Process-wide.
void PinJinjaTimeForTesting(int64_t unix_seconds);

}  // namespace swarmkv::jinja
