#include "model/bpe_trainer.h"

#include <algorithm>
#include <map>
#include <tuple>
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

  // Pair counts kept incrementally: a merge touches only the words that hold its pair, so each
  // step costs the affected words plus a heap pop instead of a recount of the whole corpus. The
  // heap holds (count, pair) snapshots; an entry whose count is no longer the pair's current count
  // is stale and skipped. Order: highest count, then the lexicographically smallest (left, right)
  // byte strings — the same choice a full recount per step makes.
  auto key_of = [](int32_t l, int32_t r) { return (static_cast<uint64_t>(l) << 32) | static_cast<uint32_t>(r); };
  std::unordered_map<uint64_t, int64_t> pairs;
  struct Entry {
    int64_t count;
    uint64_t key;
  };
  auto worse = [&raw](const Entry& a, const Entry& b) {  // heap order: the best entry on top
    if (a.count != b.count) return a.count < b.count;
    return std::tie(raw[a.key >> 32], raw[a.key & 0xFFFFFFFF]) > std::tie(raw[b.key >> 32], raw[b.key & 0xFFFFFFFF]);
  };
  std::vector<Entry> heap;
  std::vector<uint64_t> touched;
  auto add_pairs = [&](const Word& w, int64_t sign) {
    for (size_t i = 0; i + 1 < w.syms.size(); ++i) {
      const uint64_t k = key_of(w.syms[i], w.syms[i + 1]);
      pairs[k] += sign * w.count;
      touched.push_back(k);
    }
  };
  auto publish_touched = [&] {
    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
    for (uint64_t k : touched) {
      auto it = pairs.find(k);
      if (it->second > 0) {
        heap.push_back({it->second, k});
        std::push_heap(heap.begin(), heap.end(), worse);
      } else {
        pairs.erase(it);
      }
    }
    touched.clear();
  };
  for (const Word& w : words) add_pairs(w, +1);
  publish_touched();

  while (v.merges.size() < max_merges) {
    while (!heap.empty()) {
      auto it = pairs.find(heap.front().key);
      if (it != pairs.end() && it->second == heap.front().count) break;
      std::pop_heap(heap.begin(), heap.end(), worse);
      heap.pop_back();
    }
    if (heap.empty()) break;
    const uint64_t best = heap.front().key;
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
      bool holds = false;
      for (size_t i = 0; i + 1 < w.syms.size() && !holds; ++i) holds = w.syms[i] == left && w.syms[i + 1] == right;
      if (!holds) continue;
      add_pairs(w, -1);
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
      add_pairs(w, +1);
    }
    publish_touched();
  }
  return v;
}

}  // namespace swarmkv
