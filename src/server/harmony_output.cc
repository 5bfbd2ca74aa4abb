#include "server/harmony_output.h"

#include <algorithm>
#include <cctype>

namespace swarmkv {
namespace {

using ojson = nlohmann::ordered_json;

constexpr std::string_view kStart = "<|start|>";
constexpr std::string_view kChannel = "<|channel|>";
constexpr std::string_view kMessage = "<|message|>";
// What ends a message's body: <|end|> (another message may follow), <|call|> and <|return|>
// (the reply ends; they are end-of-generation tokens, so usually absent from the text), and a
// <|start|> the model wrote without closing the message first.
constexpr std::string_view kBodyEnds[] = {"<|end|>", "<|call|>", "<|return|>", "<|start|>"};

// Length of the longest suffix of `s` that is a proper prefix of `marker`.
size_t PartialSuffix(std::string_view s, std::string_view marker) {
  for (size_t n = std::min(s.size(), marker.size() - 1); n > 0; --n) {
    if (s.substr(s.size() - n) == marker.substr(0, n)) return n;
  }
  return 0;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// The word after `key` in `header` (up to white space or the next framing token), or "".
std::string WordAfter(std::string_view header, std::string_view key) {
  const size_t at = header.find(key);
  if (at == std::string_view::npos) return "";
  size_t b = at + key.size(), e = b;
  while (e < header.size() && !std::isspace(static_cast<unsigned char>(header[e])) && header[e] != '<') ++e;
  return std::string(header.substr(b, e - b));
}

}  // namespace

void HarmonySplitter::StartBody() {
  const std::string channel = WordAfter(header_, kChannel);
  recipient_ = WordAfter(header_, "to=");
  if (!recipient_.empty() && tools_) {
    target_ = Target::kCall;
  } else if (channel == "analysis") {
    target_ = Target::kThinking;
  } else {
    target_ = Target::kContent;  // final, a commentary preamble, an unnamed channel
  }
  header_.clear();
  call_args_.clear();
  state_ = State::kBody;
}

void HarmonySplitter::Emit(std::string_view text, OutputSplitter::Delta* d) {
  switch (target_) {
    case Target::kThinking: d->thinking += text; break;
    case Target::kContent: d->content += text; break;
    case Target::kCall: call_args_ += text; break;
  }
}

void HarmonySplitter::EndMessage() {
  if (target_ == Target::kCall) {
    ParsedToolCall call;
    call.name = recipient_.starts_with("functions.") ? recipient_.substr(10) : recipient_;
    const std::string_view args = Trim(call_args_);
    ojson parsed = JsonNestingDepth(args) > kMaxJsonNesting
                       ? ojson(ojson::value_t::discarded)
                       : ojson::parse(args, nullptr, /*allow_exceptions=*/false);
    if (!call.name.empty() && parsed.is_object()) {
      call.arguments = std::move(parsed);
      calls_.push_back(std::move(call));
    } else {
      late_content_ += call_args_;  // not a call after all
    }
  }
  call_args_.clear();
  recipient_.clear();
  target_ = Target::kContent;
}

OutputSplitter::Delta HarmonySplitter::Push(std::string_view text) {
  OutputSplitter::Delta d;
  buffer_ += text;
  while (!buffer_.empty()) {
    switch (state_) {
      case State::kHeader: {
        const size_t at = buffer_.find(kMessage);
        if (at != std::string::npos) {
          header_ += buffer_.substr(0, at);
          buffer_.erase(0, at + kMessage.size());
          StartBody();
          continue;
        }
        const size_t keep = PartialSuffix(buffer_, kMessage);
        header_ += buffer_.substr(0, buffer_.size() - keep);
        buffer_.erase(0, buffer_.size() - keep);
        if (header_.size() > kMaxHeaderBytes) {  // not a header: plain text
          state_ = State::kBody;
          target_ = Target::kContent;
          d.content += header_;
          header_.clear();
          continue;
        }
        return d;
      }
      case State::kBody: {
        size_t at = std::string::npos, len = 0;
        for (std::string_view m : kBodyEnds) {
          const size_t p = buffer_.find(m);
          if (p < at) at = p, len = m.size();
        }
        if (at == std::string::npos) {
          size_t keep = 0;
          for (std::string_view m : kBodyEnds) keep = std::max(keep, PartialSuffix(buffer_, m));
          Emit(std::string_view(buffer_).substr(0, buffer_.size() - keep), &d);
          buffer_.erase(0, buffer_.size() - keep);
          return d;
        }
        Emit(std::string_view(buffer_).substr(0, at), &d);
        const bool starts_next = std::string_view(buffer_).substr(at, len) == kStart;
        buffer_.erase(0, at + len);
        EndMessage();
        state_ = starts_next ? State::kHeader : State::kBetween;
        continue;
      }
      case State::kBetween: {
        // After a message: the next one's <|start|> (or a bare <|channel|>); white space is
        // dropped, other text is content.
        size_t at = std::min(buffer_.find(kStart), buffer_.find(kChannel));
        if (at == std::string::npos) {
          const size_t keep = std::max(PartialSuffix(buffer_, kStart), PartialSuffix(buffer_, kChannel));
          const std::string_view gap = std::string_view(buffer_).substr(0, buffer_.size() - keep);
          if (!Trim(gap).empty()) d.content += gap;
          buffer_.erase(0, buffer_.size() - keep);
          return d;
        }
        const std::string_view gap = std::string_view(buffer_).substr(0, at);
        if (!Trim(gap).empty()) d.content += gap;
        if (buffer_.compare(at, kStart.size(), kStart) == 0) at += kStart.size();
        buffer_.erase(0, at);
        state_ = State::kHeader;
        continue;
      }
    }
  }
  return d;
}

ParsedOutput HarmonySplitter::Finish() {
  ParsedOutput out;
  switch (state_) {
    case State::kHeader: {
      // The reply ended inside a header (cut by a length limit): framing, not text — unless
      // there was no framing at all.
      const std::string rest = header_ + buffer_;
      if (rest.find("<|") == std::string::npos) out.content = rest;
      break;
    }
    case State::kBody: {
      OutputSplitter::Delta d;
      Emit(buffer_, &d);
      out.content = std::move(d.content);
      out.thinking = std::move(d.thinking);
      EndMessage();
      break;
    }
    case State::kBetween:
      if (!Trim(buffer_).empty()) out.content = buffer_;
      break;
  }
  out.content += late_content_;
  out.calls = std::move(calls_);
  buffer_.clear();
  header_.clear();
  late_content_.clear();
  calls_.clear();
  return out;
}

}  // namespace swarmkv
