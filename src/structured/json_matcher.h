// JsonMatcher: the state of a partial JSON output against a JsonGrammar, advanced one byte at a
// time — a pushdown automaton whose stack holds one frame per open value.
//
// A state is a small set of stacks (anyOf branches that the bytes so far do not yet tell apart),
// each at most kMaxDepth frames deep, so nesting a client or a model can drive is bounded.
// Feed() returns false (and leaves the state unchanged) for a byte that no valid output can have
// next. Accepting() says the bytes so far are one complete value. Key() is a canonical encoding
// of the state: two states with equal keys accept exactly the same continuations of up to
// `horizon_bytes` bytes (string lengths and item counts far from their limits are clamped), which
// is what lets TokenMaskCache share one vocabulary mask among them.
//
// Thread-safety: a value; the grammar it points to must outlive it and is only read.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "structured/json_grammar.h"

namespace swarmkv {

struct MatcherOptions {
  int32_t max_number_chars = 24;  // a number longer than this is cut off (no endless digits)
  int32_t max_string_chars = -1;  // >= 0: every string at most this long (tests, tiny models)
  int32_t max_items = -1;         // >= 0: every array at most this long
};

class JsonMatcher {
 public:
  static constexpr int kMaxDepth = 32;
  static constexpr int kMaxStacks = 64;

  struct Frame {
    int32_t node = 0;
    uint8_t kind = 0;   // FrameKind (json_matcher.cc)
    uint8_t phase = 0;
    uint16_t pos = 0;   // byte position in a key/literal/template, or the chosen property
    uint32_t count = 0; // characters of a string, items of an array, next property of an object
    uint32_t reserved = 0;  // no padding: frames are compared and hashed as bytes
    uint64_t mask = 0;  // candidate keys/literals; UTF-8 bounds of a string
  };
  static_assert(sizeof(Frame) == 24, "Frame must have no padding");
  struct Stack {
    uint8_t depth = 0;
    std::array<Frame, kMaxDepth> frames;
    Stack() = default;
    Stack(const Stack& o) : depth(o.depth) { std::copy(o.frames.begin(), o.frames.begin() + o.depth, frames.begin()); }
    Stack& operator=(const Stack& o) {
      depth = o.depth;
      std::copy(o.frames.begin(), o.frames.begin() + o.depth, frames.begin());
      return *this;
    }
    bool operator==(const Stack& o) const;
  };

  JsonMatcher(const JsonGrammar* grammar, const MatcherOptions& options);

  bool Feed(uint8_t byte);
  bool FeedAll(std::string_view bytes);
  bool Accepting() const;
  // Canonical encoding (see the header comment); `horizon_bytes` >= the longest token.
  std::string Key(int32_t horizon_bytes) const;
  // Copies `other`'s state (same grammar) without reallocating: the mask walk does this per trie node.
  void CopyStateFrom(const JsonMatcher& other) { stacks_ = other.stacks_; }
  bool dead() const { return stacks_.empty(); }

 private:
  void Step(Stack s, uint8_t c, std::vector<Stack>* out, int fork_depth) const;
  bool StartValue(Stack& s, int32_t node, uint8_t c, std::vector<Stack>* out, int fork_depth) const;
  bool StackAccepting(const Stack& s) const;

  const JsonGrammar* g_;
  MatcherOptions options_;
  std::vector<Stack> stacks_;
  std::vector<Stack> scratch_;
};

}  // namespace swarmkv
