#include "tokenizer/pre_tokenizer.h"

#include <algorithm>

#include "tokenizer/unicode.h"

namespace swarmkv {
namespace {

using unicode::CpFlags;

// The text one step scans: code points and their flags, the current piece [begin, end).
struct Span {
  const uint32_t* cp;
  const uint8_t* fl;
  size_t end;
};

bool IsWs(const Span& s, size_t i) { return s.fl[i] & unicode::kWhitespace; }
bool IsL(const Span& s, size_t i) { return s.fl[i] & unicode::kLetter; }
bool IsN(const Span& s, size_t i) { return s.fl[i] & unicode::kNumber; }
bool IsP(const Span& s, size_t i) { return s.fl[i] & unicode::kPunct; }
// [^\s\p{L}\p{N}]
bool IsRest(const Span& s, size_t i) {
  return !(s.fl[i] & (unicode::kWhitespace | unicode::kLetter | unicode::kNumber));
}
bool IsNl(const Span& s, size_t i) { return s.cp[i] == '\r' || s.cp[i] == '\n'; }

template <typename Pred>
size_t RunEnd(const Span& s, size_t i, Pred pred) {
  while (i < s.end && pred(s, i)) ++i;
  return i;
}

// Remembers the white-space run around the scan position, so that the alternatives that look
// at a whole run (\s+(?!\S), \s*[\r\n]+, \s+$) cost O(1) per position: scans only move forward.
struct WsRun {
  size_t start = 0, end = 0;
  size_t last_nl = SIZE_MAX;  // last \r or \n in [start, end), or SIZE_MAX
  void At(const Span& s, size_t p) {
    if (p >= start && p < end) return;
    start = p;
    end = p;
    last_nl = SIZE_MAX;
    while (end < s.end && IsWs(s, end)) {
      if (IsNl(s, end)) last_nl = end;
      ++end;
    }
  }
};

// \s+(?!\S) with \s+ as the fallback, at a white-space position p.
size_t MatchWsTail(const Span& s, size_t p, WsRun& run) {
  run.At(s, p);
  if (run.end == s.end) return run.end - p;
  if (run.end - p >= 2) return run.end - 1 - p;
  return 1;
}

size_t Lower(uint32_t c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

// 's|'t|'re|'ve|'m|'ll|'d, case-insensitively when asked.
size_t MatchContraction(const Span& s, size_t p, bool any_case) {
  if (s.cp[p] != '\'' || p + 1 >= s.end) return 0;
  auto c = [&](size_t k) { return any_case ? Lower(s.cp[p + k]) : s.cp[p + k]; };
  const size_t c1 = c(1);
  if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return 2;
  if (p + 2 < s.end) {
    const size_t c2 = c(2);
    if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return 3;
  }
  return 0;
}

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
size_t MatchGpt2(const Span& s, size_t p, WsRun& run) {
  if (size_t n = MatchContraction(s, p, false)) return n;
  const size_t q = (s.cp[p] == ' ' && p + 1 < s.end) ? p + 1 : p;
  if (IsL(s, q)) return RunEnd(s, q, IsL) - p;
  if (IsN(s, q)) return RunEnd(s, q, IsN) - p;
  if (IsRest(s, q)) return RunEnd(s, q, IsRest) - p;
  return MatchWsTail(s, p, run);
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,D}| ?[^\s\p{L}\p{N}]+[\r\n]*|
// \s*[\r\n]+|\s+(?!\S)|\s+
size_t MatchLlama3(const Span& s, size_t p, size_t max_digits, WsRun& run) {
  if (size_t n = MatchContraction(s, p, true)) return n;
  if (IsL(s, p)) return RunEnd(s, p, IsL) - p;
  if (!IsNl(s, p) && !IsN(s, p) && p + 1 < s.end && IsL(s, p + 1)) return RunEnd(s, p + 1, IsL) - p;
  if (IsN(s, p)) return std::min(RunEnd(s, p, IsN) - p, max_digits);
  const size_t q = (s.cp[p] == ' ' && p + 1 < s.end) ? p + 1 : p;
  if (IsRest(s, q)) return RunEnd(s, RunEnd(s, q, IsRest), IsNl) - p;
  run.At(s, p);
  if (run.last_nl != SIZE_MAX && run.last_nl >= p) return run.last_nl + 1 - p;
  return MatchWsTail(s, p, run);
}

bool IsUpperish(const Span& s, size_t i) { return unicode::CaseClasses(s.cp[i]) & unicode::kUpperClass; }
bool IsLowerish(const Span& s, size_t i) { return unicode::CaseClasses(s.cp[i]) & unicode::kLowerClass; }
// [^\r\n\p{L}\p{N}]
bool IsWordLead(const Span& s, size_t i) { return !IsNl(s, i) && !IsL(s, i) && !IsN(s, i); }
bool IsNlOrSlash(const Span& s, size_t i) { return IsNl(s, i) || s.cp[i] == '/'; }

// [Lu Lt Lm Lo M]*[Ll Lm Lo M]+ from `start`, as a backtracking engine matches it: the upper run
// as long as it goes, then the lower run; when no lower-class code point follows the upper run,
// the upper run gives back up to its last code point of both classes. The end, or 0 when the
// alternative does not match.
size_t UpperThenLowerEnd(const Span& s, size_t start) {
  const size_t u = RunEnd(s, start, IsUpperish);
  if (u < s.end && IsLowerish(s, u)) return RunEnd(s, u, IsLowerish);
  for (size_t k = u; k > start; --k) {
    if (IsLowerish(s, k - 1)) return k;
  }
  return 0;
}

// [Lu Lt Lm Lo M]+[Ll Lm Lo M]* from `start`; 0 when it does not match.
size_t UpperRunEnd(const Span& s, size_t start) {
  if (!IsUpperish(s, start)) return 0;
  return RunEnd(s, RunEnd(s, start, IsUpperish), IsLowerish);
}

// o200k (gpt-4o):
// [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|
// [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|
// \p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
// Each word alternative is tried with the optional lead code point taken, then without it.
size_t MatchGpt4o(const Span& s, size_t p, WsRun& run) {
  const bool lead = IsWordLead(s, p) && p + 1 < s.end;
  for (auto word_end : {UpperThenLowerEnd, UpperRunEnd}) {
    for (size_t start : {lead ? p + 1 : p, p}) {
      if (const size_t e = word_end(s, start)) return e + (e < s.end ? MatchContraction(s, e, true) : 0) - p;
    }
  }
  if (IsN(s, p)) return std::min<size_t>(RunEnd(s, p, IsN) - p, 3);
  const size_t q = (s.cp[p] == ' ' && p + 1 < s.end) ? p + 1 : p;
  if (IsRest(s, q)) return RunEnd(s, RunEnd(s, q, IsRest), IsNlOrSlash) - p;
  run.At(s, p);
  if (run.last_nl != SIZE_MAX && run.last_nl >= p) return run.last_nl + 1 - p;
  return MatchWsTail(s, p, run);
}

// \s?X+ for a class X that contains no white space.
template <typename Pred>
size_t MatchOptWsRun(const Span& s, size_t p, Pred pred) {
  if (IsWs(s, p) && p + 1 < s.end && pred(s, p + 1)) return RunEnd(s, p + 1, pred) - p;
  if (pred(s, p)) return RunEnd(s, p, pred) - p;
  return 0;
}

bool InRange(uint32_t c, uint32_t lo, uint32_t hi) { return c >= lo && c <= hi; }

// [\p{P}\$\+<=>\^~\|]+ (default), plus ` for falcon.
bool IsDefaultPunct(const Span& s, size_t i) {
  const uint32_t c = s.cp[i];
  return IsP(s, i) || c == '$' || c == '+' || c == '<' || c == '=' || c == '>' || c == '^' ||
         c == '~' || c == '|';
}
bool IsFalconPunct(const Span& s, size_t i) { return IsDefaultPunct(s, i) || s.cp[i] == '`'; }
// deepseek-llm's letter list is the cased letters (Lu, Ll, Lt).
bool IsCased(const Span& s, size_t i) { return s.fl[i] & unicode::kCasedLetter; }
// [!-/:-~！-／：-～‘-‟　-。]; non-ASCII white space never matches (llama.cpp maps it to \v first).
bool IsDeepseekPunct(const Span& s, size_t i) {
  const uint32_t c = s.cp[i];
  if (IsWs(s, i)) return false;
  return InRange(c, 0x21, 0x2F) || InRange(c, 0x3A, 0x7E) || InRange(c, 0xFF01, 0xFF0F) ||
         InRange(c, 0xFF1A, 0xFF5E) || InRange(c, 0x2018, 0x201F) || InRange(c, 0x3000, 0x3002);
}
// [一-龥ࠀ-一가-퟿]
bool IsCjk(const Span& s, size_t i) {
  const uint32_t c = s.cp[i];
  if (IsWs(s, i)) return false;
  return InRange(c, 0x4E00, 0x9FA5) || InRange(c, 0x0800, 0x4E00) || InRange(c, 0xAC00, 0xD7FF);
}
bool IsAsciiDigit(const Span& s, size_t i) { return s.cp[i] >= '0' && s.cp[i] <= '9'; }

enum class Step {
  kGpt2, kLlama3, kQwen2, kNewline, kDigit, kDigits, kThreeDigits, kDefaultPunct, kFalconPunct,
  kOptWsLetters, kOptWsPunct, kOptWsCased, kOptWsDeepseekPunct, kWsAtEnd, kCjk, kGpt4o,
};

// Length of the match of `step` at p (0 = no match at p).
size_t MatchAt(Step step, const Span& s, size_t p, WsRun& run) {
  switch (step) {
    case Step::kGpt2: return MatchGpt2(s, p, run);
    case Step::kLlama3: return MatchLlama3(s, p, 3, run);
    case Step::kQwen2: return MatchLlama3(s, p, 1, run);
    case Step::kNewline: return IsNl(s, p) ? 1 : 0;
    case Step::kDigit: return IsN(s, p) ? 1 : 0;
    case Step::kDigits: return RunEnd(s, p, IsN) - p;
    case Step::kThreeDigits:
      return p + 2 < s.end && IsAsciiDigit(s, p) && IsAsciiDigit(s, p + 1) && IsAsciiDigit(s, p + 2) ? 3 : 0;
    case Step::kDefaultPunct: return RunEnd(s, p, IsDefaultPunct) - p;
    case Step::kFalconPunct: return RunEnd(s, p, IsFalconPunct) - p;
    case Step::kOptWsLetters: return MatchOptWsRun(s, p, IsL);
    case Step::kOptWsPunct: return MatchOptWsRun(s, p, IsP);
    case Step::kOptWsCased: return MatchOptWsRun(s, p, IsCased);
    case Step::kOptWsDeepseekPunct: return MatchOptWsRun(s, p, IsDeepseekPunct);
    case Step::kWsAtEnd:
      if (!IsWs(s, p)) return 0;
      run.At(s, p);
      return run.end == s.end ? run.end - p : 0;
    case Step::kCjk: return RunEnd(s, p, IsCjk) - p;
    case Step::kGpt4o: return MatchGpt4o(s, p, run);
  }
  return 0;
}

// One regex step over every piece: matches and the unmatched text between them become pieces.
void ApplyStep(Step step, const uint32_t* cp, const uint8_t* fl, const std::vector<uint32_t>& in,
               std::vector<uint32_t>* out) {
  out->clear();
  size_t begin = 0;
  for (uint32_t len : in) {
    const Span s{cp, fl, begin + len};
    WsRun run;
    size_t gap_start = begin;
    size_t p = begin;
    while (p < s.end) {
      const size_t n = MatchAt(step, s, p, run);
      if (n == 0) {
        ++p;
        continue;
      }
      if (p > gap_start) out->push_back(static_cast<uint32_t>(p - gap_start));
      out->push_back(static_cast<uint32_t>(n));
      p += n;
      gap_start = p;
    }
    if (s.end > gap_start) out->push_back(static_cast<uint32_t>(s.end - gap_start));
    begin = s.end;
  }
}

std::vector<Step> StepsFor(PreTokenizerKind kind) {
  switch (kind) {
    case PreTokenizerKind::kDefault:
      return {Step::kDefaultPunct, Step::kGpt2, Step::kDigits, Step::kThreeDigits};
    case PreTokenizerKind::kGpt2: return {Step::kGpt2};
    case PreTokenizerKind::kLlama3: return {Step::kLlama3};
    case PreTokenizerKind::kQwen2: return {Step::kQwen2};
    case PreTokenizerKind::kDeepseekLlm:
      return {Step::kNewline, Step::kOptWsCased, Step::kOptWsDeepseekPunct, Step::kWsAtEnd,
              Step::kCjk, Step::kDigits};
    case PreTokenizerKind::kDeepseekCoder:
      return {Step::kNewline, Step::kOptWsLetters, Step::kOptWsPunct, Step::kCjk, Step::kDigit};
    case PreTokenizerKind::kFalcon:
      return {Step::kFalconPunct, Step::kGpt2, Step::kThreeDigits};
    case PreTokenizerKind::kStarcoder: return {Step::kDigit, Step::kGpt2};
    case PreTokenizerKind::kGpt4o: return {Step::kGpt4o};
  }
  return {};
}

struct NameKind {
  std::string_view name;
  PreTokenizerKind kind;
};
constexpr NameKind kNames[] = {
    {"default", PreTokenizerKind::kDefault},
    {"gpt-2", PreTokenizerKind::kGpt2}, {"mpt", PreTokenizerKind::kGpt2},
    {"olmo", PreTokenizerKind::kGpt2}, {"jais", PreTokenizerKind::kGpt2},
    {"phi-2", PreTokenizerKind::kGpt2}, {"roberta-bpe", PreTokenizerKind::kGpt2},
    {"gigachat", PreTokenizerKind::kGpt2}, {"jina-es", PreTokenizerKind::kGpt2},
    {"jina-de", PreTokenizerKind::kGpt2}, {"jina-v1-en", PreTokenizerKind::kGpt2},
    {"jina-v2-es", PreTokenizerKind::kGpt2}, {"jina-v2-de", PreTokenizerKind::kGpt2},
    {"jina-v2-code", PreTokenizerKind::kGpt2},
    {"llama3", PreTokenizerKind::kLlama3}, {"llama-v3", PreTokenizerKind::kLlama3},
    {"llama-bpe", PreTokenizerKind::kLlama3}, {"falcon3", PreTokenizerKind::kLlama3},
    {"dbrx", PreTokenizerKind::kLlama3}, {"smaug-bpe", PreTokenizerKind::kLlama3},
    {"chatglm-bpe", PreTokenizerKind::kLlama3},
    {"qwen2", PreTokenizerKind::kQwen2}, {"deepseek-r1-qwen", PreTokenizerKind::kQwen2},
    {"stablelm2", PreTokenizerKind::kQwen2}, {"megrez", PreTokenizerKind::kQwen2},
    {"deepseek-llm", PreTokenizerKind::kDeepseekLlm},
    {"deepseek-coder", PreTokenizerKind::kDeepseekCoder},
    {"falcon", PreTokenizerKind::kFalcon},
    {"starcoder", PreTokenizerKind::kStarcoder}, {"refact", PreTokenizerKind::kStarcoder},
    {"command-r", PreTokenizerKind::kStarcoder}, {"smollm", PreTokenizerKind::kStarcoder},
    {"codeshell", PreTokenizerKind::kStarcoder}, {"exaone", PreTokenizerKind::kStarcoder},
    {"minerva-7b", PreTokenizerKind::kStarcoder},
    {"gpt-4o", PreTokenizerKind::kGpt4o}, {"llama4", PreTokenizerKind::kGpt4o},
};

}  // namespace

Result<PreTokenizerKind> ParsePreTokenizer(std::string_view name, bool* ignore_merges) {
  *ignore_merges = false;
  if (name.empty()) return PreTokenizerKind::kDefault;
  for (const auto& nk : kNames) {
    if (nk.name == name) {
      *ignore_merges = (nk.kind == PreTokenizerKind::kLlama3 && name != "dbrx" && name != "smaug-bpe" &&
                        name != "chatglm-bpe") ||
                       nk.kind == PreTokenizerKind::kGpt4o;
      return nk.kind;
    }
  }
  return UnimplementedError("unsupported pre-tokenizer '" + std::string(name) +
                            "' (tokenizer.ggml.pre); supported: default, gpt-2, llama-bpe, qwen2, "
                            "deepseek-llm, deepseek-coder, falcon, starcoder, refact, mpt, gpt-4o and aliases");
}

std::string_view PreTokenizerName(PreTokenizerKind kind) {
  for (const auto& nk : kNames) {
    if (nk.kind == kind) return nk.name;
  }
  return "?";
}

std::vector<uint32_t> PreTokenize(PreTokenizerKind kind, const std::vector<uint32_t>& cpts) {
  if (cpts.empty()) return {};
  std::vector<uint8_t> flags(cpts.size());
  for (size_t i = 0; i < cpts.size(); ++i) flags[i] = CpFlags(cpts[i]);
  std::vector<uint32_t> pieces{static_cast<uint32_t>(cpts.size())};
  std::vector<uint32_t> next;
  for (Step step : StepsFor(kind)) {
    ApplyStep(step, cpts.data(), flags.data(), pieces, &next);
    pieces.swap(next);
  }
  return pieces;
}

}  // namespace swarmkv
