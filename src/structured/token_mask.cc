#include "structured/token_mask.h"

#include <algorithm>
#include <numeric>

namespace swarmkv {

std::shared_ptr<const TokenTrie> TokenTrie::Build(std::vector<std::string> pieces, std::vector<int32_t> eog_tokens) {
  auto t = std::make_shared<TokenTrie>();
  t->pieces_ = std::move(pieces);
  t->eog_ = std::move(eog_tokens);
  std::sort(t->eog_.begin(), t->eog_.end());
  std::vector<int32_t> order;
  for (int32_t i = 0; i < t->vocab_size(); ++i)
    if (!t->pieces_[static_cast<size_t>(i)].empty() && !t->is_eog(i)) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return t->pieces_[static_cast<size_t>(a)] < t->pieces_[static_cast<size_t>(b)];
  });
  // Preorder construction from the sorted pieces: each piece adds nodes below its longest common
  // prefix with the previous one; `path[d]` is the node index at depth d+1 on the current path.
  std::vector<uint32_t> path;
  const std::string* prev = nullptr;
  for (int32_t id : order) {
    const std::string& p = t->pieces_[static_cast<size_t>(id)];
    t->max_bytes_ = std::max<int32_t>(t->max_bytes_, static_cast<int32_t>(p.size()));
    size_t lcp = 0;
    if (prev != nullptr) {
      while (lcp < prev->size() && lcp < p.size() && (*prev)[lcp] == p[lcp]) ++lcp;
    }
    // Close the nodes deeper than the common prefix.
    while (path.size() > lcp) {
      t->nodes_[path.back()].end = static_cast<uint32_t>(t->nodes_.size());
      path.pop_back();
    }
    for (size_t d = lcp; d < p.size(); ++d) {
      Node n;
      n.byte = static_cast<uint8_t>(p[d]);
      n.depth = static_cast<uint16_t>(d + 1);
      path.push_back(static_cast<uint32_t>(t->nodes_.size()));
      t->nodes_.push_back(n);
    }
    // The token ends at the last node of its path (equal pieces share it).
    prev = &p;
    (void)id;
  }
  while (!path.empty()) {
    t->nodes_[path.back()].end = static_cast<uint32_t>(t->nodes_.size());
    path.pop_back();
  }
  // Tokens per node: walk the sorted order again with the same construction to find each end node.
  // Simpler: map each node to its tokens by descending the trie per piece.
  std::vector<std::vector<int32_t>> at(t->nodes_.size());
  for (int32_t id : order) {
    const std::string& p = t->pieces_[static_cast<size_t>(id)];
    size_t i = 0, end = t->nodes_.size();
    size_t node = SIZE_MAX;
    for (size_t d = 0; d < p.size(); ++d) {
      // Children of the current node are the preorder range (i, end); find the one with p[d].
      while (i < end && t->nodes_[i].byte != static_cast<uint8_t>(p[d])) i = t->nodes_[i].end;
      node = i;
      end = t->nodes_[i].end;
      i = i + 1;
    }
    at[node].push_back(id);
  }
  for (size_t n = 0; n < t->nodes_.size(); ++n) {
    t->nodes_[n].tok_begin = static_cast<uint32_t>(t->tokens_.size());
    t->tokens_.insert(t->tokens_.end(), at[n].begin(), at[n].end());
    t->nodes_[n].tok_end = static_cast<uint32_t>(t->tokens_.size());
  }
  return t;
}

bool TokenTrie::is_eog(int32_t id) const { return std::binary_search(eog_.begin(), eog_.end(), id); }

GrammarMasks::GrammarMasks(JsonGrammar grammar, std::shared_ptr<const TokenTrie> trie, MatcherOptions options,
                           size_t max_entries)
    : grammar_(std::move(grammar)), trie_(std::move(trie)), options_(options), max_entries_(std::max<size_t>(max_entries, 1)) {}

GrammarMasks::Stats GrammarMasks::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

std::shared_ptr<GrammarMasks::Entry> GrammarMasks::Compute(const JsonMatcher& state) const {
  auto e = std::make_shared<Entry>();
  const int32_t vocab = trie_->vocab_size();
  e->bits.assign(static_cast<size_t>((vocab + 63) / 64), 0);
  const auto& nodes = trie_->nodes();
  const auto& tokens = trie_->tokens();
  // levels[d]: the state after the first d bytes of the current trie path.
  std::vector<JsonMatcher> levels(static_cast<size_t>(trie_->max_token_bytes()) + 1, state);
  for (size_t i = 0; i < nodes.size();) {
    const TokenTrie::Node& n = nodes[i];
    JsonMatcher& m = levels[n.depth];
    m.CopyStateFrom(levels[n.depth - 1]);
    if (!m.Feed(n.byte)) {
      i = n.end;  // no token below can be valid
      continue;
    }
    for (uint32_t k = n.tok_begin; k < n.tok_end; ++k) {
      const int32_t t = tokens[k];
      e->bits[static_cast<size_t>(t) / 64] |= uint64_t{1} << (t % 64);
      e->can_continue = true;
    }
    ++i;
  }
  if (state.Accepting()) {
    for (int32_t t : trie_->eog()) e->bits[static_cast<size_t>(t) / 64] |= uint64_t{1} << (t % 64);
  }
  return e;
}

std::shared_ptr<const GrammarMasks::Entry> GrammarMasks::MaskFor(const JsonMatcher& state) {
  std::string key = state.Key(trie_->max_token_bytes() + 1);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      ++stats_.hits;
      return it->second;
    }
    ++stats_.misses;
  }
  std::shared_ptr<const Entry> e = Compute(state);
  std::lock_guard<std::mutex> lock(mu_);
  if (cache_.size() >= max_entries_) cache_.clear();
  cache_.emplace(std::move(key), e);
  return e;
}

JsonConstraint::JsonConstraint(std::shared_ptr<GrammarMasks> masks) : masks_(std::move(masks)), matcher_(masks_->Start()) {}

Result<std::span<const uint64_t>> JsonConstraint::Allowed() {
  if (ended_) return FailedPreconditionError("structured output: generation continued after the end");
  if (current_ == nullptr) current_ = masks_->MaskFor(matcher_);
  if (!current_->can_continue && !matcher_.Accepting())
    return InternalError("structured output: no token of the vocabulary can continue the output");
  return std::span<const uint64_t>(current_->bits);
}

Status JsonConstraint::Accept(int32_t token) {
  current_.reset();
  if (token < 0 || token >= masks_->trie().vocab_size())
    return InvalidArgumentError("structured output: token " + std::to_string(token) + " outside the vocabulary");
  if (masks_->trie().is_eog(token)) {
    if (!matcher_.Accepting()) return InternalError("structured output: end of generation before the value is complete");
    ended_ = true;
    return Status::OK();
  }
  const std::string& piece = masks_->trie().piece(token);
  if (piece.empty() || !matcher_.FeedAll(piece))
    return InternalError("structured output: token " + std::to_string(token) + " does not continue the value");
  return Status::OK();
}

bool JsonConstraint::Complete() const {
  if (ended_) return true;
  if (!matcher_.Accepting()) return false;
  std::shared_ptr<const GrammarMasks::Entry> e = current_ != nullptr ? current_ : masks_->MaskFor(matcher_);
  return !e->can_continue;
}

Result<std::shared_ptr<GrammarMasks>> ConstraintCache::Get(const std::string& key, const std::function<Result<JsonGrammar>()>& make,
                                                           const MatcherOptions& options) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = lru_.begin(); it != lru_.end(); ++it) {
      if (it->first != key) continue;
      lru_.splice(lru_.begin(), lru_, it);
      return lru_.front().second;
    }
  }
  SKV_ASSIGN_OR_RETURN(JsonGrammar g, make());
  const size_t mask_bytes = static_cast<size_t>(trie_->vocab_size() + 63) / 64 * 8;
  const size_t per_grammar = std::min<size_t>(1024, budget_bytes_ / capacity_ / std::max<size_t>(mask_bytes, 1));
  auto masks = std::make_shared<GrammarMasks>(std::move(g), trie_, options, per_grammar);
  std::lock_guard<std::mutex> lock(mu_);
  lru_.emplace_front(key, masks);
  if (lru_.size() > capacity_) lru_.pop_back();
  return masks;
}

}  // namespace swarmkv
