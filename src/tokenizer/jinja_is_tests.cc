// Jinja builtins: the tests (`x is name(args)`), jinja2's full list.
#include "tokenizer/jinja_builtin_args.h"
#include "tokenizer/jinja_builtins.h"
#include "tokenizer/jinja_interp.h"
#include "tokenizer/jinja_pystr.h"

namespace swarmkv::jinja {

using namespace internal;  // NOLINT(google-build-using-namespace): this module's own helpers

namespace {

bool IsIterable(const Value& v) {
  return v.is_undefined() || v.is_string() || v.is_sequence_like() || v.is_dict() || v.is_iterator();
}

Result<bool> TestValue(Interp& in, const std::string& name, const Value& v, CallArgs& ca) {
  auto arg = [&]() -> Result<Value> {
    if (ca.args.empty()) return TypeError("test '" + name + "' needs an argument");
    return ca.args[0];
  };
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_dict();
  if (name == "iterable") return IsIterable(v);
  if (name == "sequence") return v.is_string() || v.is_sequence_like() || v.is_dict();
  if (name == "number") return v.is_number();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "callable") return v.is_callable();
  if (name == "escaped") return false;
  if (name == "lower" || name == "upper") {
    SKV_ASSIGN_OR_RETURN(std::string s, Str(v));
    return CaseTest(s, name == "upper");
  }
  if (name == "odd" || name == "even") {
    if (!v.is_int() && !v.is_bool()) return TypeError("odd/even need an integer");
    return (v.as_int() % 2 != 0) == (name == "odd");
  }
  if (name == "divisibleby") {
    SKV_ASSIGN_OR_RETURN(Value n, arg());
    if (!v.is_number() || !n.is_number()) return TypeError("divisibleby needs numbers");
    if (n.as_double() == 0) return InvalidArgumentError("integer division or modulo by zero");
    if (v.is_float() || n.is_float()) return std::fmod(v.as_double(), n.as_double()) == 0;
    return v.as_int() % n.as_int() == 0;
  }
  if (name == "eq" || name == "equalto" || name == "==") {
    SKV_ASSIGN_OR_RETURN(Value o, arg());
    return Equal(v, o);
  }
  if (name == "ne" || name == "!=") {
    SKV_ASSIGN_OR_RETURN(Value o, arg());
    return !Equal(v, o);
  }
  if (name == "lt" || name == "lessthan" || name == "<" || name == "le" || name == "<=" || name == "gt" ||
      name == "greaterthan" || name == ">" || name == "ge" || name == ">=") {
    SKV_ASSIGN_OR_RETURN(Value o, arg());
    SKV_ASSIGN_OR_RETURN(int c, Compare(v, o));
    if (name == "lt" || name == "lessthan" || name == "<") return c < 0;
    if (name == "le" || name == "<=") return c <= 0;
    if (name == "gt" || name == "greaterthan" || name == ">") return c > 0;
    return c >= 0;
  }
  if (name == "in") {
    SKV_ASSIGN_OR_RETURN(Value seq, arg());
    if (seq.is_string()) {
      if (!v.is_string()) return TypeError("'in <string>' requires string as left operand");
      return seq.str().find(v.str()) != std::string::npos;
    }
    if (seq.is_dict()) return seq.dict().Find(v) != nullptr;
    SKV_ASSIGN_OR_RETURN(List items, in.Iterate(seq));
    return std::any_of(items.begin(), items.end(), [&](const Value& x) { return Equal(x, v); });
  }
  if (name == "sameas") {
    SKV_ASSIGN_OR_RETURN(Value o, arg());
    if (v.is_none() || v.is_bool() || o.is_none() || o.is_bool()) return v.kind() == o.kind() && Equal(v, o);
    return Equal(v, o) && (v.is_number() || v.is_string());
  }
  if (name == "filter") {
    SKV_ASSIGN_OR_RETURN(std::string s, Str(v));
    return IsKnownFilter(s);
  }
  if (name == "test") {
    SKV_ASSIGN_OR_RETURN(std::string s, Str(v));
    return IsKnownTest(s);
  }
  return InvalidArgumentError("no test named '" + name + "'");
}

constexpr std::string_view kTests[] = {
    "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "escaped", "even", "false", "filter",
    "float", "ge", "gt", "greaterthan", "in", "integer", "iterable", "le", "lower", "lessthan", "lt", "mapping",
    "ne", "none", "number", "odd", "sameas", "sequence", "string", "test", "true", "undefined", "upper",
    "==", "!=", "<", "<=", ">", ">=",
};

}  // namespace

bool IsKnownTest(std::string_view name) { return In(kTests, name); }

Result<bool> ApplyTest(Interp& in, const std::string& name, const Value& operand, CallArgs& args) {
  SKV_RETURN_IF_ERROR(in.Step());
  return TestValue(in, name, operand, args);
}

}  // namespace swarmkv::jinja
