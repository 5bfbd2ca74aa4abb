#include "tokenizer/bpe_tokenizer.h"

#include <array>
#include <queue>
#include <unordered_map>

#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/unicode.h"

namespace swarmkv {
namespace {

struct MergeResult {
  int32_t rank;
  int32_t out;  // symbol id of the merged text (a token id when < vocab size)
};

uint64_t PairKey(int32_t l, int32_t r) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(l)) << 32) | static_cast<uint32_t>(r);
}

struct Sym {
  int32_t id;     // symbol id, -1 when the text is neither a token nor part of any merge
  int prev, next;
  uint32_t begin, size;  // bytes of the word
};

struct Pair {
  int32_t rank;
  int left, right;
  int32_t left_id, right_id, out;
  // Lowest rank first; on ties the leftmost pair.
  bool operator<(const Pair& o) const { return rank > o.rank || (rank == o.rank && left > o.left); }
};

class BpeTokenizer final : public Tokenizer {
 public:
  explicit BpeTokenizer(std::shared_ptr<const Vocab> vocab) : Tokenizer(std::move(vocab)) {
    const Vocab& v = *vocab_;
    next_id_ = v.size();
    const auto& merges = v.merges();
    merges_.reserve(merges.size() * 2);
    for (size_t rank = 0; rank < merges.size(); ++rank) {
      const std::string& m = merges[rank];
      const size_t sp = m.find(' ', 1);  // validated by Vocab::Create
      const std::string left = m.substr(0, sp);
      const std::string right = m.substr(sp + 1);
      const int32_t l = SymbolId(left), r = SymbolId(right), o = SymbolId(left + right);
      merges_.try_emplace(PairKey(l, r), MergeResult{static_cast<int32_t>(rank), o});
    }
    for (int b = 0; b < 256; ++b) {
      std::string s;
      unicode::AppendUtf8(unicode::ByteToCp(static_cast<uint8_t>(b)), &s);
      byte_sym_[b] = Lookup(s);
    }
  }

 protected:
  void EncodePlain(std::string_view text, bool, std::vector<int32_t>* out) const override {
    const std::vector<uint32_t> cpts = unicode::DecodeUtf8(text);
    const std::vector<uint32_t> pieces = PreTokenize(vocab_->pre_tokenizer(), cpts);
    std::string word;  // UTF-8 of one piece (invalid input already replaced by U+FFFD)
    std::string encoded;
    std::vector<Sym> syms;
    std::vector<Pair> heap;
    // Words repeat (identifiers, common words): their ids are cached for this call. Only short
    // words are cached so the cache stays small and a long word is merged once anyway.
    std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache;
    constexpr size_t kMaxCachedWordBytes = 48;
    size_t c = 0;
    for (uint32_t len : pieces) {
      word.clear();
      for (size_t k = 0; k < len; ++k) unicode::AppendUtf8(cpts[c + k], &word);
      c += len;
      const bool cacheable = word.size() <= kMaxCachedWordBytes;
      if (cacheable) {
        auto it = cache.find(std::string_view(word));
        if (it != cache.end()) {
          out->insert(out->end(), it->second.begin(), it->second.end());
          continue;
        }
      }
      const size_t first = out->size();
      EncodeWord(word, &encoded, &syms, &heap, out);
      if (cacheable) cache.emplace(word, std::vector<int32_t>(out->begin() + first, out->end()));
    }
  }

  void EncodeWord(const std::string& word, std::string* encoded, std::vector<Sym>* syms, std::vector<Pair>* heap,
                  std::vector<int32_t>* out) const {
    if (vocab_->ignore_merges()) {
      Encoded(word, 0, word.size(), encoded);
      const int32_t id = vocab_->Find(*encoded);
      if (id >= 0) {
        out->push_back(id);
        return;
      }
    }
    MergeWord(word, syms, heap);
    for (int i = 0; i != -1; i = (*syms)[i].next) Emit(word, (*syms)[i], encoded, out);
  }

  std::string NormalPiece(const std::string& text) const override {
    std::string out;
    out.reserve(text.size());
    size_t pos = 0;
    while (pos < text.size()) {
      const size_t start = pos;
      const uint32_t cp = unicode::DecodeOne(text, &pos);
      const int b = unicode::CpToByte(cp);
      if (b >= 0) {
        out.push_back(static_cast<char>(b));
      } else {
        out.append(text, start, pos - start);  // not a byte-level token: keep the text
      }
    }
    return out;
  }

 private:
  int32_t Lookup(std::string_view s) const {
    const int32_t id = vocab_->Find(s);
    if (id >= 0) return id;
    auto it = extra_.find(s);
    return it == extra_.end() ? -1 : it->second;
  }

  int32_t SymbolId(const std::string& s) {
    const int32_t id = Lookup(s);
    if (id >= 0) return id;
    extra_.emplace(s, next_id_);
    return next_id_++;
  }

  // GPT-2 byte-level text of word bytes [begin, begin + size).
  static void Encoded(const std::string& word, size_t begin, size_t size, std::string* out) {
    out->clear();
    for (size_t i = begin; i < begin + size; ++i) {
      unicode::AppendUtf8(unicode::ByteToCp(static_cast<uint8_t>(word[i])), out);
    }
  }

  void MergeWord(const std::string& word, std::vector<Sym>* syms, std::vector<Pair>* heap) const {
    syms->clear();
    heap->clear();
    const int n = static_cast<int>(word.size());
    // Symbols start as the word's bytes (one GPT-2 code point each).
    for (int i = 0; i < n; ++i) {
      syms->push_back({byte_sym_[static_cast<uint8_t>(word[i])], i - 1, i + 1 < n ? i + 1 : -1,
                       static_cast<uint32_t>(i), 1u});
    }
    auto add_pair = [&](int l, int r) {
      if (l < 0 || r < 0) return;
      const int32_t li = (*syms)[l].id, ri = (*syms)[r].id;
      if (li < 0 || ri < 0) return;
      auto it = merges_.find(PairKey(li, ri));
      if (it == merges_.end()) return;
      heap->push_back({it->second.rank, l, r, li, ri, it->second.out});
      std::push_heap(heap->begin(), heap->end());
    };
    for (int i = 1; i < static_cast<int>(syms->size()); ++i) add_pair(i - 1, i);
    while (!heap->empty()) {
      std::pop_heap(heap->begin(), heap->end());
      const Pair p = heap->back();
      heap->pop_back();
      Sym& l = (*syms)[p.left];
      Sym& r = (*syms)[p.right];
      // Stale: either side merged since the pair was queued.
      if (l.size == 0 || r.size == 0 || l.next != p.right || l.id != p.left_id || r.id != p.right_id) continue;
      l.id = p.out;
      l.size += r.size;
      r.size = 0;
      l.next = r.next;
      if (r.next >= 0) (*syms)[r.next].prev = p.left;
      add_pair(l.prev, p.left);
      add_pair(p.left, l.next);
    }
  }

  void Emit(const std::string& word, const Sym& s, std::string* encoded, std::vector<int32_t>* out) const {
    if (s.id >= 0 && s.id < vocab_->size()) {
      out->push_back(s.id);
      return;
    }
    // Not a token: llama.cpp looks up each single byte of the symbol's byte-level text.
    Encoded(word, s.begin, s.size, encoded);
    for (char ch : *encoded) {
      const int32_t id = vocab_->Find(std::string_view(&ch, 1));
      if (id >= 0) out->push_back(id);
    }
  }

  // Constant after construction.
  std::unordered_map<uint64_t, MergeResult> merges_;  // (left, right) symbol ids -> merge
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> extra_;  // merge texts that are no token
  int32_t next_id_ = 0;
  std::array<int32_t, 256> byte_sym_;
};

}  // namespace

std::unique_ptr<Tokenizer> NewBpeTokenizer(std::shared_ptr<const Vocab> vocab) {
  return std::make_unique<BpeTokenizer>(std::move(vocab));
}

}  // namespace swarmkv
