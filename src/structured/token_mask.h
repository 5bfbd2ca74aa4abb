// Token masks for constrained decoding: which tokens of a vocabulary can continue a JSON output.
//
// TokenTrie holds the vocabulary's token byte strings as a preorder trie (a subtree is a
// contiguous range, so a byte the grammar refuses skips every token under it at once).
// GrammarMasks is one grammar over one vocabulary with a cache of masks keyed by the matcher's
// canonical state (JsonMatcher::Key): a mask is computed once per distinct state by walking the
// trie with the matcher, then reused by every step and every request in that state — within a
// string, an array of numbers, ... the state repeats, so after warm-up a step costs a lookup.
// JsonConstraint is the per-generation TokenConstraint the engine drives.
//
// Invariants: a token with no bytes (control tokens) is never allowed; an end-of-generation token
// is allowed exactly when the output so far is a complete value. Every token sequence the masks
// allow spells an output the matcher accepts.
//
// Thread-safety: TokenTrie immutable; GrammarMasks::MaskFor thread-safe (a mutex around the
// cache, computation outside it); JsonConstraint one per sequence. ConstraintCache thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/token_constraint.h"
#include "structured/json_matcher.h"

namespace swarmkv {

class TokenTrie {
 public:
  // pieces[i]: the bytes token i stands for ("" for tokens that are never generated as text).
  static std::shared_ptr<const TokenTrie> Build(std::vector<std::string> pieces, std::vector<int32_t> eog_tokens);

  struct Node {
    uint8_t byte = 0;
    uint16_t depth = 0;     // 1 for the first byte of a token
    uint32_t end = 0;       // one past this node's subtree in preorder
    uint32_t tok_begin = 0; // tokens ending here: tokens_[tok_begin, tok_end)
    uint32_t tok_end = 0;
  };

  int32_t vocab_size() const { return static_cast<int32_t>(pieces_.size()); }
  int32_t max_token_bytes() const { return max_bytes_; }
  const std::string& piece(int32_t id) const { return pieces_[static_cast<size_t>(id)]; }
  bool is_eog(int32_t id) const;
  const std::vector<int32_t>& eog() const { return eog_; }
  const std::vector<Node>& nodes() const { return nodes_; }
  const std::vector<int32_t>& tokens() const { return tokens_; }

 private:
  std::vector<std::string> pieces_;
  std::vector<int32_t> eog_;
  std::vector<Node> nodes_;
  std::vector<int32_t> tokens_;
  int32_t max_bytes_ = 0;
};

class GrammarMasks {
 public:
  struct Entry {
    std::vector<uint64_t> bits;  // ceil(vocab / 64) words
    bool can_continue = false;   // some non-EOG token is allowed
  };
  // `max_entries`: masks kept before the cache is cleared (each is vocab / 8 bytes).
  GrammarMasks(JsonGrammar grammar, std::shared_ptr<const TokenTrie> trie, MatcherOptions options,
               size_t max_entries = 1024);

  JsonMatcher Start() const { return JsonMatcher(&grammar_, options_); }
  std::shared_ptr<const Entry> MaskFor(const JsonMatcher& state);
  const TokenTrie& trie() const { return *trie_; }
  const JsonGrammar& grammar() const { return grammar_; }

  struct Stats {
    int64_t hits = 0, misses = 0;
  };
  Stats stats() const;

 private:
  std::shared_ptr<Entry> Compute(const JsonMatcher& state) const;

  const JsonGrammar grammar_;
  const std::shared_ptr<const TokenTrie> trie_;
  const MatcherOptions options_;
  const size_t max_entries_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const Entry>> cache_;  // guarded by mu_
  Stats stats_;                                                         // guarded by mu_
};

class JsonConstraint final : public TokenConstraint {
 public:
  explicit JsonConstraint(std::shared_ptr<GrammarMasks> masks);
  Result<std::span<const uint64_t>> Allowed() override;
  Status Accept(int32_t token) override;
  bool Complete() const override;

 private:
  std::shared_ptr<GrammarMasks> masks_;
  JsonMatcher matcher_;
  std::shared_ptr<const GrammarMasks::Entry> current_;  // the mask of matcher_'s state, once asked
  bool ended_ = false;                                  // an EOG token was accepted
};

// Compiled grammars of one vocabulary by a caller's key (the schema's text), least recently used
// dropped beyond `capacity`, so a client repeating its schema pays the mask warm-up once. Clients
// choose the schemas, so the masks of all grammars together stay within `budget_bytes`.
class ConstraintCache {
 public:
  ConstraintCache(std::shared_ptr<const TokenTrie> trie, size_t capacity = 16, size_t budget_bytes = size_t{64} << 20)
      : trie_(std::move(trie)), capacity_(capacity), budget_bytes_(budget_bytes) {}
  // `make` compiles the grammar on a miss (its error is returned, nothing cached).
  Result<std::shared_ptr<GrammarMasks>> Get(const std::string& key, const std::function<Result<JsonGrammar>()>& make,
                                            const MatcherOptions& options = {});
  const std::shared_ptr<const TokenTrie>& trie() const { return trie_; }

 private:
  const std::shared_ptr<const TokenTrie> trie_;
  const size_t capacity_;
  const size_t budget_bytes_;
  std::mutex mu_;
  std::list<std::pair<std::string, std::shared_ptr<GrammarMasks>>> lru_;  // most recent first
};

}  // namespace swarmkv
