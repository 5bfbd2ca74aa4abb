#include "tokenizer/jinja_parser.h"

#include <array>
#include <cstdlib>
#include <initializer_list>

#include "tokenizer/jinja_lexer.h"

namespace swarmkv::jinja {
namespace {

std::shared_ptr<Node> Make(NodeKind kind, int line) {
  auto n = std::make_shared<Node>();
  n->kind = kind;
  n->line = line;
  return n;
}

class Parser {
 public:
  Parser(std::vector<Token> toks, const JinjaLimits& limits) : t_(std::move(toks)), limits_(limits) {}

  Result<NodePtr> Run() {
    auto root = Make(NodeKind::kBody, 1);
    SKV_RETURN_IF_ERROR(ParseBody(&root->kids, {}));
    if (Cur().kind != TokKind::kEnd) return Fail("unexpected '" + Cur().value + "'");
    return NodePtr(root);
  }

 private:
  const Token& Cur() const { return t_[i_]; }
  const Token& Peek(size_t k = 1) const { return t_[std::min(i_ + k, t_.size() - 1)]; }
  void Next() {
    if (i_ + 1 < t_.size()) ++i_;
  }
  bool IsOp(std::string_view op) const { return Cur().kind == TokKind::kOp && Cur().value == op; }
  bool IsName(std::string_view n) const { return Cur().kind == TokKind::kName && Cur().value == n; }
  Status Fail(const std::string& what) const {
    return InvalidArgumentError("chat template line " + std::to_string(Cur().line) + ": " + what);
  }
  static std::string Describe(const Token& t) {
    switch (t.kind) {
      case TokKind::kEnd: return "end of template";
      case TokKind::kBlockEnd: return "'%}'";
      case TokKind::kVarEnd: return "'}}'";
      case TokKind::kText: return "template data";
      case TokKind::kString: return "a string";
      default: return "'" + t.value + "'";
    }
  }
  Status ExpectOp(std::string_view op) {
    if (!IsOp(op)) return Fail("expected '" + std::string(op) + "', got " + Describe(Cur()));
    Next();
    return Status::OK();
  }
  Status ExpectBlockEnd() {
    if (Cur().kind != TokKind::kBlockEnd) return Fail("expected '%}', got " + Describe(Cur()));
    Next();
    return Status::OK();
  }
  Result<std::string> ExpectName() {
    if (Cur().kind != TokKind::kName) return Fail("expected a name, got " + Describe(Cur()));
    std::string n = Cur().value;
    Next();
    return n;
  }

  struct DepthGuard {
    explicit DepthGuard(int* d) : d_(d) { ++*d_; }
    ~DepthGuard() { --*d_; }
    int* d_;
  };
  Status CheckDepth() const {
    if (depth_ > limits_.max_expression_depth) return Fail("template nesting deeper than the limit");
    return Status::OK();
  }

  // Parses statements until a block tag whose name is in `ends` (left unconsumed, at its name).
  Status ParseBody(std::vector<NodePtr>* out, std::initializer_list<std::string_view> ends) {
    DepthGuard g(&depth_);
    SKV_RETURN_IF_ERROR(CheckDepth());
    while (true) {
      const Token& tok = Cur();
      switch (tok.kind) {
        case TokKind::kEnd:
          if (ends.size() != 0) return Fail("unexpected end of template, expected '" + std::string(*ends.begin()) + "'");
          return Status::OK();
        case TokKind::kText: {
          auto n = Make(NodeKind::kText, tok.line);
          n->str = tok.value;
          out->push_back(n);
          Next();
          break;
        }
        case TokKind::kVarBegin: {
          int line = tok.line;
          Next();
          auto n = Make(NodeKind::kOutput, line);
          SKV_ASSIGN_OR_RETURN(n->a, ParseTuple(true));
          if (Cur().kind != TokKind::kVarEnd) return Fail("expected '}}', got " + Describe(Cur()));
          Next();
          out->push_back(n);
          break;
        }
        case TokKind::kBlockBegin: {
          const Token& name = Peek();
          if (name.kind == TokKind::kName) {
            for (std::string_view e : ends) {
              if (name.value == e) {
                Next();
                return Status::OK();
              }
            }
          }
          Next();
          SKV_ASSIGN_OR_RETURN(NodePtr st, ParseStatement());
          if (st) out->push_back(st);
          break;
        }
        default: return Fail("unexpected " + Describe(tok));
      }
    }
  }

  // At the name of an end tag (e.g. "endif"): consumes it and the closing "%}".
  Status EndTag(std::string_view name) {
    if (!IsName(name)) return Fail("expected '" + std::string(name) + "'");
    Next();
    return ExpectBlockEnd();
  }

  Result<NodePtr> ParseStatement() {
    if (Cur().kind != TokKind::kName) return Fail("expected a tag name, got " + Describe(Cur()));
    std::string tag = Cur().value;
    int line = Cur().line;
    Next();
    if (tag == "if") return ParseIf(line);
    if (tag == "for") return ParseFor(line);
    if (tag == "set") return ParseSet(line);
    if (tag == "macro") return ParseMacro(line);
    if (tag == "call") return ParseCallBlock(line);
    if (tag == "filter") return ParseFilterBlock(line);
    if (tag == "generation" || tag == "with") {
      if (tag == "with" && Cur().kind != TokKind::kBlockEnd) return Fail("'with' with assignments is not supported");
      SKV_RETURN_IF_ERROR(ExpectBlockEnd());
      auto n = Make(NodeKind::kScope, line);
      SKV_RETURN_IF_ERROR(ParseBody(&n->body, {tag == "with" ? "endwith" : "endgeneration"}));
      SKV_RETURN_IF_ERROR(EndTag(tag == "with" ? "endwith" : "endgeneration"));
      return NodePtr(n);
    }
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) return Fail("'" + tag + "' outside a loop");
      SKV_RETURN_IF_ERROR(ExpectBlockEnd());
      return NodePtr(Make(tag == "break" ? NodeKind::kBreak : NodeKind::kContinue, line));
    }
    return Fail("unknown tag '" + tag + "'");
  }

  Result<NodePtr> ParseIf(int line) {
    auto n = Make(NodeKind::kIf, line);
    SKV_ASSIGN_OR_RETURN(n->a, ParseTuple(false));
    SKV_RETURN_IF_ERROR(ExpectBlockEnd());
    SKV_RETURN_IF_ERROR(ParseBody(&n->body, {"elif", "else", "endif"}));
    if (IsName("elif")) {
      int l = Cur().line;
      Next();
      SKV_ASSIGN_OR_RETURN(NodePtr e, ParseIf(l));
      n->orelse.push_back(e);
      return NodePtr(n);  // the nested if consumed the endif
    }
    if (IsName("else")) {
      Next();
      SKV_RETURN_IF_ERROR(ExpectBlockEnd());
      SKV_RETURN_IF_ERROR(ParseBody(&n->orelse, {"endif"}));
    }
    SKV_RETURN_IF_ERROR(EndTag("endif"));
    return NodePtr(n);
  }

  Result<NodePtr> ParseAssignTarget(bool allow_attr) {
    int line = Cur().line;
    SKV_ASSIGN_OR_RETURN(std::string first, ExpectName());
    if (allow_attr && IsOp(".")) {
      Next();
      auto n = Make(NodeKind::kAttr, line);
      auto base = Make(NodeKind::kName, line);
      base->str = first;
      n->a = base;
      SKV_ASSIGN_OR_RETURN(n->str, ExpectName());
      return NodePtr(n);
    }
    auto name = Make(NodeKind::kName, line);
    name->str = first;
    if (!IsOp(",")) return NodePtr(name);
    auto tup = Make(NodeKind::kTuple, line);
    tup->kids.push_back(name);
    while (IsOp(",")) {
      Next();
      if (Cur().kind != TokKind::kName) break;
      auto k = Make(NodeKind::kName, Cur().line);
      k->str = Cur().value;
      Next();
      tup->kids.push_back(k);
    }
    return NodePtr(tup);
  }

  Result<NodePtr> ParseFor(int line) {
    auto n = Make(NodeKind::kFor, line);
    SKV_ASSIGN_OR_RETURN(n->a, ParseAssignTarget(false));
    if (!IsName("in")) return Fail("expected 'in' in for loop");
    Next();
    SKV_ASSIGN_OR_RETURN(n->b, ParseTuple(false, /*no_condexpr=*/true));
    if (IsName("if")) {
      Next();
      SKV_ASSIGN_OR_RETURN(n->c, ParseExpression(true));
    }
    if (IsName("recursive")) {
      Next();
      n->recursive = true;
    }
    SKV_RETURN_IF_ERROR(ExpectBlockEnd());
    ++loop_depth_;
    Status s = ParseBody(&n->body, {"endfor", "else"});
    --loop_depth_;
    SKV_RETURN_IF_ERROR(s);
    if (IsName("else")) {
      Next();
      SKV_RETURN_IF_ERROR(ExpectBlockEnd());
      int saved = loop_depth_;
      loop_depth_ = 0;  // break/continue in a loop's else refer to no loop
      Status s2 = ParseBody(&n->orelse, {"endfor"});
      loop_depth_ = saved;
      SKV_RETURN_IF_ERROR(s2);
    }
    SKV_RETURN_IF_ERROR(EndTag("endfor"));
    return NodePtr(n);
  }

  Result<NodePtr> ParseSet(int line) {
    SKV_ASSIGN_OR_RETURN(NodePtr target, ParseAssignTarget(true));
    if (IsOp("=")) {
      Next();
      auto n = Make(NodeKind::kSet, line);
      n->a = target;
      SKV_ASSIGN_OR_RETURN(n->b, ParseTuple(true));
      SKV_RETURN_IF_ERROR(ExpectBlockEnd());
      return NodePtr(n);
    }
    auto n = Make(NodeKind::kSetBlock, line);
    n->a = target;
    if (IsOp("|")) {
      SKV_ASSIGN_OR_RETURN(n->c, ParseFilterChain(nullptr));
    }
    SKV_RETURN_IF_ERROR(ExpectBlockEnd());
    SKV_RETURN_IF_ERROR(ParseBody(&n->body, {"endset"}));
    SKV_RETURN_IF_ERROR(EndTag("endset"));
    return NodePtr(n);
  }

  Status ParseParams(Node* n) {
    SKV_RETURN_IF_ERROR(ExpectOp("("));
    while (!IsOp(")")) {
      if (!n->params.empty()) SKV_RETURN_IF_ERROR(ExpectOp(","));
      if (IsOp(")")) break;
      SKV_ASSIGN_OR_RETURN(std::string name, ExpectName());
      NodePtr def;
      if (IsOp("=")) {
        Next();
        SKV_ASSIGN_OR_RETURN(def, ParseExpression(true));
      } else {
        for (const auto& p : n->params) {
          if (p.second) return Fail("non-default argument '" + name + "' follows a default argument");
        }
      }
      n->params.emplace_back(std::move(name), std::move(def));
    }
    Next();
    return Status::OK();
  }

  // After a macro's or call block's head: "%}", its body, its end tag. The body is a function of
  // its own, so break/continue of an enclosing loop do not reach into it.
  Status ParseFunctionBody(Node* n, std::string_view end) {
    SKV_RETURN_IF_ERROR(ExpectBlockEnd());
    int saved = loop_depth_;
    loop_depth_ = 0;
    Status s = ParseBody(&n->body, {end});
    loop_depth_ = saved;
    SKV_RETURN_IF_ERROR(s);
    return EndTag(end);
  }

  Result<NodePtr> ParseMacro(int line) {
    auto n = Make(NodeKind::kMacro, line);
    SKV_ASSIGN_OR_RETURN(n->str, ExpectName());
    SKV_RETURN_IF_ERROR(ParseParams(n.get()));
    SKV_RETURN_IF_ERROR(ParseFunctionBody(n.get(), "endmacro"));
    return NodePtr(n);
  }

  Result<NodePtr> ParseCallBlock(int line) {
    auto n = Make(NodeKind::kCallBlock, line);
    if (IsOp("(")) SKV_RETURN_IF_ERROR(ParseParams(n.get()));
    SKV_ASSIGN_OR_RETURN(n->a, ParseExpression(true));
    if (n->a->kind != NodeKind::kCall) return Fail("expected a call in a call block");
    SKV_RETURN_IF_ERROR(ParseFunctionBody(n.get(), "endcall"));
    return NodePtr(n);
  }

  Result<NodePtr> ParseFilterBlock(int line) {
    auto n = Make(NodeKind::kFilterBlock, line);
    if (!IsOp("|")) {
      // "{% filter name(args) %}": the first filter has no leading pipe.
      SKV_ASSIGN_OR_RETURN(n->c, ParseOneFilter(nullptr));
      if (IsOp("|")) {
        SKV_ASSIGN_OR_RETURN(n->c, ParseFilterChain(n->c));
      }
    } else {
      SKV_ASSIGN_OR_RETURN(n->c, ParseFilterChain(nullptr));
    }
    SKV_RETURN_IF_ERROR(ExpectBlockEnd());
    SKV_RETURN_IF_ERROR(ParseBody(&n->body, {"endfilter"}));
    SKV_RETURN_IF_ERROR(EndTag("endfilter"));
    return NodePtr(n);
  }

  // ---- Expressions ----

  // A comma-separated tuple or a single expression ({{ a, b }} and `for` iterables).
  Result<NodePtr> ParseTuple(bool with_condexpr, bool no_condexpr = false) {
    int line = Cur().line;
    SKV_ASSIGN_OR_RETURN(NodePtr first, no_condexpr ? ParseOr() : ParseExpression(with_condexpr));
    if (!IsOp(",")) return first;
    auto tup = Make(NodeKind::kTuple, line);
    tup->kids.push_back(first);
    while (IsOp(",")) {
      Next();
      if (Cur().kind == TokKind::kBlockEnd || Cur().kind == TokKind::kVarEnd || IsName("if") || IsName("recursive"))
        break;
      SKV_ASSIGN_OR_RETURN(NodePtr k, no_condexpr ? ParseOr() : ParseExpression(with_condexpr));
      tup->kids.push_back(k);
    }
    return NodePtr(tup);
  }

  Result<NodePtr> ParseExpression(bool with_condexpr) {
    DepthGuard g(&depth_);
    SKV_RETURN_IF_ERROR(CheckDepth());
    if (!with_condexpr) return ParseOr();
    int line = Cur().line;
    SKV_ASSIGN_OR_RETURN(NodePtr expr, ParseOr());
    while (IsName("if")) {
      Next();
      auto n = Make(NodeKind::kCondExpr, line);
      n->b = expr;
      SKV_ASSIGN_OR_RETURN(n->a, ParseOr());
      if (IsName("else")) {
        Next();
        SKV_ASSIGN_OR_RETURN(n->c, ParseExpression(true));
      }
      expr = n;
    }
    return expr;
  }

  // ---- Operator precedence, loosest first (as jinja2's parser):
  //   if-else (ParseExpression) < or < and < not < comparisons (chained) < + - < ~ < * / // %
  //   < ** < unary + - (ParseUnary, then postfix and filters).
  // Every binary level is left-associative (jinja2's ** too).

  // `or` and `and`: a keyword chain whose operands come from the next level.
  Result<NodePtr> ParseOr() { return ParseKeywordChain("or", NodeKind::kOr, &Parser::ParseAnd); }
  Result<NodePtr> ParseAnd() { return ParseKeywordChain("and", NodeKind::kAnd, &Parser::ParseNot); }

  Result<NodePtr> ParseKeywordChain(std::string_view keyword, NodeKind kind, Result<NodePtr> (Parser::*operand)()) {
    SKV_ASSIGN_OR_RETURN(NodePtr left, (this->*operand)());
    while (IsName(keyword)) {
      auto n = Make(kind, Cur().line);
      Next();
      n->a = left;
      SKV_ASSIGN_OR_RETURN(n->b, (this->*operand)());
      left = n;
    }
    return left;
  }

  Result<NodePtr> ParseNot() {
    if (IsName("not")) {
      DepthGuard g(&depth_);
      SKV_RETURN_IF_ERROR(CheckDepth());
      auto n = Make(NodeKind::kNot, Cur().line);
      Next();
      SKV_ASSIGN_OR_RETURN(n->a, ParseNot());
      return NodePtr(n);
    }
    return ParseCompare();
  }

  Result<NodePtr> ParseCompare() {
    int line = Cur().line;
    SKV_ASSIGN_OR_RETURN(NodePtr left, ParseArithmetic(0));
    std::shared_ptr<Node> cmp;
    while (true) {
      std::string op;
      if (Cur().kind == TokKind::kOp &&
          (IsOp("==") || IsOp("!=") || IsOp("<") || IsOp("<=") || IsOp(">") || IsOp(">="))) {
        op = Cur().value;
        Next();
      } else if (IsName("in")) {
        op = "in";
        Next();
      } else if (IsName("not") && Peek().kind == TokKind::kName && Peek().value == "in") {
        op = "notin";
        Next();
        Next();
      } else {
        break;
      }
      if (!cmp) {
        cmp = Make(NodeKind::kCompare, line);
        cmp->a = left;
      }
      cmp->ops.push_back(op);
      SKV_ASSIGN_OR_RETURN(NodePtr right, ParseArithmetic(0));
      cmp->kids.push_back(right);
    }
    return cmp ? NodePtr(cmp) : left;
  }

  // The arithmetic levels below comparisons, loosest first; a level's operands come from the next
  // one, the last level's from ParseUnary(true). jinja2: parse_math1, parse_concat, parse_math2,
  // parse_pow.
  static constexpr std::array<std::array<std::string_view, 4>, 4> kArithmeticLevels = {{
      {"+", "-"},
      {"~"},
      {"*", "/", "//", "%"},
      {"**"},
  }};

  bool IsOpOf(const std::array<std::string_view, 4>& ops) const {
    for (std::string_view op : ops) {
      if (!op.empty() && IsOp(op)) return true;
    }
    return false;
  }

  Result<NodePtr> ParseArithmetic(size_t level) {
    auto operand = [&]() { return level + 1 < kArithmeticLevels.size() ? ParseArithmetic(level + 1) : ParseUnary(true); };
    SKV_ASSIGN_OR_RETURN(NodePtr left, operand());
    while (IsOpOf(kArithmeticLevels[level])) {
      auto n = Make(NodeKind::kBinary, Cur().line);
      n->str = Cur().value;
      Next();
      n->a = std::move(left);
      SKV_ASSIGN_OR_RETURN(n->b, operand());
      left = n;
    }
    return left;
  }

  Result<NodePtr> ParseUnary(bool with_filter) {
    DepthGuard g(&depth_);
    SKV_RETURN_IF_ERROR(CheckDepth());
    NodePtr node;
    if (IsOp("-") || IsOp("+")) {
      auto n = Make(NodeKind::kUnary, Cur().line);
      n->str = Cur().value;
      Next();
      SKV_ASSIGN_OR_RETURN(n->a, ParseUnary(false));
      node = n;
    } else {
      SKV_ASSIGN_OR_RETURN(node, ParsePrimary());
    }
    SKV_ASSIGN_OR_RETURN(node, ParsePostfix(node));
    if (with_filter) {
      SKV_ASSIGN_OR_RETURN(node, ParseFilterExpr(node));
    }
    return node;
  }

  Result<NodePtr> ParsePrimary() {
    const Token& tok = Cur();
    int line = tok.line;
    if (tok.kind == TokKind::kName) {
      auto n = Make(NodeKind::kConst, line);
      const std::string& v = tok.value;
      if (v == "true" || v == "True" || v == "false" || v == "False") {
        n->lit_kind = ConstKind::kBool;
        n->lit_bool = v[0] == 't' || v[0] == 'T';
      } else if (v == "none" || v == "None") {
        n->lit_kind = ConstKind::kNone;
      } else {
        n->kind = NodeKind::kName;
        n->str = v;
      }
      Next();
      return NodePtr(n);
    }
    if (tok.kind == TokKind::kString) {
      auto n = Make(NodeKind::kConst, line);
      n->lit_kind = ConstKind::kString;
      while (Cur().kind == TokKind::kString) {  // adjacent literals concatenate
        n->lit_str += Cur().value;
        Next();
      }
      return NodePtr(n);
    }
    if (tok.kind == TokKind::kInt || tok.kind == TokKind::kFloat) {
      auto n = Make(NodeKind::kConst, line);
      if (tok.kind == TokKind::kInt) {
        errno = 0;
        n->lit_kind = ConstKind::kInt;
        n->lit_int = std::strtoll(tok.value.c_str(), nullptr, 10);
        if (errno == ERANGE) return Fail("integer literal out of range");
      } else {
        n->lit_kind = ConstKind::kFloat;
        n->lit_float = std::strtod(tok.value.c_str(), nullptr);
      }
      Next();
      return NodePtr(n);
    }
    if (IsOp("(")) {
      Next();
      if (IsOp(")")) {
        Next();
        return NodePtr(Make(NodeKind::kTuple, line));
      }
      SKV_ASSIGN_OR_RETURN(NodePtr first, ParseExpression(true));
      if (IsOp(")")) {
        Next();
        return first;
      }
      auto tup = Make(NodeKind::kTuple, line);
      tup->kids.push_back(first);
      while (IsOp(",")) {
        Next();
        if (IsOp(")")) break;
        SKV_ASSIGN_OR_RETURN(NodePtr k, ParseExpression(true));
        tup->kids.push_back(k);
      }
      SKV_RETURN_IF_ERROR(ExpectOp(")"));
      return NodePtr(tup);
    }
    if (IsOp("[")) {
      Next();
      auto n = Make(NodeKind::kList, line);
      while (!IsOp("]")) {
        if (!n->kids.empty()) SKV_RETURN_IF_ERROR(ExpectOp(","));
        if (IsOp("]")) break;
        SKV_ASSIGN_OR_RETURN(NodePtr k, ParseExpression(true));
        n->kids.push_back(k);
      }
      Next();
      return NodePtr(n);
    }
    if (IsOp("{")) {
      Next();
      auto n = Make(NodeKind::kDict, line);
      while (!IsOp("}")) {
        if (!n->kids.empty()) SKV_RETURN_IF_ERROR(ExpectOp(","));
        if (IsOp("}")) break;
        SKV_ASSIGN_OR_RETURN(NodePtr k, ParseExpression(true));
        SKV_RETURN_IF_ERROR(ExpectOp(":"));
        SKV_ASSIGN_OR_RETURN(NodePtr v, ParseExpression(true));
        n->kids.push_back(k);
        n->kids.push_back(v);
      }
      Next();
      return NodePtr(n);
    }
    return Fail("unexpected " + Describe(tok));
  }

  Result<NodePtr> ParsePostfix(NodePtr node) {
    while (true) {
      if (IsOp(".")) {
        int line = Cur().line;
        Next();
        auto n = Make(NodeKind::kAttr, line);
        n->a = node;
        if (Cur().kind == TokKind::kName) {
          n->str = Cur().value;
          Next();
        } else if (Cur().kind == TokKind::kInt) {  // x.0 is x[0]
          n->kind = NodeKind::kItem;
          auto idx = Make(NodeKind::kConst, line);
          idx->lit_kind = ConstKind::kInt;
          idx->lit_int = std::strtoll(Cur().value.c_str(), nullptr, 10);
          n->b = idx;
          Next();
        } else {
          return Fail("expected an attribute name after '.'");
        }
        node = n;
      } else if (IsOp("[")) {
        int line = Cur().line;
        Next();
        SKV_ASSIGN_OR_RETURN(node, ParseSubscript(node, line));
      } else if (IsOp("(")) {
        SKV_ASSIGN_OR_RETURN(node, ParseCall(node));
      } else {
        return node;
      }
    }
  }

  Result<NodePtr> ParseSubscript(NodePtr obj, int line) {
    std::vector<NodePtr> parts(3);
    int part = 0;
    bool slice = false;
    while (!IsOp("]")) {
      if (IsOp(":")) {
        slice = true;
        if (++part > 2) return Fail("too many ':' in a slice");
        Next();
        continue;
      }
      if (parts[part]) return Fail("expected ']' or ':'");
      SKV_ASSIGN_OR_RETURN(parts[part], ParseExpression(true));
      if (!slice && IsOp(",")) return Fail("tuple subscripts are not supported");
    }
    Next();
    if (!slice) {
      if (!parts[0]) return Fail("empty subscript");
      auto n = Make(NodeKind::kItem, line);
      n->a = obj;
      n->b = parts[0];
      return NodePtr(n);
    }
    auto n = Make(NodeKind::kSlice, line);
    n->a = obj;
    n->kids = parts;
    return NodePtr(n);
  }

  Status ParseCallArgs(Node* n) {
    SKV_RETURN_IF_ERROR(ExpectOp("("));
    bool first = true;
    while (!IsOp(")")) {
      if (!first) SKV_RETURN_IF_ERROR(ExpectOp(","));
      first = false;
      if (IsOp(")")) break;
      if (IsOp("*") || IsOp("**")) return Fail("*args and **kwargs in calls are not supported");
      if (Cur().kind == TokKind::kName && Peek().kind == TokKind::kOp && Peek().value == "=") {
        std::string key = Cur().value;
        Next();
        Next();
        SKV_ASSIGN_OR_RETURN(NodePtr v, ParseExpression(true));
        n->kwargs.emplace_back(std::move(key), std::move(v));
      } else {
        if (!n->kwargs.empty()) return Fail("positional argument follows keyword argument");
        SKV_ASSIGN_OR_RETURN(NodePtr v, ParseExpression(true));
        n->kids.push_back(std::move(v));
      }
    }
    Next();
    return Status::OK();
  }

  Result<NodePtr> ParseCall(NodePtr callee) {
    auto n = Make(NodeKind::kCall, Cur().line);
    n->a = std::move(callee);
    SKV_RETURN_IF_ERROR(ParseCallArgs(n.get()));
    return NodePtr(n);
  }

  // name(.name)* [(args)] applied to `operand`.
  Result<NodePtr> ParseOneFilter(NodePtr operand) {
    auto n = Make(NodeKind::kFilter, Cur().line);
    n->a = std::move(operand);
    SKV_ASSIGN_OR_RETURN(n->str, ExpectName());
    while (IsOp(".")) {
      Next();
      SKV_ASSIGN_OR_RETURN(std::string more, ExpectName());
      n->str += "." + more;
    }
    if (IsOp("(")) SKV_RETURN_IF_ERROR(ParseCallArgs(n.get()));
    return NodePtr(n);
  }

  Result<NodePtr> ParseFilterChain(NodePtr operand) {
    while (IsOp("|")) {
      Next();
      SKV_ASSIGN_OR_RETURN(operand, ParseOneFilter(operand));
    }
    return operand;
  }

  Result<NodePtr> ParseFilterExpr(NodePtr node) {
    while (true) {
      if (IsOp("|")) {
        Next();
        SKV_ASSIGN_OR_RETURN(node, ParseOneFilter(node));
      } else if (IsName("is")) {
        SKV_ASSIGN_OR_RETURN(node, ParseTest(node));
      } else if (IsOp("(")) {
        SKV_ASSIGN_OR_RETURN(node, ParseCall(node));
      } else {
        return node;
      }
    }
  }

  Result<NodePtr> ParseTest(NodePtr operand) {
    auto n = Make(NodeKind::kTest, Cur().line);
    Next();  // is
    if (IsName("not")) {
      n->negate = true;
      Next();
    }
    n->a = std::move(operand);
    SKV_ASSIGN_OR_RETURN(n->str, ExpectName());
    while (IsOp(".")) {
      Next();
      SKV_ASSIGN_OR_RETURN(std::string more, ExpectName());
      n->str += "." + more;
    }
    if (IsOp("(")) {
      SKV_RETURN_IF_ERROR(ParseCallArgs(n.get()));
    } else if ((Cur().kind == TokKind::kName || Cur().kind == TokKind::kString || Cur().kind == TokKind::kInt ||
                Cur().kind == TokKind::kFloat || IsOp("(") || IsOp("[") || IsOp("{")) &&
               !IsName("else") && !IsName("or") && !IsName("and")) {
      if (IsName("is")) return Fail("you cannot chain multiple tests with 'is'");
      SKV_ASSIGN_OR_RETURN(NodePtr arg, ParsePrimary());
      SKV_ASSIGN_OR_RETURN(arg, ParsePostfix(arg));
      n->kids.push_back(arg);
    }
    return NodePtr(n);
  }

  std::vector<Token> t_;
  size_t i_ = 0;
  const JinjaLimits& limits_;
  int depth_ = 0;
  int loop_depth_ = 0;
};

}  // namespace

Result<NodePtr> ParseTemplate(std::string_view source, const JinjaLimits& limits) {
  SKV_ASSIGN_OR_RETURN(std::vector<Token> toks, Lex(source));
  return Parser(std::move(toks), limits).Run();
}

}  // namespace swarmkv::jinja
