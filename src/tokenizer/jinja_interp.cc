#include "tokenizer/jinja_interp.h"

#include <cmath>
#include <limits>

#include "tokenizer/jinja_builtins.h"

namespace swarmkv::jinja {
namespace {

constexpr std::string_view kLinePrefix = "chat template line ";

Status TypeError(const std::string& m) { return InvalidArgumentError(m); }

Result<Value> UndefinedError(const Value& u) {
  const std::string& hint = u.undefined_hint();
  return InvalidArgumentError(hint.empty() ? std::string("value is undefined") : hint);
}

std::string NoAttrHint(const Value& obj, const std::string& name) {
  return "'" + obj.TypeName() + " object' has no attribute '" + name + "'";
}

bool CheckedAdd(int64_t a, int64_t b, int64_t* r) { return !__builtin_add_overflow(a, b, r); }
bool CheckedSub(int64_t a, int64_t b, int64_t* r) { return !__builtin_sub_overflow(a, b, r); }
bool CheckedMul(int64_t a, int64_t b, int64_t* r) { return !__builtin_mul_overflow(a, b, r); }

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t PyMod(int64_t a, int64_t b) {
  int64_t m = a % b;
  if (m != 0 && ((m < 0) != (b < 0))) m += b;
  return m;
}

// Python slice indices for a sequence of `len` items.
Result<std::vector<size_t>> SliceIndices(const Value& start, const Value& stop, const Value& step, size_t len) {
  int64_t st = 1;
  if (!step.is_none() && !step.is_undefined()) {
    if (!step.is_int() && !step.is_bool()) return TypeError("slice indices must be integers or None");
    st = step.as_int();
    if (st == 0) return InvalidArgumentError("slice step cannot be zero");
  }
  const int64_t n = static_cast<int64_t>(len);
  auto norm = [&](const Value& v, int64_t def, bool is_start) -> Result<int64_t> {
    if (v.is_none() || v.is_undefined()) return def;
    if (!v.is_int() && !v.is_bool()) return TypeError("slice indices must be integers or None");
    int64_t i = v.as_int();
    if (i < 0) i += n;
    if (st > 0) return std::clamp<int64_t>(i, 0, n);
    (void)is_start;
    return std::clamp<int64_t>(i, -1, n - 1);
  };
  SKV_ASSIGN_OR_RETURN(int64_t b, norm(start, st > 0 ? 0 : n - 1, true));
  SKV_ASSIGN_OR_RETURN(int64_t e, norm(stop, st > 0 ? n : -1, false));
  std::vector<size_t> idx;
  if (st > 0) {
    for (int64_t i = b; i < e; i += st) idx.push_back(static_cast<size_t>(i));
  } else {
    for (int64_t i = b; i > e; i += st) idx.push_back(static_cast<size_t>(i));
  }
  return idx;
}

}  // namespace

Interp::Interp(const JinjaLimits& limits, const Value& context) : limits_(limits) {
  globals_ = std::make_shared<Frame>();
  AddGlobals(&globals_->vars);
  auto ctx = std::make_shared<Frame>();
  ctx->parent = globals_;
  if (context.is_dict()) {
    for (const auto& [k, v] : context.dict().items) {
      if (k.is_string()) ctx->vars[k.str()] = v;
    }
  }
  frame_ = std::make_shared<Frame>();
  frame_->parent = ctx;
}

Interp::~Interp() {
  for (const auto& f : captured_frames_) f->vars.clear();
  for (const Value& ns : namespaces_) ns.mutable_namespace().items.clear();
}

Status Interp::ApplyFilterChain(const Node* last, int line, Value* v) {
  std::vector<const Node*> chain;  // outermost first; the innermost filter's operand is null
  for (const Node* f = last; f != nullptr; f = f->a.get()) chain.push_back(f);
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    SKV_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(**it));
    Result<Value> r = Filter((*it)->str, *v, args);
    if (!r.ok()) return AtLine(r.status(), line);
    *v = *std::move(r);
  }
  return Status::OK();
}

Status Interp::AtLine(const Status& s, int line) const {
  if (s.ok() || s.message().starts_with(kLinePrefix)) return s;
  return Status(s.code(), std::string(kLinePrefix) + std::to_string(line) + ": " + s.message());
}

Status Interp::CheckSize(size_t n) const {
  if (static_cast<int64_t>(n) > limits_.max_output_bytes) {
    return ResourceExhaustedError("chat template output or value larger than the limit of " +
                                  std::to_string(limits_.max_output_bytes));
  }
  return Status::OK();
}

Status Interp::Step() {
  if (++steps_ > limits_.max_steps) {
    return ResourceExhaustedError("chat template evaluation exceeded " + std::to_string(limits_.max_steps) + " steps");
  }
  return Status::OK();
}

Status Interp::Charge(size_t bytes) {
  steps_ += static_cast<int64_t>(bytes / 16);
  return Step();
}

Result<std::string> Interp::Render(const Node& root) {
  std::string out;
  SKV_RETURN_IF_ERROR(Exec(root.kids, &out));
  return out;
}

Value Interp::Lookup(const std::string& name) const {
  for (const Frame* f = frame_.get(); f != nullptr; f = f->parent.get()) {
    auto it = f->vars.find(name);
    if (it != f->vars.end()) return it->second;
  }
  return Value::Undefined("'" + name + "' is undefined");
}

Status Interp::Exec(const std::vector<NodePtr>& body, std::string* out) {
  for (const NodePtr& n : body) {
    SKV_RETURN_IF_ERROR(ExecNode(*n, out));
    if (flow_ != Flow::kNormal) return Status::OK();
  }
  return Status::OK();
}

Status Interp::ExecNode(const Node& n, std::string* out) {
  SKV_RETURN_IF_ERROR(AtLine(Step(), n.line));
  // One budget for statement and expression nesting (macro calls recurse through both), so the
  // C++ stack stays bounded.
  if (++eval_depth_ > limits_.max_expression_depth * 4) {
    --eval_depth_;
    return AtLine(ResourceExhaustedError("chat template evaluation nested too deeply"), n.line);
  }
  Status st = ExecNodeImpl(n, out);
  --eval_depth_;
  return st;
}

Status Interp::ExecNodeImpl(const Node& n, std::string* out) {
  switch (n.kind) {
    case NodeKind::kText:
      *out += n.str;
      return AtLine(CheckSize(out->size()), n.line);
    case NodeKind::kOutput: {
      SKV_ASSIGN_OR_RETURN(Value v, Eval(*n.a));
      Result<std::string> s = ToStr(v);
      if (!s.ok()) return AtLine(s.status(), n.line);
      *out += *s;
      return AtLine(CheckSize(out->size()), n.line);
    }
    case NodeKind::kIf: {
      SKV_ASSIGN_OR_RETURN(Value c, Eval(*n.a));
      return Exec(c.Truthy() ? n.body : n.orelse, out);
    }
    case NodeKind::kFor: return ExecFor(n, out);
    case NodeKind::kSet: {
      SKV_ASSIGN_OR_RETURN(Value v, Eval(*n.b));
      return AtLine(Assign(*n.a, v), n.line);
    }
    case NodeKind::kSetBlock: {
      std::string body;
      SKV_RETURN_IF_ERROR(Exec(n.body, &body));
      Value v = Value::String(std::move(body));
      if (n.c) SKV_RETURN_IF_ERROR(ApplyFilterChain(n.c.get(), n.line, &v));
      return AtLine(Assign(*n.a, v), n.line);
    }
    case NodeKind::kMacro: {
      frame_->vars[n.str] = MakeMacro(n, frame_);
      return Status::OK();
    }
    case NodeKind::kCallBlock: {
      // caller(): the block body as a macro defined here.
      Value caller = MakeMacro(n, frame_);
      const Node& call = *n.a;
      SKV_ASSIGN_OR_RETURN(Value callee, Eval(*call.a));
      SKV_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(call));
      args.kwargs.emplace_back("caller", caller);
      Result<Value> r = Call(callee, args);
      if (!r.ok()) return AtLine(r.status(), n.line);
      Result<std::string> s = ToStr(*r);
      if (!s.ok()) return AtLine(s.status(), n.line);
      *out += *s;
      return AtLine(CheckSize(out->size()), n.line);
    }
    case NodeKind::kFilterBlock: {
      std::string body;
      auto saved = frame_;
      frame_ = std::make_shared<Frame>();
      frame_->parent = saved;
      Status st = Exec(n.body, &body);
      frame_ = saved;
      SKV_RETURN_IF_ERROR(st);
      Value v = Value::String(std::move(body));
      SKV_RETURN_IF_ERROR(ApplyFilterChain(n.c.get(), n.line, &v));
      Result<std::string> s = ToStr(v);
      if (!s.ok()) return AtLine(s.status(), n.line);
      *out += *s;
      return AtLine(CheckSize(out->size()), n.line);
    }
    case NodeKind::kScope: {
      auto saved = frame_;
      frame_ = std::make_shared<Frame>();
      frame_->parent = saved;
      Status st = Exec(n.body, out);
      frame_ = saved;
      return st;
    }
    case NodeKind::kBreak: flow_ = Flow::kBreak; return Status::OK();
    case NodeKind::kContinue: flow_ = Flow::kContinue; return Status::OK();
    default: return AtLine(InternalError("not a statement"), n.line);
  }
}

Status Interp::Assign(const Node& target, const Value& v) {
  switch (target.kind) {
    case NodeKind::kName:
      frame_->vars[target.str] = v;
      return Status::OK();
    case NodeKind::kTuple: {
      SKV_ASSIGN_OR_RETURN(List items, Iterate(v));
      if (items.size() != target.kids.size()) {
        return InvalidArgumentError(items.size() > target.kids.size()
                                        ? "too many values to unpack (expected " + std::to_string(target.kids.size()) + ")"
                                        : "not enough values to unpack (expected " +
                                              std::to_string(target.kids.size()) + ", got " +
                                              std::to_string(items.size()) + ")");
      }
      for (size_t i = 0; i < items.size(); ++i) SKV_RETURN_IF_ERROR(Assign(*target.kids[i], items[i]));
      return Status::OK();
    }
    case NodeKind::kAttr: {
      Value ns = Lookup(target.a->str);
      if (!ns.is_namespace()) return InvalidArgumentError("cannot assign attribute on non-namespace object");
      ns.mutable_namespace().Set(Value::String(target.str), v);
      return Status::OK();
    }
    default: return InternalError("bad assignment target");
  }
}

Result<List> Interp::Iterate(const Value& v) {
  switch (v.kind()) {
    case ValueKind::kUndefined: return List{};
    case ValueKind::kList:
    case ValueKind::kTuple: return v.list();
    case ValueKind::kDict: {
      List keys;
      keys.reserve(v.dict().items.size());
      for (const auto& kv : v.dict().items) keys.push_back(kv.first);
      return keys;
    }
    case ValueKind::kString: {
      SKV_RETURN_IF_ERROR(Charge(v.str().size()));
      List chars;
      for (std::string& c : Utf8Chars(v.str())) chars.push_back(Value::String(std::move(c)));
      return chars;
    }
    case ValueKind::kIterator: {
      Iterator& it = v.iterator();
      if (it.consumed) return List{};
      it.consumed = true;
      return std::move(it.items);
    }
    default: return TypeError("'" + v.TypeName() + "' object is not iterable");
  }
}

Status Interp::ExecFor(const Node& n, std::string* out) {
  SKV_ASSIGN_OR_RETURN(Value seq, Eval(*n.b));
  Result<List> items_r = Iterate(seq);
  if (!items_r.ok()) return AtLine(items_r.status(), n.line);
  List items = *std::move(items_r);
  auto saved = frame_;
  if (n.c) {  // {% for x in xs if cond %}: filter first (loop.length counts what remains)
    List kept;
    for (const Value& item : items) {
      frame_ = std::make_shared<Frame>();
      frame_->parent = saved;
      Status st = Assign(*n.a, item);
      Result<Value> c = st.ok() ? Eval(*n.c) : Result<Value>(st);
      frame_ = saved;
      if (!c.ok()) return AtLine(c.status(), n.line);
      if (c->Truthy()) kept.push_back(item);
    }
    items = std::move(kept);
  }
  const int64_t len = static_cast<int64_t>(items.size());
  Value prev_changed = Value::Undefined();
  for (int64_t i = 0; i < len; ++i) {
    if (++loop_iterations_ > limits_.max_loop_iterations) {
      return AtLine(ResourceExhaustedError("chat template loops exceeded " +
                                           std::to_string(limits_.max_loop_iterations) + " iterations"),
                    n.line);
    }
    frame_ = std::make_shared<Frame>();
    frame_->parent = saved;
    Dict loop;
    loop.items.reserve(12);
    loop.items.emplace_back(Value::String("index"), Value::Int(i + 1));
    loop.items.emplace_back(Value::String("index0"), Value::Int(i));
    loop.items.emplace_back(Value::String("revindex"), Value::Int(len - i));
    loop.items.emplace_back(Value::String("revindex0"), Value::Int(len - i - 1));
    loop.items.emplace_back(Value::String("first"), Value::Bool(i == 0));
    loop.items.emplace_back(Value::String("last"), Value::Bool(i == len - 1));
    loop.items.emplace_back(Value::String("length"), Value::Int(len));
    loop.items.emplace_back(Value::String("depth"), Value::Int(1));
    loop.items.emplace_back(Value::String("depth0"), Value::Int(0));
    loop.items.emplace_back(Value::String("previtem"),
                            i > 0 ? items[i - 1] : Value::Undefined("there is no previous item"));
    loop.items.emplace_back(Value::String("nextitem"),
                            i + 1 < len ? items[i + 1] : Value::Undefined("there is no next item"));
    loop.items.emplace_back(Value::String("cycle"),
                            Value::MakeCallable("loop.cycle", [i](Interp&, CallArgs& a) -> Result<Value> {
                              if (a.args.empty()) return TypeError("no items for cycling given");
                              return a.args[static_cast<size_t>(i) % a.args.size()];
                            }));
    frame_->vars["loop"] = Value::MakeDict(std::move(loop));
    Status st = Assign(*n.a, items[i]);
    if (st.ok()) st = Exec(n.body, out);
    frame_ = saved;
    SKV_RETURN_IF_ERROR(AtLine(st, n.line));
    if (flow_ == Flow::kBreak) {
      flow_ = Flow::kNormal;
      break;
    }
    flow_ = Flow::kNormal;
  }
  if (len == 0 && !n.orelse.empty()) {
    frame_ = std::make_shared<Frame>();
    frame_->parent = saved;
    Status st = Exec(n.orelse, out);
    frame_ = saved;
    return st;
  }
  return Status::OK();
}

Value Interp::MakeMacro(const Node& n, std::shared_ptr<Frame> scope) {
  const Node* node = &n;
  if (n.kind == NodeKind::kMacro) captured_frames_.push_back(scope);  // the frame will hold the macro: a cycle
  return Value::MakeCallable(n.kind == NodeKind::kMacro ? n.str : "caller",
                             [node, scope](Interp& in, CallArgs& a) -> Result<Value> {
    if (++in.call_depth_ > in.limits_.max_call_depth) {
      --in.call_depth_;
      return ResourceExhaustedError("chat template macro calls nested deeper than " +
                                    std::to_string(in.limits_.max_call_depth));
    }
    auto saved = in.frame_;
    Flow saved_flow = in.flow_;
    in.frame_ = std::make_shared<Frame>();
    in.frame_->parent = scope;
    Status st;
    List varargs;
    Dict kwargs;
    for (size_t i = 0; i < a.args.size(); ++i) {
      if (i < node->params.size()) in.frame_->vars[node->params[i].first] = a.args[i];
      else varargs.push_back(a.args[i]);
    }
    for (auto& [k, v] : a.kwargs) {
      bool found = k == "caller";
      for (size_t p = 0; p < node->params.size() && !found; ++p) {
        if (node->params[p].first == k) {
          if (p < a.args.size()) {
            st = TypeError("macro '" + node->str + "' got multiple values for argument '" + k + "'");
          }
          found = true;
        }
      }
      if (k == "caller" || found) in.frame_->vars[k] = v;
      else kwargs.Set(Value::String(k), v);
    }
    for (size_t p = a.args.size(); p < node->params.size() && st.ok(); ++p) {
      const auto& [name, def] = node->params[p];
      if (in.frame_->vars.count(name)) continue;
      if (def) {
        Result<Value> d = in.Eval(*def);
        if (!d.ok()) st = d.status();
        else in.frame_->vars[name] = *d;
      } else {
        in.frame_->vars[name] = Value::Undefined("parameter '" + name + "' was not provided");
      }
    }
    in.frame_->vars["varargs"] = Value::MakeTuple(std::move(varargs));
    in.frame_->vars["kwargs"] = Value::MakeDict(std::move(kwargs));
    std::string out;
    if (st.ok()) st = in.Exec(node->body, &out);
    in.frame_ = saved;
    in.flow_ = saved_flow;
    --in.call_depth_;
    SKV_RETURN_IF_ERROR(st);
    return Value::String(std::move(out));
  });
}

Result<Value> Interp::Call(const Value& callee, CallArgs& args) {
  if (callee.is_undefined()) return UndefinedError(callee);
  if (!callee.is_callable()) return TypeError("'" + callee.TypeName() + "' object is not callable");
  return callee.callable().fn(*this, args);
}

Result<Value> Interp::GetAttr(const Value& obj, const std::string& name) {
  switch (obj.kind()) {
    case ValueKind::kUndefined: return UndefinedError(obj);
    case ValueKind::kDict: {
      if (HasMethod(obj, name)) {
        return Value::MakeCallable(name, [obj, name](Interp& in, CallArgs& a) { return CallMethod(in, obj, name, a); });
      }
      if (const Value* v = obj.dict().Find(std::string_view(name))) return *v;
      return Value::Undefined(NoAttrHint(obj, name));
    }
    case ValueKind::kNamespace: {
      if (const Value* v = obj.dict().Find(std::string_view(name))) return *v;
      return Value::Undefined(NoAttrHint(obj, name));
    }
    default:
      if (HasMethod(obj, name)) {
        return Value::MakeCallable(name, [obj, name](Interp& in, CallArgs& a) { return CallMethod(in, obj, name, a); });
      }
      return Value::Undefined(NoAttrHint(obj, name));
  }
}

Result<Value> Interp::GetItem(const Value& obj, const Value& key) {
  switch (obj.kind()) {
    case ValueKind::kUndefined: return UndefinedError(obj);
    case ValueKind::kDict:
      if (const Value* v = obj.dict().Find(key)) return *v;
      break;
    case ValueKind::kList:
    case ValueKind::kTuple:
    case ValueKind::kString:
      if (key.is_int() || key.is_bool()) {
        int64_t i = key.as_int();
        if (obj.is_string()) {
          SKV_RETURN_IF_ERROR(Charge(obj.str().size()));
          // Walks to code point i without materialising the others (no allocation per char).
          const std::string& str = obj.str();
          if (i < 0) i += static_cast<int64_t>(Utf8Length(str));
          size_t at = 0;
          for (int64_t k = 0; k < i && at < str.size(); ++k) DecodeUtf8(str, &at);
          if (i >= 0 && at < str.size()) {
            size_t start = at;
            DecodeUtf8(str, &at);
            return Value::String(str.substr(start, at - start));
          }
        } else {
          int64_t n = static_cast<int64_t>(obj.list().size());
          if (i < 0) i += n;
          if (i >= 0 && i < n) return obj.list()[static_cast<size_t>(i)];
        }
        return Value::Undefined("'" + obj.TypeName() + " object' has no element " + std::to_string(key.as_int()));
      }
      break;
    default: break;
  }
  if (key.is_string()) return GetAttr(obj, key.str());
  Result<std::string> r = Repr(key);
  return Value::Undefined("'" + obj.TypeName() + " object' has no element " + (r.ok() ? *r : std::string("?")));
}

Result<Value> Interp::Filter(const std::string& name, const Value& operand, CallArgs& args) {
  return ApplyFilter(*this, name, operand, args);
}

Result<bool> Interp::Test(const std::string& name, const Value& operand, CallArgs& args) {
  return ApplyTest(*this, name, operand, args);
}

Result<CallArgs> Interp::EvalArgs(const Node& n) {
  CallArgs args;
  args.line = n.line;
  for (const NodePtr& k : n.kids) {
    SKV_ASSIGN_OR_RETURN(Value v, Eval(*k));
    args.args.push_back(std::move(v));
  }
  for (const auto& [name, k] : n.kwargs) {
    SKV_ASSIGN_OR_RETURN(Value v, Eval(*k));
    args.kwargs.emplace_back(name, std::move(v));
  }
  return args;
}

Result<Value> Interp::Eval(const Node& n) {
  if (++eval_depth_ > limits_.max_expression_depth * 4) {
    --eval_depth_;
    return AtLine(ResourceExhaustedError("chat template evaluation nested too deeply"), n.line);
  }
  Status st = Step();
  Result<Value> r = st.ok() ? EvalImpl(n) : Result<Value>(st);
  --eval_depth_;
  if (!r.ok()) return AtLine(r.status(), n.line);
  return r;
}

Result<Value> Interp::EvalCall(const Node& n) {
  const Node& callee = *n.a;
  if (callee.kind == NodeKind::kAttr) {
    SKV_ASSIGN_OR_RETURN(Value obj, Eval(*callee.a));
    if (!obj.is_dict() && !obj.is_namespace() && HasMethod(obj, callee.str)) {
      SKV_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(n));
      return CallMethod(*this, obj, callee.str, args);
    }
    SKV_ASSIGN_OR_RETURN(Value fn, GetAttr(obj, callee.str));
    SKV_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(n));
    return Call(fn, args);
  }
  SKV_ASSIGN_OR_RETURN(Value fn, Eval(callee));
  SKV_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(n));
  return Call(fn, args);
}

Result<Value> Interp::EvalCompare(const Node& n) {
  SKV_ASSIGN_OR_RETURN(Value left, Eval(*n.a));
  for (size_t i = 0; i < n.ops.size(); ++i) {
    SKV_ASSIGN_OR_RETURN(Value right, Eval(*n.kids[i]));
    const std::string& op = n.ops[i];
    bool r;
    if (op == "==") {
      r = Equal(left, right);
    } else if (op == "!=") {
      r = !Equal(left, right);
    } else if (op == "in" || op == "notin") {
      if (right.is_string()) {
        if (!left.is_string()) {
          return TypeError("'in <string>' requires string as left operand, not " + left.TypeName());
        }
        r = right.str().find(left.str()) != std::string::npos;
      } else if (right.is_dict()) {
        r = right.dict().Find(left) != nullptr;
      } else {
        SKV_ASSIGN_OR_RETURN(List items, Iterate(right));
        r = false;
        for (const Value& x : items) {
          if (Equal(x, left)) {
            r = true;
            break;
          }
        }
      }
      if (op == "notin") r = !r;
    } else {
      if (left.is_undefined()) return UndefinedError(left);
      if (right.is_undefined()) return UndefinedError(right);
      SKV_ASSIGN_OR_RETURN(int c, Compare(left, right));
      r = op == "<" ? c < 0 : op == "<=" ? c <= 0 : op == ">" ? c > 0 : c >= 0;
    }
    if (!r) return Value::Bool(false);
    left = std::move(right);
  }
  return Value::Bool(true);
}

Result<Value> Interp::Binary(const std::string& op, const Value& a, const Value& b) {
  if (op == "~") {
    SKV_ASSIGN_OR_RETURN(std::string x, ToStr(a));
    SKV_ASSIGN_OR_RETURN(std::string y, ToStr(b));
    SKV_RETURN_IF_ERROR(CheckSize(x.size() + y.size()));
    return Value::String(x + y);
  }
  if (a.is_undefined()) return UndefinedError(a);
  if (b.is_undefined()) return UndefinedError(b);
  auto unsupported = [&]() -> Result<Value> {
    return TypeError("unsupported operand type(s) for " + op + ": '" + a.TypeName() + "' and '" + b.TypeName() + "'");
  };
  const bool nums = a.is_number() && b.is_number();
  const bool ints = nums && !a.is_float() && !b.is_float();
  if (op == "+") {
    if (ints) {
      int64_t r;
      if (!CheckedAdd(a.as_int(), b.as_int(), &r)) return InvalidArgumentError("integer overflow");
      return Value::Int(r);
    }
    if (nums) return Value::Float(a.as_double() + b.as_double());
    if (a.is_string() && b.is_string()) {
      SKV_RETURN_IF_ERROR(CheckSize(a.str().size() + b.str().size()));
      if (a.is_safe() || b.is_safe()) {  // markupsafe: the plain operand is escaped
        return Value::SafeString((a.is_safe() ? a.str() : HtmlEscape(a.str())) +
                                 (b.is_safe() ? b.str() : HtmlEscape(b.str())));
      }
      return Value::String(a.str() + b.str());
    }
    if (a.is_string()) return TypeError("can only concatenate str (not \"" + b.TypeName() + "\") to str");
    if (a.is_sequence_like() && a.kind() == b.kind()) {
      SKV_RETURN_IF_ERROR(CheckSize(a.list().size() + b.list().size()));
      List l = a.list();
      l.insert(l.end(), b.list().begin(), b.list().end());
      return Value::MakeList(std::move(l), a.kind());
    }
    if (a.is_list()) return TypeError("can only concatenate list (not \"" + b.TypeName() + "\") to list");
    return unsupported();
  }
  if (op == "-") {
    if (ints) {
      int64_t r;
      if (!CheckedSub(a.as_int(), b.as_int(), &r)) return InvalidArgumentError("integer overflow");
      return Value::Int(r);
    }
    if (nums) return Value::Float(a.as_double() - b.as_double());
    return unsupported();
  }
  if (op == "*") {
    if (ints) {
      int64_t r;
      if (!CheckedMul(a.as_int(), b.as_int(), &r)) return InvalidArgumentError("integer overflow");
      return Value::Int(r);
    }
    if (nums) return Value::Float(a.as_double() * b.as_double());
    const Value* seq = (a.is_string() || a.is_sequence_like()) ? &a : &b;
    const Value* cnt = seq == &a ? &b : &a;
    if ((seq->is_string() || seq->is_sequence_like()) && (cnt->is_int() || cnt->is_bool())) {
      int64_t times = std::max<int64_t>(0, cnt->as_int());
      size_t unit = seq->is_string() ? seq->str().size() : seq->list().size();
      if (unit != 0 && times > limits_.max_output_bytes / static_cast<int64_t>(unit)) {
        return CheckSize(static_cast<size_t>(limits_.max_output_bytes) + 1);
      }
      if (seq->is_string()) {
        std::string s;
        for (int64_t i = 0; i < times; ++i) s += seq->str();
        return Value::String(std::move(s));
      }
      List l;
      for (int64_t i = 0; i < times; ++i) l.insert(l.end(), seq->list().begin(), seq->list().end());
      return Value::MakeList(std::move(l), seq->kind());
    }
    return unsupported();
  }
  if (op == "/") {
    if (!nums) return unsupported();
    if (b.as_double() == 0) return InvalidArgumentError("division by zero");
    return Value::Float(a.as_double() / b.as_double());
  }
  if (op == "//" || op == "%") {
    if (!nums) return unsupported();
    if (ints) {
      if (b.as_int() == 0) return InvalidArgumentError("integer division or modulo by zero");
      if (a.as_int() == std::numeric_limits<int64_t>::min() && b.as_int() == -1) {
        return InvalidArgumentError("integer overflow");
      }
      return Value::Int(op == "//" ? FloorDiv(a.as_int(), b.as_int()) : PyMod(a.as_int(), b.as_int()));
    }
    double x = a.as_double(), y = b.as_double();
    if (y == 0) return InvalidArgumentError("float division by zero");
    if (op == "//") return Value::Float(std::floor(x / y));
    double m = std::fmod(x, y);
    if (m != 0 && ((m < 0) != (y < 0))) m += y;
    return Value::Float(m);
  }
  if (op == "**") {
    if (!nums) return unsupported();
    if (ints && b.as_int() >= 0) {
      int64_t r = 1, base = a.as_int();
      for (int64_t e = b.as_int(); e > 0; --e) {
        if (!CheckedMul(r, base, &r)) return InvalidArgumentError("integer overflow");
        if (r == 0 || r == 1) break;
      }
      return Value::Int(r);
    }
    return Value::Float(std::pow(a.as_double(), b.as_double()));
  }
  return InternalError("unknown operator " + op);
}

Result<Value> Interp::EvalImpl(const Node& n) {
  switch (n.kind) {
    case NodeKind::kConst:
      switch (n.lit_kind) {
        case ConstKind::kNone: return Value::None();
        case ConstKind::kBool: return Value::Bool(n.lit_bool);
        case ConstKind::kInt: return Value::Int(n.lit_int);
        case ConstKind::kFloat: return Value::Float(n.lit_float);
        case ConstKind::kString: return Value::String(n.lit_str);
      }
      return Value::None();
    case NodeKind::kName: return Lookup(n.str);
    case NodeKind::kTuple:
    case NodeKind::kList: {
      List l;
      for (const NodePtr& k : n.kids) {
        SKV_ASSIGN_OR_RETURN(Value v, Eval(*k));
        l.push_back(std::move(v));
      }
      return Value::MakeList(std::move(l), n.kind == NodeKind::kTuple ? ValueKind::kTuple : ValueKind::kList);
    }
    case NodeKind::kDict: {
      Dict d;
      for (size_t i = 0; i + 1 < n.kids.size(); i += 2) {
        SKV_ASSIGN_OR_RETURN(Value k, Eval(*n.kids[i]));
        SKV_ASSIGN_OR_RETURN(Value v, Eval(*n.kids[i + 1]));
        if (!k.is_string() && !k.is_number() && !k.is_none() && !k.is_tuple()) {
          return TypeError("unhashable type: '" + k.TypeName() + "'");
        }
        d.Set(std::move(k), std::move(v));
      }
      return Value::MakeDict(std::move(d));
    }
    case NodeKind::kAttr: {
      SKV_ASSIGN_OR_RETURN(Value obj, Eval(*n.a));
      return GetAttr(obj, n.str);
    }
    case NodeKind::kItem: {
      SKV_ASSIGN_OR_RETURN(Value obj, Eval(*n.a));
      SKV_ASSIGN_OR_RETURN(Value key, Eval(*n.b));
      return GetItem(obj, key);
    }
    case NodeKind::kSlice: {
      SKV_ASSIGN_OR_RETURN(Value obj, Eval(*n.a));
      Value parts[3] = {Value::None(), Value::None(), Value::None()};
      for (int i = 0; i < 3; ++i) {
        if (n.kids[i]) {
          SKV_ASSIGN_OR_RETURN(parts[i], Eval(*n.kids[i]));
        }
      }
      if (obj.is_undefined()) return UndefinedError(obj);
      if (obj.is_string()) {
        SKV_RETURN_IF_ERROR(Charge(obj.str().size()));
        const std::string& str = obj.str();
        std::vector<size_t> at = Utf8Offsets(str);
        SKV_ASSIGN_OR_RETURN(std::vector<size_t> idx, SliceIndices(parts[0], parts[1], parts[2], at.size() - 1));
        std::string s;
        for (size_t i : idx) s.append(str, at[i], at[i + 1] - at[i]);
        return Value::String(std::move(s));
      }
      if (obj.is_sequence_like()) {
        SKV_ASSIGN_OR_RETURN(std::vector<size_t> idx, SliceIndices(parts[0], parts[1], parts[2], obj.list().size()));
        List l;
        l.reserve(idx.size());
        for (size_t i : idx) l.push_back(obj.list()[i]);
        return Value::MakeList(std::move(l), obj.kind());
      }
      return Value::Undefined("'" + obj.TypeName() + " object' is not subscriptable");
    }
    case NodeKind::kCall: return EvalCall(n);
    case NodeKind::kFilter: {
      Value operand;
      if (n.a) {
        SKV_ASSIGN_OR_RETURN(operand, Eval(*n.a));
      }
      SKV_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(n));
      return Filter(n.str, operand, args);
    }
    case NodeKind::kTest: {
      SKV_ASSIGN_OR_RETURN(Value operand, Eval(*n.a));
      SKV_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(n));
      SKV_ASSIGN_OR_RETURN(bool r, Test(n.str, operand, args));
      return Value::Bool(r != n.negate);
    }
    case NodeKind::kBinary: {
      SKV_ASSIGN_OR_RETURN(Value a, Eval(*n.a));
      SKV_ASSIGN_OR_RETURN(Value b, Eval(*n.b));
      return Binary(n.str, a, b);
    }
    case NodeKind::kUnary: {
      SKV_ASSIGN_OR_RETURN(Value a, Eval(*n.a));
      if (a.is_undefined()) return UndefinedError(a);
      if (!a.is_number()) return TypeError("bad operand type for unary " + n.str + ": '" + a.TypeName() + "'");
      if (n.str == "+") return a.is_float() ? a : Value::Int(a.as_int());
      if (a.is_float()) return Value::Float(-a.as_double());
      if (a.as_int() == std::numeric_limits<int64_t>::min()) return InvalidArgumentError("integer overflow");
      return Value::Int(-a.as_int());
    }
    case NodeKind::kNot: {
      SKV_ASSIGN_OR_RETURN(Value a, Eval(*n.a));
      return Value::Bool(!a.Truthy());
    }
    case NodeKind::kAnd: {
      SKV_ASSIGN_OR_RETURN(Value a, Eval(*n.a));
      if (!a.Truthy()) return a;
      return Eval(*n.b);
    }
    case NodeKind::kOr: {
      SKV_ASSIGN_OR_RETURN(Value a, Eval(*n.a));
      if (a.Truthy()) return a;
      return Eval(*n.b);
    }
    case NodeKind::kCompare: return EvalCompare(n);
    case NodeKind::kCondExpr: {
      SKV_ASSIGN_OR_RETURN(Value c, Eval(*n.a));
      if (c.Truthy()) return Eval(*n.b);
      if (n.c) return Eval(*n.c);
      return Value::Undefined("the inline if-expression evaluated to false and no else section was defined");
    }
    default: return InternalError("not an expression");
  }
}

}  // namespace swarmkv::jinja
