#include "server/tool_calls.h"

#include <algorithm>

#include "server/harmony_output.h"

namespace swarmkv {
namespace {

using ojson = nlohmann::ordered_json;

constexpr std::string_view kThinkOpen = "<think>";
constexpr std::string_view kThinkClose = "</think>";
constexpr std::string_view kCallMarkers[] = {"<tool_call>", "[TOOL_CALLS]", "<|python_tag|>", "<function="};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// One {"name":..,"arguments"|"parameters":..} object (or {"function":{...}}) into a call.
bool CallFromJson(const ojson& j, ParsedToolCall* out) {
  if (!j.is_object()) return false;
  const ojson* obj = &j;
  if (j.contains("function") && j["function"].is_object()) obj = &j["function"];
  auto name = obj->find("name");
  if (name == obj->end() || !name->is_string() || name->get<std::string>().empty()) return false;
  out->name = name->get<std::string>();
  for (const char* key : {"arguments", "parameters"}) {
    auto a = obj->find(key);
    if (a == obj->end()) continue;
    if (a->is_string()) {
      ojson parsed = ojson::parse(a->get<std::string>(), nullptr, /*allow_exceptions=*/false);
      out->arguments = parsed.is_discarded() ? ojson::object() : parsed;
    } else {
      out->arguments = *a;
    }
    return true;
  }
  out->arguments = ojson::object();
  return true;
}

// A JSON call or an array of them; false (nothing appended) when `text` is not that.
bool CallsFromJsonText(std::string_view text, std::vector<ParsedToolCall>* out) {
  if (JsonNestingDepth(text) > kMaxJsonNesting) return false;
  ojson j = ojson::parse(Trim(text), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return false;
  std::vector<ParsedToolCall> calls;
  if (j.is_array()) {
    for (const auto& x : j) {
      ParsedToolCall c;
      if (!CallFromJson(x, &c)) return false;
      calls.push_back(std::move(c));
    }
    if (calls.empty()) return false;
  } else {
    ParsedToolCall c;
    if (!CallFromJson(j, &c)) return false;
    calls.push_back(std::move(c));
  }
  out->insert(out->end(), calls.begin(), calls.end());
  return true;
}

// The first JSON value starting at text[0] ('{' or '['): its length, or 0 when unbalanced.
size_t JsonValueLength(std::string_view text) {
  int depth = 0;
  bool in_string = false, escape = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escape) escape = false;
      else if (c == '\\') escape = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') ++depth;
    else if (c == '}' || c == ']') {
      if (--depth == 0) return i + 1;
    }
  }
  return 0;
}

// Calls in `text` (which starts at a marker or is a bare JSON reply); the text that is not part
// of a call goes to `rest`. False when nothing parsed as a call.
bool ParseCalls(std::string_view text, std::vector<ParsedToolCall>* calls, std::string* rest) {
  const size_t before = calls->size();
  std::string_view t = text;
  while (!t.empty()) {
    // The next marker.
    size_t at = std::string_view::npos, which = 0;
    for (size_t m = 0; m < std::size(kCallMarkers); ++m) {
      size_t p = t.find(kCallMarkers[m]);
      if (p < at) at = p, which = m;
    }
    if (at == std::string_view::npos) {
      if (CallsFromJsonText(t, calls)) return true;  // a bare JSON reply (or its tail)
      *rest += t;
      break;
    }
    *rest += t.substr(0, at);
    t.remove_prefix(at + kCallMarkers[which].size());
    const std::string_view marker = kCallMarkers[which];
    if (marker == "<function=") {
      const size_t gt = t.find('>');
      if (gt == std::string_view::npos) break;
      ParsedToolCall c;
      c.name = std::string(Trim(t.substr(0, gt)));
      t.remove_prefix(gt + 1);
      std::string_view body = Trim(t);
      const size_t n = body.empty() ? 0 : JsonValueLength(body);
      if (n > 0 && JsonNestingDepth(body.substr(0, n)) <= kMaxJsonNesting) {
        ojson a = ojson::parse(body.substr(0, n), nullptr, false);
        if (!a.is_discarded()) c.arguments = a;
        t = body.substr(n);
      }
      calls->push_back(std::move(c));
      const size_t end = t.find("</function>");
      if (end != std::string_view::npos && Trim(t.substr(0, end)).empty()) t.remove_prefix(end + 11);
      continue;
    }
    // JSON values after the marker: one or more (';' or ',' or whitespace between them).
    while (true) {
      std::string_view body = t;
      while (!body.empty() && (std::isspace(static_cast<unsigned char>(body.front())) || body.front() == ';')) body.remove_prefix(1);
      if (body.empty() || (body.front() != '{' && body.front() != '[')) {
        t = body;
        break;
      }
      const size_t n = JsonValueLength(body);
      if (n == 0) {  // cut off mid-call (length limit): not a call
        t = {};
        break;
      }
      CallsFromJsonText(body.substr(0, n), calls);
      t = body.substr(n);
      if (marker != "<|python_tag|>") break;
    }
    if (marker == "<tool_call>") {
      std::string_view r = t;
      while (!r.empty() && std::isspace(static_cast<unsigned char>(r.front()))) r.remove_prefix(1);
      if (r.substr(0, 12) == "</tool_call>") t = r.substr(12);
    }
  }
  return calls->size() > before;
}

// Length of the longest suffix of `text` that is a proper prefix of `marker`.
size_t PartialSuffix(std::string_view text, std::string_view marker) {
  for (size_t n = std::min(text.size(), marker.size() - 1); n > 0; --n)
    if (text.substr(text.size() - n) == marker.substr(0, n)) return n;
  return 0;
}

}  // namespace

int JsonNestingDepth(std::string_view text) {
  int depth = 0, max_depth = 0;
  bool in_string = false, escape = false;
  for (char c : text) {
    if (in_string) {
      if (escape) escape = false;
      else if (c == '\\') escape = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      max_depth = std::max(max_depth, ++depth);
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return max_depth;
}

ParsedOutput ParseModelOutput(std::string_view text, const OutputParseOptions& options) {
  OutputSplitter s(options);
  OutputSplitter::Delta d = s.Push(text);
  ParsedOutput out = s.Finish();
  out.content = d.content + out.content;
  out.thinking = d.thinking + out.thinking;
  if (!out.calls.empty()) out.content = std::string(Trim(out.content));
  return out;
}

OutputSplitter::OutputSplitter(const OutputParseOptions& options)
    : options_(options), in_thinking_(options.split_thinking && options.starts_in_thinking) {
  if (options.harmony) harmony_ = std::make_unique<HarmonySplitter>(options.tools);
}

OutputSplitter::~OutputSplitter() = default;

OutputSplitter::Delta OutputSplitter::Push(std::string_view text) {
  if (harmony_ != nullptr) return harmony_->Push(text);
  Delta d;
  buffer_ += text;
  while (!buffer_.empty()) {
    if (holding_call_) return d;
    if (in_thinking_) {
      const size_t end = buffer_.find(kThinkClose);
      if (end == std::string::npos) {
        const size_t keep = PartialSuffix(buffer_, kThinkClose);
        d.thinking += buffer_.substr(0, buffer_.size() - keep);
        buffer_.erase(0, buffer_.size() - keep);
        return d;
      }
      d.thinking += buffer_.substr(0, end);
      buffer_.erase(0, end + kThinkClose.size());
      in_thinking_ = false;
      after_think_ = true;
      continue;
    }
    if (after_think_) {
      // The whitespace between </think> and the answer is not content (it may come in pieces).
      const size_t first = buffer_.find_first_not_of(" \t\r\n");
      buffer_.erase(0, first == std::string::npos ? buffer_.size() : first);
      if (buffer_.empty()) return d;
      after_think_ = false;
    }
    if (!emitted_content_) {
      const std::string_view lead = Trim(buffer_);
      if (lead.empty()) return d;  // only whitespace so far
      if (options_.split_thinking) {
        const size_t ws = buffer_.find_first_not_of(" \t\r\n");
        std::string_view from = std::string_view(buffer_).substr(ws);
        if (from.substr(0, kThinkOpen.size()) == kThinkOpen) {
          buffer_.erase(0, ws + kThinkOpen.size());
          in_thinking_ = true;
          continue;
        }
        if (kThinkOpen.substr(0, from.size()) == from) return d;  // maybe "<thi..."
      }
      if (options_.tools && (lead.front() == '{' || lead.front() == '[')) {
        holding_call_ = true;  // a bare JSON reply: a call, or content once it fails to parse
        return d;
      }
    }
    if (!options_.tools) {
      d.content += buffer_;
      emitted_content_ = emitted_content_ || !Trim(buffer_).empty();
      buffer_.clear();
      return d;
    }
    size_t at = std::string::npos;
    for (std::string_view m : kCallMarkers) at = std::min(at, buffer_.find(m));
    size_t emit = buffer_.size();
    if (at != std::string::npos) {
      emit = at;
    } else {
      size_t keep = 0;
      for (std::string_view m : kCallMarkers) keep = std::max(keep, PartialSuffix(buffer_, m));
      emit = buffer_.size() - keep;
    }
    const std::string out = buffer_.substr(0, emit);
    d.content += out;
    emitted_content_ = emitted_content_ || !Trim(out).empty();
    buffer_.erase(0, emit);
    if (at != std::string::npos) holding_call_ = true;
    return d;
  }
  return d;
}

ParsedOutput OutputSplitter::Finish() {
  if (harmony_ != nullptr) return harmony_->Finish();
  ParsedOutput out;
  if (in_thinking_) {
    out.thinking = buffer_;  // the reply ended inside its thinking
  } else if (holding_call_) {
    std::string rest;
    if (ParseCalls(buffer_, &out.calls, &rest)) {
      out.content = std::string(Trim(rest));
    } else {
      out.content = buffer_;  // not a call after all
    }
  } else {
    out.content = buffer_;
  }
  buffer_.clear();
  return out;
}

}  // namespace swarmkv
