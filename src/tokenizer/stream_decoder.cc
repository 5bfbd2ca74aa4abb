#include "tokenizer/stream_decoder.h"

namespace swarmkv {
namespace {

constexpr std::string_view kReplacementUtf8 = "\xEF\xBF\xBD";

// Length of the sequence a lead byte starts, 0 when it cannot start one.
int LeadLength(uint8_t b) {
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) return 2;
  if (b >= 0xE0 && b <= 0xEF) return 3;
  if (b >= 0xF0 && b <= 0xF4) return 4;
  return 0;
}

// Valid range of the second byte after lead `b` (excludes overlongs, surrogates, > U+10FFFF).
bool SecondByteOk(uint8_t lead, uint8_t b) {
  if (lead == 0xE0) return b >= 0xA0 && b <= 0xBF;
  if (lead == 0xED) return b >= 0x80 && b <= 0x9F;
  if (lead == 0xF0) return b >= 0x90 && b <= 0xBF;
  if (lead == 0xF4) return b >= 0x80 && b <= 0x8F;
  return b >= 0x80 && b <= 0xBF;
}

}  // namespace

size_t AppendSanitizedUtf8(std::string_view bytes, bool final, std::string* out) {
  size_t i = 0;
  const size_t n = bytes.size();
  while (i < n) {
    const auto b = static_cast<uint8_t>(bytes[i]);
    const int len = LeadLength(b);
    if (len == 1) {
      out->push_back(static_cast<char>(b));
      ++i;
      continue;
    }
    if (len == 0) {
      out->append(kReplacementUtf8);
      ++i;
      continue;
    }
    // Count the valid continuation bytes that follow.
    int k = 1;
    while (k < len && i + k < n) {
      const auto c = static_cast<uint8_t>(bytes[i + k]);
      const bool ok = k == 1 ? SecondByteOk(b, c) : (c & 0xC0) == 0x80;
      if (!ok) break;
      ++k;
    }
    if (k == len) {
      out->append(bytes.substr(i, len));
      i += len;
    } else if (i + k == n && !final) {
      return n - i;  // incomplete so far: wait for more bytes
    } else {
      out->append(kReplacementUtf8);  // maximal invalid subpart
      i += k;
    }
  }
  return 0;
}

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, DecodeOptions options)
    : tokenizer_(tokenizer), options_(options) {}

Result<std::string> StreamDecoder::Push(int32_t id) {
  SKV_ASSIGN_OR_RETURN(std::string piece, tokenizer_.TokenToPiece(id, options_.render_special));
  if (first_ && !piece.empty()) {
    first_ = false;
    if (options_.strip_leading_space && tokenizer_.vocab().model() == TokenizerModel::kSpm &&
        tokenizer_.vocab().add_space_prefix() && piece[0] == ' ') {
      piece.erase(0, 1);
    }
  }
  return PushBytes(piece);
}

std::string StreamDecoder::PushBytes(std::string_view bytes) {
  std::string in = std::move(pending_);
  in.append(bytes);
  pending_.clear();
  std::string out;
  const size_t keep = AppendSanitizedUtf8(in, false, &out);
  pending_.assign(in, in.size() - keep, keep);
  return out;
}

std::string StreamDecoder::Finish() {
  std::string out;
  AppendSanitizedUtf8(pending_, true, &out);
  pending_.clear();
  return out;
}

}  // namespace swarmkv
