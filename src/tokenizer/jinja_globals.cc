// Jinja builtins: the global functions chat templates call — raise_exception, strftime_now,
// range, namespace, dict.
#include <atomic>
#include <ctime>

#include "tokenizer/jinja_builtin_args.h"
#include "tokenizer/jinja_builtins.h"
#include "tokenizer/jinja_interp.h"

namespace swarmkv::jinja {

using namespace internal;  // NOLINT(google-build-using-namespace): this module's own helpers

namespace {

std::atomic<int64_t> g_pinned_time{0};

}  // namespace

void PinJinjaTimeForTesting(int64_t unix_seconds) { g_pinned_time.store(unix_seconds); }

void AddGlobals(std::unordered_map<std::string, Value>* g) {
  (*g)["raise_exception"] = Value::MakeCallable("raise_exception", [](Interp&, CallArgs& a) -> Result<Value> {
    std::string msg = "the template raised an error";
    if (!a.args.empty()) {
      Result<std::string> s = ToStr(a.args[0]);
      if (s.ok()) msg = *s;
    }
    return InvalidArgumentError(msg);
  });
  (*g)["strftime_now"] = Value::MakeCallable("strftime_now", [](Interp&, CallArgs& ca) -> Result<Value> {
    Args a("strftime_now", ca);
    Value fmt = a.Get(0, "format");
    SKV_RETURN_IF_ERROR(a.Done(1));
    SKV_RETURN_IF_ERROR(RequireStr(fmt, "strftime_now format"));
    if (fmt.str().size() > 256) return InvalidArgumentError("strftime_now format too long");
    int64_t pinned = g_pinned_time.load();
    std::time_t t = pinned != 0 ? static_cast<std::time_t>(pinned) : std::time(nullptr);
    std::tm tm{};
    if (pinned != 0) gmtime_r(&t, &tm);
    else localtime_r(&t, &tm);
    if (fmt.str().empty()) return Value::String("");
    std::string buf(1024, '\0');
    size_t n = std::strftime(buf.data(), buf.size(), fmt.str().c_str(), &tm);
    buf.resize(n);
    return Value::String(std::move(buf));
  });
  (*g)["range"] = Value::MakeCallable("range", [](Interp& in, CallArgs& ca) -> Result<Value> {
    if (ca.args.empty() || ca.args.size() > 3 || !ca.kwargs.empty()) return TypeError("range expected 1 to 3 integer arguments");
    for (const Value& v : ca.args) {
      if (!v.is_int() && !v.is_bool()) return TypeError("'" + v.TypeName() + "' object cannot be interpreted as an integer");
    }
    int64_t start = 0, stop, step = 1;
    if (ca.args.size() == 1) {
      stop = ca.args[0].as_int();
    } else {
      start = ca.args[0].as_int();
      stop = ca.args[1].as_int();
      if (ca.args.size() == 3) step = ca.args[2].as_int();
    }
    if (step == 0) return InvalidArgumentError("range() arg 3 must not be zero");
    List out;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
      out.push_back(Value::Int(i));
      if (out.size() > 100000) return ResourceExhaustedError("range too big");
      SKV_RETURN_IF_ERROR(in.Step());
    }
    return Value::MakeList(std::move(out));
  });
  (*g)["namespace"] = Value::MakeCallable("namespace", [](Interp& in, CallArgs& ca) -> Result<Value> {
    Dict d;
    for (const Value& a : ca.args) {
      if (!a.is_dict()) return TypeError("namespace() positional argument must be a mapping");
      for (const auto& [k, v] : a.dict().items) d.Set(k, v);
    }
    for (const auto& [k, v] : ca.kwargs) d.Set(Value::String(k), v);
    Value ns = Value::MakeNamespace(std::move(d));
    in.RegisterNamespace(ns);
    return ns;
  });
  (*g)["dict"] = Value::MakeCallable("dict", [](Interp&, CallArgs& ca) -> Result<Value> {
    Dict d;
    for (const Value& a : ca.args) {
      if (!a.is_dict()) return TypeError("dict() positional argument must be a mapping");
      for (const auto& [k, v] : a.dict().items) d.Set(k, v);
    }
    for (const auto& [k, v] : ca.kwargs) d.Set(Value::String(k), v);
    return Value::MakeDict(std::move(d));
  });
}

}  // namespace swarmkv::jinja
