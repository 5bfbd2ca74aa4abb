#include "tokenizer/spm_tokenizer.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <queue>

#include "tokenizer/unicode.h"

namespace swarmkv {
namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";  // "▁"

struct Symbol {
  int prev;
  int next;
  size_t begin;  // byte offset in the escaped text
  size_t size;   // bytes; 0 once merged into its left neighbour
};

struct Bigram {
  int left, right;
  float score;
  size_t size;
  // Highest score first; on ties the leftmost pair.
  bool operator<(const Bigram& o) const { return score < o.score || (score == o.score && left > o.left); }
};

class SpmTokenizer final : public Tokenizer {
 public:
  SpmTokenizer(std::shared_ptr<const Vocab> vocab, size_t segment_bytes)
      : Tokenizer(std::move(vocab)), segment_bytes_(std::max<size_t>(segment_bytes, 16)) {
    const Vocab& v = *vocab_;
    for (int32_t id = 0; id < v.size(); ++id) max_token_bytes_ = std::max(max_token_bytes_, v.Text(id).size());
    for (int b = 0; b < 256; ++b) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
      int32_t id = v.Find(buf);
      if (id < 0) id = v.Find(std::string(1, static_cast<char>(b)));
      if (id < 0) id = v.unk();
      byte_token_[b] = id;
    }
  }

 protected:
  void EncodePlain(std::string_view raw, bool first_after_special, std::vector<int32_t>* out) const override {
    std::string text;
    text.reserve(raw.size() + 8);
    if (vocab_->add_space_prefix() && first_after_special) text += kSpace;
    for (char c : raw) {
      if (c == ' ') {
        text += kSpace;
      } else {
        text += c;
      }
    }
    size_t start = 0;
    while (start < text.size()) {
      const size_t end = NextCut(text, start);
      const std::string segment = text.substr(start, end - start);
      Session s{*vocab_, segment, {}, {}};
      s.Run();
      if (!s.symbols.empty()) {
        for (int i = 0; i != -1; i = s.symbols[i].next) Resegment(s, s.symbols[i], out);
      }
      start = end;
    }
  }

  std::string NormalPiece(const std::string& text) const override {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
      if (text.compare(i, kSpace.size(), kSpace) == 0) {
        out += ' ';
        i += kSpace.size();
      } else {
        out += text[i++];
      }
    }
    return out;
  }

 private:
  struct Session {
    const Vocab& vocab;
    const std::string& text;
    std::vector<Symbol> symbols;
    std::priority_queue<Bigram> queue;

    void Run() {
      size_t offs = 0;
      int index = 0;
      while (offs < text.size()) {
        const size_t len = std::min<size_t>(unicode::Utf8SeqLen(static_cast<uint8_t>(text[offs])), text.size() - offs);
        symbols.push_back({index - 1, offs + len == text.size() ? -1 : index + 1, offs, len});
        offs += len;
        ++index;
      }
      for (int i = 1; i < static_cast<int>(symbols.size()); ++i) TryAddBigram(i - 1, i);
      while (!queue.empty()) {
        const Bigram b = queue.top();
        queue.pop();
        Symbol& l = symbols[b.left];
        Symbol& r = symbols[b.right];
        if (l.size == 0 || r.size == 0 || l.size + r.size != b.size) continue;
        l.size += r.size;
        r.size = 0;
        l.next = r.next;
        if (r.next >= 0) symbols[r.next].prev = b.left;
        TryAddBigram(l.prev, b.left);
        TryAddBigram(b.left, l.next);
      }
    }

    void TryAddBigram(int left, int right) {
      if (left == -1 || right == -1) return;
      const std::string_view piece(text.data() + symbols[left].begin, symbols[left].size + symbols[right].size);
      const int32_t id = vocab.Find(piece);
      if (id < 0) return;
      queue.push({left, right, vocab.Score(id), piece.size()});
    }
  };

  void Resegment(const Session& s, const Symbol& sym, std::vector<int32_t>* out) const {
    const std::string_view piece(s.text.data() + sym.begin, sym.size);
    const int32_t id = vocab_->Find(piece);
    if (id >= 0) {
      out->push_back(id);
      return;
    }
    // NOTE: llama.cpp also keeps a map from merged text back to the pair that formed it, but
    // only texts that are tokens enter it, and a symbol reaches this point only when its text is
    // no token: that path can never run, so the bytes are all that is left.
    for (char c : piece) {
      const int32_t b = byte_token_[static_cast<uint8_t>(c)];
      if (b >= 0) out->push_back(b);
    }
  }

  // True when no vocabulary token occurs in `text` across position p (so no merge can join the
  // symbols on either side of p).
  bool SafeCut(const std::string& text, size_t p) const {
    const size_t lo = p >= max_token_bytes_ ? p - max_token_bytes_ + 1 : 0;
    for (size_t i = lo; i < p; ++i) {
      const size_t hi = std::min(text.size(), i + max_token_bytes_);
      for (size_t j = p + 1; j <= hi; ++j) {
        if (vocab_->Find(std::string_view(text).substr(i, j - i)) >= 0) return false;
      }
    }
    return true;
  }

  // The end of the segment that starts at `start`: a safe cut before a word start ("▁" after a
  // non-"▁") at or after start + segment_bytes_, else the end of the text.
  size_t NextCut(const std::string& text, size_t start) const {
    if (text.size() - start <= 2 * segment_bytes_) return text.size();
    for (size_t p = start + segment_bytes_; p + segment_bytes_ < text.size(); ++p) {
      if (text.compare(p, kSpace.size(), kSpace) != 0) continue;
      if (p >= kSpace.size() && text.compare(p - kSpace.size(), kSpace.size(), kSpace) == 0) continue;
      if (SafeCut(text, p)) return p;
    }
    return text.size();
  }

  // Constant after construction.
  size_t segment_bytes_;
  size_t max_token_bytes_ = 1;
  std::array<int32_t, 256> byte_token_;
};

}  // namespace

std::unique_ptr<Tokenizer> NewSpmTokenizer(std::shared_ptr<const Vocab> vocab, size_t segment_bytes) {
  return std::make_unique<SpmTokenizer>(std::move(vocab), segment_bytes);
}

}  // namespace swarmkv
