// StopMatcher: decides which generated text may be streamed now.
//
// Token pieces (raw bytes) go in; text safe to show comes out. Held back: (a) a trailing,
// incomplete UTF-8 character, and (b) the longest tail that is still the start of some stop
// string. When a stop string appears, the text before it is released, the stop string and
// anything after it are dropped, and stopped() turns true.
//
// Invariant: the concatenation of everything Push() and Finish() return equals the generated
// text cut before the first stop string — whatever the token boundaries were.
//
// Thread-safety: a value owned by one sequence.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace swarmkv {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops = {});

  // Appends one token's bytes; returns the text that can be emitted now (maybe empty).
  // After stopped(), returns "" and ignores input.
  std::string Push(std::string_view piece);
  // At the end of generation: releases whatever was held back (the partial match is not a stop;
  // an incomplete UTF-8 tail is replaced by U+FFFD so the output stays valid UTF-8).
  std::string Finish();

  bool stopped() const { return stopped_; }
  // The stop string that matched, when stopped().
  const std::string& matched() const { return matched_; }

 private:
  std::vector<std::string> stops_;
  std::string pending_;
  std::string matched_;
  bool stopped_ = false;
};

// Bytes at the end of `s` that begin a UTF-8 character not yet complete (0..3).
size_t IncompleteUtf8Tail(std::string_view s);

}  // namespace swarmkv
