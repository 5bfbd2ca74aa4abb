#include "engine/stop_matcher.h"

#include <algorithm>

namespace swarmkv {

size_t IncompleteUtf8Tail(std::string_view s) {
  // Walk back over at most 3 continuation bytes to the lead byte, and compare the length it
  // announces with the bytes present.
  const size_t n = s.size();
  for (size_t back = 1; back <= std::min<size_t>(4, n); ++back) {
    const unsigned char c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte
    size_t need = 1;
    if ((c & 0xE0) == 0xC0) need = 2;
    else if ((c & 0xF0) == 0xE0) need = 3;
    else if ((c & 0xF8) == 0xF0) need = 4;
    return back < need ? back : 0;
  }
  return 0;  // only continuation bytes (invalid); nothing to wait for
}

StopMatcher::StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {
  std::erase_if(stops_, [](const std::string& s) { return s.empty(); });
}

std::string StopMatcher::Push(std::string_view piece) {
  if (stopped_) return {};
  pending_.append(piece);

  // The earliest complete stop string wins.
  size_t first = std::string::npos;
  for (const std::string& s : stops_) {
    const size_t at = pending_.find(s);
    if (at < first) {
      first = at;
      matched_ = s;
    }
  }
  if (first != std::string::npos) {
    stopped_ = true;
    std::string out = pending_.substr(0, first);
    pending_.clear();
    return out;
  }

  // Hold back the longest tail that is a proper prefix of some stop string.
  size_t hold = 0;
  for (const std::string& s : stops_) {
    for (size_t len = std::min(s.size() - 1, pending_.size()); len > hold; --len) {
      if (std::string_view(pending_).substr(pending_.size() - len) == std::string_view(s).substr(0, len)) {
        hold = len;
        break;
      }
    }
  }
  const size_t emit_end = pending_.size() - hold;
  size_t emit = emit_end - IncompleteUtf8Tail(std::string_view(pending_).substr(0, emit_end));
  std::string out = pending_.substr(0, emit);
  pending_.erase(0, emit);
  return out;
}

std::string StopMatcher::Finish() {
  if (stopped_) return {};
  std::string out = std::move(pending_);
  pending_.clear();
  const size_t bad = IncompleteUtf8Tail(out);
  if (bad > 0) {
    out.resize(out.size() - bad);
    out += "\xEF\xBF\xBD";
  }
  return out;
}

}  // namespace swarmkv
