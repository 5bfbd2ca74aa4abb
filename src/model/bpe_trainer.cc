#include "model/bpe_trainer.h"

#include <algorithm>
#include <map>
#include <unordered_map>

namespace swarmkv {
namespace {

// GPT-2: printable bytes map to themselves; the rest to U+0100.. in byte order.
uint32_t ByteCodepoint(uint8_t b) {
  auto printable = [](int c) { return (c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255); };
  if (printable(b)) return b;
  uint32_t n = 0;
  for (int c = 0; c < b; ++c)
    if (!printable(c)) ++n;
  return 256 + n;
}

std::string Utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

enum class CharClass { kSpace, kLetter, kDigit, kOther };

CharClass Classify(uint8_t c) {
  if (c == ' ' || c == '\n' || c == '\t' || c == '\r') return CharClass::kSpace;
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80) return CharClass::kLetter;  // UTF-8 as letters
  if (c >= '0' && c <= '9') return CharClass::kDigit;
  return CharClass::kOther;
}

// GPT-2-like pre-tokenization: " word", " 123", " ...", or a whitespace run.
std::vector<std::string_view> PreTokenize(std::string_view text) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    CharClass c = Classify(static_cast<uint8_t>(text[i]));
    if (text[i] == ' ' && i + 1 < text.size() && Classify(static_cast<uint8_t>(text[i + 1])) != CharClass::kSpace) {
      ++i;
      c = Classify(static_cast<uint8_t>(text[i]));
    }
    while (i < text.size() && Classify(static_cast<uint8_t>(text[i])) == c) ++i;
    out.push_back(text.substr(start, i - start));
  }
  return out;
}

}  // namespace

std::string ByteToUnicode(uint8_t byte) { return Utf8(ByteCodepoint(byte)); }

std::string BytesToUnicode(std::string_view bytes) {
  std::string s;
  for (char c : bytes) s += ByteToUnicode(static_cast<uint8_t>(c));
  return s;
}

BpeVocab TrainByteLevelBpe(std::string_view text, size_t max_merges) {
  BpeVocab v;
  std::vector<std::string> raw;  // token bytes (unmapped), for uniqueness
  for (int b = 0; b < 256; ++b) {
    v.tokens.push_back(ByteToUnicode(static_cast<uint8_t>(b)));
    raw.emplace_back(1, static_cast<char>(b));
  }
  std::unordered_map<std::string, int32_t> id_of;
  for (int b = 0; b < 256; ++b) id_of[raw[b]] = b;

  // Unique pre-tokens with counts; std::map keeps the iteration order deterministic.
  std::map<std::string, int64_t> counts;
  for (std::string_view p : PreTokenize(text)) ++counts[std::string(p)];
  struct Word {
    std::vector<int32_t> syms;
    int64_t count;
  };
  std::vector<Word> words;
  for (const auto& [w, n] : counts) {
    Word word{{}, n};
    for (char c : w) word.syms.push_back(static_cast<uint8_t>(c));
    words.push_back(std::move(word));
  }

  while (v.merges.size() < max_merges) {
    std::unordered_map<uint64_t, int64_t> pairs;
    for (const Word& w : words)
      for (size_t i = 0; i + 1 < w.syms.size(); ++i)
        pairs[(static_cast<uint64_t>(w.syms[i]) << 32) | static_cast<uint32_t>(w.syms[i + 1])] += w.count;
    if (pairs.empty()) break;
    uint64_t best = 0;
    int64_t best_count = -1;
    for (const auto& [key, n] : pairs) {
      if (n < best_count) continue;
      if (n == best_count) {
        const std::string& l1 = raw[key >> 32];
        const std::string& r1 = raw[key & 0xFFFFFFFF];
        const std::string& l2 = raw[best >> 32];
        const std::string& r2 = raw[best & 0xFFFFFFFF];
        if (std::tie(l1, r1) >= std::tie(l2, r2)) continue;
      }
      best = key;
      best_count = n;
    }
    const int32_t left = static_cast<int32_t>(best >> 32), right = static_cast<int32_t>(best & 0xFFFFFFFF);
    std::string merged = raw[left] + raw[right];
    v.merges.push_back(v.tokens[left] + " " + v.tokens[right]);
    int32_t id;
    if (auto it = id_of.find(merged); it != id_of.end()) {
      id = it->second;
    } else {
      id = static_cast<int32_t>(raw.size());
      raw.push_back(merged);
      v.tokens.push_back(BytesToUnicode(merged));
      id_of.emplace(merged, id);
    }
    for (Word& w : words) {
      std::vector<int32_t> out;
      out.reserve(w.syms.size());
      for (size_t i = 0; i < w.syms.size(); ++i) {
        if (i + 1 < w.syms.size() && w.syms[i] == left && w.syms[i + 1] == right) {
          out.push_back(id);
          ++i;
        } else {
          out.push_back(w.syms[i]);
        }
      }
      w.syms = std::move(out);
    }
  }
  return v;
}

}  // namespace swarmkv
