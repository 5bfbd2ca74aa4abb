#include "tokenizer/spm_tokenizer.h"

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
  explicit SpmTokenizer(std::shared_ptr<const Vocab> vocab) : Tokenizer(std::move(vocab)) {
    const Vocab& v = *vocab_;
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
    Session s{*vocab_, text, {}, {}};
    s.Run();
    if (s.symbols.empty()) return;
    for (int i = 0; i != -1; i = s.symbols[i].next) Resegment(s, s.symbols[i], out);
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

  std::array<int32_t, 256> byte_token_;
};

}  // namespace

std::unique_ptr<Tokenizer> NewSpmTokenizer(std::shared_ptr<const Vocab> vocab) {
  return std::make_unique<SpmTokenizer>(std::move(vocab));
}

}  // namespace swarmkv
