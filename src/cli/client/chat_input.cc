#include "cli/client/chat_input.h"

namespace swarmkv::cli {

namespace {

constexpr const char* kQuotes = R"(""")";

bool EndsWithQuotes(const std::string& s) { return s.size() >= 3 && s.compare(s.size() - 3, 3, kQuotes) == 0; }

std::string TrimRight(std::string s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  return s;
}

}  // namespace

void ChatInput::Reset() {
  in_multiline_ = false;
  buffer_.clear();
}

ChatInputEvent ChatInput::Feed(const std::string& raw) {
  std::string line = TrimRight(raw);
  if (in_multiline_) {
    if (EndsWithQuotes(line)) {
      buffer_ += line.substr(0, line.size() - 3);
      ChatInputEvent e{ChatInputEvent::kMessage, buffer_};
      Reset();
      return e;
    }
    buffer_ += line + "\n";
    return {};
  }
  size_t start = line.find_first_not_of(" \t");
  if (start == std::string::npos) return {ChatInputEvent::kEmpty, ""};
  line = line.substr(start);
  if (line.rfind(kQuotes, 0) == 0) {
    std::string rest = line.substr(3);
    if (EndsWithQuotes(rest)) return {ChatInputEvent::kMessage, rest.substr(0, rest.size() - 3)};
    in_multiline_ = true;
    buffer_ = rest.empty() ? "" : rest + "\n";
    return {};
  }
  if (line[0] == '/') return {ChatInputEvent::kCommand, line.substr(0, line.find_first_of(" \t"))};
  return {ChatInputEvent::kMessage, line};
}

}  // namespace swarmkv::cli
