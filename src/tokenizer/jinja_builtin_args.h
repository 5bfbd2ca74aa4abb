// Jinja builtins, internal: Python-style argument binding (positional, then keyword, with defaults)
// and the small helpers every builtin file shares. Internal to tokenizer/jinja_*.cc.
//
// Invariant: Args::Done rejects extra positionals and keywords no Get asked for, as Python does.
// Thread-safety: an Args lives for one call on one thread.
#pragma once

#include <algorithm>
#include <iterator>
#include <string>
#include <string_view>
#include <unordered_set>

#include "base/status.h"
#include "tokenizer/jinja_value.h"

namespace swarmkv::jinja::internal {

inline Status TypeError(const std::string& m) { return InvalidArgumentError(m); }

class Args {
 public:
  Args(std::string fn, CallArgs& a) : fn_(std::move(fn)), a_(a) {}
  // The value of parameter `pos`/`name`, or `def` when not given.
  Value Get(size_t pos, std::string_view name, Value def = Value()) {
    used_.insert(std::string(name));
    if (pos < a_.args.size()) return a_.args[pos];
    for (const auto& [k, v] : a_.kwargs) {
      if (k == name) return v;
    }
    return def;
  }
  bool Has(size_t pos, std::string_view name) const {
    if (pos < a_.args.size()) return true;
    for (const auto& kv : a_.kwargs) {
      if (kv.first == name) return true;
    }
    return false;
  }
  // Errors for arguments beyond `max_pos` positionals or unknown keywords.
  Status Done(size_t max_pos) const {
    if (a_.args.size() > max_pos) {
      return TypeError(fn_ + "() takes at most " + std::to_string(max_pos) + " positional argument(s) (" +
                       std::to_string(a_.args.size()) + " given)");
    }
    for (const auto& kv : a_.kwargs) {
      if (!used_.count(kv.first)) return TypeError(fn_ + "() got an unexpected keyword argument '" + kv.first + "'");
    }
    return Status::OK();
  }

 private:
  std::string fn_;
  CallArgs& a_;
  std::unordered_set<std::string> used_;
};

inline Result<std::string> Str(const Value& v) { return ToStr(v); }

inline Status RequireStr(const Value& v, const std::string& what) {
  if (!v.is_string()) return TypeError(what + " must be str, not " + v.TypeName());
  return Status::OK();
}

template <size_t N>
bool In(const std::string_view (&arr)[N], std::string_view s) {
  return std::find(std::begin(arr), std::end(arr), s) != std::end(arr);
}

}  // namespace swarmkv::jinja::internal
