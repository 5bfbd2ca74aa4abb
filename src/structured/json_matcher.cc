#include "structured/json_matcher.h"

#include <algorithm>
#include <cstring>

namespace swarmkv {
namespace {

enum FrameKind : uint8_t { kValue, kObj, kArr, kStr, kNum, kLit, kTpl };
// Object phases.
enum : uint8_t { O_START, O_KEY, O_COLON, O_AFTER_COLON, O_AFTER_COLON_SP, O_AFTER_VALUE, O_AFTER_COMMA, O_AFTER_COMMA_SP };
// Array phases.
enum : uint8_t { A_START, A_AFTER_ITEM, A_AFTER_COMMA, A_AFTER_COMMA_SP };
// String phases.
enum : uint8_t { S_BODY, S_ESC, S_HEX, S_UTF8 };
// Number phases (no exponent: a valid subset, and no way to write 1e999).
enum : uint8_t { N_MINUS, N_ZERO, N_INT, N_DOT, N_FRAC };

const std::vector<std::string>& BuiltinLiterals() {
  static const std::vector<std::string> l = {"true", "false", "null"};
  return l;
}

bool IsDigit(uint8_t c) { return c >= '0' && c <= '9'; }
bool IsHex(uint8_t c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

uint64_t Bit(int i) { return uint64_t{1} << i; }

}  // namespace

bool JsonMatcher::Stack::operator==(const Stack& o) const {
  return depth == o.depth && std::memcmp(frames.data(), o.frames.data(), sizeof(Frame) * depth) == 0;
}

JsonMatcher::JsonMatcher(const JsonGrammar* grammar, const MatcherOptions& options) : g_(grammar), options_(options) {
  Stack s;
  s.depth = 1;
  s.frames[0] = Frame{};  // zero-initialised (padding too, for memcmp/Key)
  std::memset(&s.frames[0], 0, sizeof(Frame));
  s.frames[0].node = grammar->root;
  s.frames[0].kind = kValue;
  stacks_.push_back(s);
}

namespace {

// The property indices that may come next in object `n` after property `from - 1`: every one up
// to and including the first required one.
uint64_t KeyCandidates(const GrammarNode& n, uint32_t from) {
  uint64_t mask = 0;
  for (size_t j = from; j < n.keys.size(); ++j) {
    mask |= Bit(static_cast<int>(j));
    if (n.required_mask & Bit(static_cast<int>(j))) break;
  }
  return mask;
}
bool RequiredRemaining(const GrammarNode& n, uint32_t from) { return from < 64 && (n.required_mask >> from) != 0; }

JsonMatcher::Frame* Top(JsonMatcher::Stack& s) { return &s.frames[s.depth - 1]; }

}  // namespace

bool JsonMatcher::StartValue(Stack& s, int32_t node, uint8_t c, std::vector<Stack>* out, int fork_depth) const {
  const GrammarNode& n = g_->nodes[static_cast<size_t>(node)];
  if (n.kind == GrammarNode::kAnyOf) {
    if (fork_depth > 16) return false;
    bool any = false;
    for (int32_t b : n.branches) {
      Stack s2 = s;
      any |= StartValue(s2, b, c, out, fork_depth + 1);
    }
    return any;
  }
  if (s.depth >= kMaxDepth) return false;
  Frame f;
  std::memset(&f, 0, sizeof(f));
  f.node = node;
  GrammarNode::Kind kind = n.kind;
  if (kind == GrammarNode::kAny) {
    if (c == '{') kind = GrammarNode::kObject;
    else if (c == '[') kind = GrammarNode::kArray;
    else if (c == '"') kind = GrammarNode::kString, f.node = JsonGrammar::kAnyStringNode;
    else if (c == '-' || IsDigit(c)) kind = GrammarNode::kNumber;
    else if (c == 't' || c == 'f' || c == 'n') kind = GrammarNode::kLiterals, f.node = -1;
    else return false;
  }
  switch (kind) {
    case GrammarNode::kObject:
      if (c != '{') return false;
      f.kind = kObj;
      f.phase = O_START;
      break;
    case GrammarNode::kArray:
      if (c != '[') return false;
      f.kind = kArr;
      f.phase = A_START;
      break;
    case GrammarNode::kString:
      if (c != '"') return false;
      f.kind = kStr;
      f.phase = S_BODY;
      break;
    case GrammarNode::kNumber:
    case GrammarNode::kInteger:
      f.kind = kNum;
      f.pos = 1;
      if (c == '-') f.phase = N_MINUS;
      else if (c == '0') f.phase = N_ZERO;
      else if (IsDigit(c)) f.phase = N_INT;
      else return false;
      break;
    case GrammarNode::kLiterals: {
      const auto& lits = f.node < 0 ? BuiltinLiterals() : n.literals;
      for (size_t k = 0; k < lits.size(); ++k)
        if (!lits[k].empty() && static_cast<uint8_t>(lits[k][0]) == c) f.mask |= Bit(static_cast<int>(k));
      if (f.mask == 0) return false;
      f.kind = kLit;
      f.pos = 1;
      break;
    }
    case GrammarNode::kTemplate:
      if (c != static_cast<uint8_t>(n.literals[0][0])) return false;
      f.kind = kTpl;
      f.pos = 1;
      break;
    default:
      return false;
  }
  s.frames[s.depth++] = f;
  out->push_back(s);
  return true;
}

void JsonMatcher::Step(Stack s, uint8_t c, std::vector<Stack>* out, int fork_depth) const {
  while (true) {
    if (s.depth == 0) return;  // a complete value: nothing may follow
    Frame& f = *Top(s);
    const GrammarNode& n = g_->nodes[static_cast<size_t>(f.node < 0 ? 0 : f.node)];
    switch (f.kind) {
      case kValue: {
        const int32_t node = f.node;
        --s.depth;
        StartValue(s, node, c, out, fork_depth);
        return;
      }
      case kObj: {
        const bool generic = n.kind == GrammarNode::kAny || n.generic;
        auto open_key = [&]() {
          if (c != '"') return;
          if (generic) {
            f.phase = O_COLON;
            StartValue(s, JsonGrammar::kAnyStringNode, c, out, fork_depth);
            return;
          }
          f.mask = KeyCandidates(n, f.count);
          if (f.mask == 0) return;
          f.phase = O_KEY;
          f.pos = 1;
          out->push_back(s);
        };
        switch (f.phase) {
          case O_START:
            if (c == '}') {
              if (!generic && RequiredRemaining(n, 0)) return;
              --s.depth;
              out->push_back(s);
              return;
            }
            open_key();
            return;
          case O_AFTER_COMMA:
            if (c == ' ') {
              f.phase = O_AFTER_COMMA_SP;
              out->push_back(s);
              return;
            }
            open_key();
            return;
          case O_AFTER_COMMA_SP:
            open_key();
            return;
          case O_KEY: {
            uint64_t next = 0;
            int done = -1;
            for (int k = 0; k < 64; ++k) {
              if (!(f.mask & Bit(k))) continue;
              const std::string& key = n.keys[static_cast<size_t>(k)];
              if (f.pos < key.size() && static_cast<uint8_t>(key[f.pos]) == c) {
                next |= Bit(k);
                if (f.pos + 1 == key.size()) done = k;
              }
            }
            if (next == 0) return;
            if (done >= 0) {  // a key ends with its closing quote: no other candidate remains
              f.pos = static_cast<uint16_t>(done);
              f.count = static_cast<uint32_t>(done + 1);
              f.mask = 0;
              f.phase = O_COLON;
            } else {
              f.mask = next;
              ++f.pos;
            }
            out->push_back(s);
            return;
          }
          case O_COLON:
            if (c != ':') return;
            f.phase = O_AFTER_COLON;
            out->push_back(s);
            return;
          case O_AFTER_COLON:
          case O_AFTER_COLON_SP: {
            if (c == ' ' && f.phase == O_AFTER_COLON) {
              f.phase = O_AFTER_COLON_SP;
              out->push_back(s);
              return;
            }
            const int32_t child = generic ? JsonGrammar::kAnyNode : n.key_nodes[f.pos];
            f.phase = O_AFTER_VALUE;
            StartValue(s, child, c, out, fork_depth);
            return;
          }
          case O_AFTER_VALUE:
            if (c == ',') {
              if (!generic && KeyCandidates(n, f.count) == 0) return;
              f.phase = O_AFTER_COMMA;
              out->push_back(s);
              return;
            }
            if (c == '}') {
              if (!generic && RequiredRemaining(n, f.count)) return;
              --s.depth;
              out->push_back(s);
            }
            return;
        }
        return;
      }
      case kArr: {
        const bool any = n.kind == GrammarNode::kAny;
        const int32_t items = any ? JsonGrammar::kAnyNode : n.items;
        const uint32_t min = any ? 0 : static_cast<uint32_t>(n.min_count);
        int64_t max = any ? -1 : n.max_count;
        if (options_.max_items >= 0) max = max < 0 ? options_.max_items : std::min<int64_t>(max, std::max<int64_t>(options_.max_items, min));
        auto start_item = [&]() {
          if (max >= 0 && f.count >= max) return;
          ++f.count;
          f.phase = A_AFTER_ITEM;
          StartValue(s, items, c, out, fork_depth);
        };
        switch (f.phase) {
          case A_START:
            if (c == ']') {
              if (min > 0) return;
              --s.depth;
              out->push_back(s);
              return;
            }
            start_item();
            return;
          case A_AFTER_ITEM:
            if (c == ',') {
              if (max >= 0 && f.count >= max) return;
              f.phase = A_AFTER_COMMA;
              out->push_back(s);
            } else if (c == ']') {
              if (f.count < min) return;
              --s.depth;
              out->push_back(s);
            }
            return;
          case A_AFTER_COMMA:
            if (c == ' ') {
              f.phase = A_AFTER_COMMA_SP;
              out->push_back(s);
              return;
            }
            start_item();
            return;
          case A_AFTER_COMMA_SP:
            start_item();
            return;
        }
        return;
      }
      case kStr: {
        const uint32_t min = static_cast<uint32_t>(n.min_count);
        int64_t max = n.max_count;
        if (options_.max_string_chars >= 0)
          max = max < 0 ? options_.max_string_chars : std::min<int64_t>(max, std::max<int64_t>(options_.max_string_chars, min));
        const bool room = max < 0 || f.count < max;
        switch (f.phase) {
          case S_BODY:
            if (c == '"') {
              if (f.count < min) return;
              --s.depth;
              out->push_back(s);
              return;
            }
            if (!room || c < 0x20) return;
            if (c == '\\') {
              f.phase = S_ESC;
            } else if (c < 0x80) {
              ++f.count;
            } else {
              uint8_t lo = 0x80, hi = 0xBF, need;
              if (c >= 0xC2 && c <= 0xDF) need = 1;
              else if (c == 0xE0) need = 2, lo = 0xA0;
              else if (c == 0xED) need = 2, hi = 0x9F;
              else if (c >= 0xE1 && c <= 0xEF) need = 2;
              // NOTE: a length-limited string gets no characters beyond U+FFFF: JSON Schema counts
              // code points but JavaScript validators (zod) count UTF-16 units, where those are 2.
              else if (c >= 0xF0 && max >= 0) return;
              else if (c == 0xF0) need = 3, lo = 0x90;
              else if (c >= 0xF1 && c <= 0xF3) need = 3;
              else if (c == 0xF4) need = 3, hi = 0x8F;
              else return;
              ++f.count;
              f.phase = S_UTF8;
              f.pos = need;
              f.mask = static_cast<uint64_t>(lo) | (static_cast<uint64_t>(hi) << 8);
            }
            out->push_back(s);
            return;
          case S_UTF8: {
            const uint8_t lo = static_cast<uint8_t>(f.mask & 0xFF), hi = static_cast<uint8_t>(f.mask >> 8);
            if (c < lo || c > hi) return;
            f.mask = 0x80 | (0xBF << 8);
            if (--f.pos == 0) {
              f.phase = S_BODY;
              f.mask = 0;
            }
            out->push_back(s);
            return;
          }
          case S_ESC:
            if (c == 'u') {
              f.phase = S_HEX;
              f.pos = 0;
            } else if (std::strchr("\"\\/bfnrt", c) != nullptr && c != 0) {
              ++f.count;
              f.phase = S_BODY;
            } else {
              return;
            }
            out->push_back(s);
            return;
          case S_HEX:
            if (!IsHex(c)) return;
            if (++f.pos == 4) {
              ++f.count;
              f.phase = S_BODY;
              f.pos = 0;
            }
            out->push_back(s);
            return;
        }
        return;
      }
      case kNum: {
        const bool integer = n.kind == GrammarNode::kInteger;
        // Integers stay below 10^16 (exact in a double and an int64: every JSON reader's integer).
        const int32_t limit = integer ? std::min(options_.max_number_chars, 16) : options_.max_number_chars;
        const bool can_grow = f.pos < limit;
        uint8_t next = 255;
        switch (f.phase) {
          case N_MINUS:
            if (c == '0') next = N_ZERO;
            else if (IsDigit(c)) next = N_INT;
            else return;
            break;
          case N_ZERO:
          case N_INT:
            if (IsDigit(c) && f.phase == N_INT) next = N_INT;
            else if (c == '.' && !integer) next = N_DOT;
            break;
          case N_DOT:
            if (!IsDigit(c)) return;
            next = N_FRAC;
            break;
          case N_FRAC:
            if (IsDigit(c)) next = N_FRAC;
            break;
        }
        if (next != 255) {
          if (!can_grow) {
            // Out of room: a digit/dot is refused; the number may still end here.
            if (f.phase == N_MINUS || f.phase == N_DOT) return;
          } else {
            f.phase = next;
            ++f.pos;
            out->push_back(s);
            return;
          }
        }
        if (f.phase == N_MINUS || f.phase == N_DOT) return;
        --s.depth;  // the number ended before `c`: the parent reads it
        continue;
      }
      case kLit: {
        const auto& lits = f.node < 0 ? BuiltinLiterals() : n.literals;
        uint64_t next = 0;
        bool complete_now = false, longer = false;
        for (size_t k = 0; k < lits.size(); ++k) {
          if (!(f.mask & Bit(static_cast<int>(k)))) continue;
          const std::string& l = lits[k];
          if (l.size() == f.pos) complete_now = true;
          if (f.pos < l.size() && static_cast<uint8_t>(l[f.pos]) == c) {
            next |= Bit(static_cast<int>(k));
            if (l.size() > static_cast<size_t>(f.pos) + 1) longer = true;
          }
        }
        if (next != 0) {
          f.mask = next;
          ++f.pos;
          if (!longer) --s.depth;  // every remaining candidate is complete: pop now
          out->push_back(s);
          return;
        }
        if (!complete_now) return;
        --s.depth;
        continue;
      }
      case kTpl: {
        const std::string& t = n.literals[0];
        const char want = t[f.pos];
        if (want == 'H' ? !IsHex(c) : c != static_cast<uint8_t>(want)) return;
        if (++f.pos == t.size()) --s.depth;
        out->push_back(s);
        return;
      }
    }
    return;
  }
}

bool JsonMatcher::Feed(uint8_t c) {
  scratch_.clear();
  for (const Stack& s : stacks_) {
    Step(s, c, &scratch_, 0);
    if (static_cast<int>(scratch_.size()) > kMaxStacks) break;
  }
  if (scratch_.empty()) return false;
  if (scratch_.size() > 1) {
    std::vector<Stack> unique;
    for (const Stack& s : scratch_) {
      if (std::find(unique.begin(), unique.end(), s) == unique.end()) unique.push_back(s);
      if (static_cast<int>(unique.size()) >= kMaxStacks) break;
    }
    scratch_.swap(unique);
  }
  stacks_.swap(scratch_);
  return true;
}

bool JsonMatcher::FeedAll(std::string_view bytes) {
  for (char ch : bytes)
    if (!Feed(static_cast<uint8_t>(ch))) return false;
  return true;
}

bool JsonMatcher::StackAccepting(const Stack& in) const {
  Stack s = in;
  while (s.depth > 0) {
    const Frame& f = s.frames[s.depth - 1];
    if (f.kind == kNum && (f.phase == N_ZERO || f.phase == N_INT || f.phase == N_FRAC)) {
      --s.depth;
      continue;
    }
    if (f.kind == kLit) {
      const GrammarNode& n = g_->nodes[static_cast<size_t>(f.node < 0 ? 0 : f.node)];
      const auto& lits = f.node < 0 ? BuiltinLiterals() : n.literals;
      bool complete = false;
      for (size_t k = 0; k < lits.size(); ++k)
        if ((f.mask & Bit(static_cast<int>(k))) && lits[k].size() == f.pos) complete = true;
      if (!complete) return false;
      --s.depth;
      continue;
    }
    return false;
  }
  return true;
}

bool JsonMatcher::Accepting() const {
  for (const Stack& s : stacks_)
    if (StackAccepting(s)) return true;
  return false;
}

std::string JsonMatcher::Key(int32_t horizon_bytes) const {
  const int64_t h = horizon_bytes;
  auto clamp = [h](int64_t v) { return static_cast<uint32_t>(std::clamp<int64_t>(v, 0, h)); };
  std::string key;
  key.reserve(stacks_.size() * 4 * sizeof(Frame));
  for (const Stack& s : stacks_) {
    key.push_back(static_cast<char>(s.depth));
    for (int i = 0; i < s.depth; ++i) {
      Frame f = s.frames[i];
      const GrammarNode& n = g_->nodes[static_cast<size_t>(f.node < 0 ? 0 : f.node)];
      if (f.kind == kStr || f.kind == kArr) {
        int64_t min = n.min_count, max = n.max_count;
        const int32_t opt = f.kind == kStr ? options_.max_string_chars : options_.max_items;
        if (n.kind == GrammarNode::kAny) min = 0, max = -1;
        if (opt >= 0) max = max < 0 ? opt : std::min<int64_t>(max, std::max<int64_t>(opt, min));
        // Only the distance to a limit within reach of one token matters.
        const uint32_t need = clamp(min - f.count);
        const uint32_t room = max < 0 ? h + 1 : clamp(max - f.count);
        f.count = need | (room << 16);
      }
      key.append(reinterpret_cast<const char*>(&f), sizeof(Frame));
    }
  }
  return key;
}

}  // namespace swarmkv
