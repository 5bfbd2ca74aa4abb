#include "tokenizer/chat_template.h"

#include "base/logging.h"
#include "tokenizer/vocab.h"

namespace swarmkv {
namespace {

bool Contains(std::string_view s, std::string_view sub) { return s.find(sub) != std::string_view::npos; }

std::string_view Trim(std::string_view s) {
  auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

struct NameKind {
  std::string_view name;
  ChatTemplateKind kind;
};
constexpr NameKind kNames[] = {
    {"chatml", ChatTemplateKind::kChatml}, {"llama3", ChatTemplateKind::kLlama3},
    {"llama2", ChatTemplateKind::kLlama2}, {"mistral", ChatTemplateKind::kMistral},
    {"gemma", ChatTemplateKind::kGemma},   {"phi3", ChatTemplateKind::kPhi3},
};

Status CheckRoles(std::span<const ChatMessage> messages, ChatTemplateKind kind) {
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string& r = messages[i].role;
    if (r == "system" && i != 0 && kind != ChatTemplateKind::kChatml && kind != ChatTemplateKind::kLlama3 &&
        kind != ChatTemplateKind::kPhi3) {
      return InvalidArgumentError("chat template " + std::string(ChatTemplateKindName(kind)) +
                                  ": a system message must be the first message (message " + std::to_string(i) + ")");
    }
    if (r != "system" && r != "user" && r != "assistant" && kind != ChatTemplateKind::kChatml) {
      return InvalidArgumentError("chat template " + std::string(ChatTemplateKindName(kind)) + ": role '" + r +
                                  "' of message " + std::to_string(i) + " is not supported (system, user, assistant)");
    }
  }
  return Status::OK();
}

void RenderChatml(std::span<const ChatMessage> msgs, bool gen, std::string* out) {
  for (const auto& m : msgs) *out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
  if (gen) *out += "<|im_start|>assistant\n";
}

void RenderLlama3(std::span<const ChatMessage> msgs, bool gen, std::string* out) {
  for (const auto& m : msgs) {
    *out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n";
    *out += Trim(m.content);
    *out += "<|eot_id|>";
  }
  if (gen) *out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
}

void RenderPhi3(std::span<const ChatMessage> msgs, bool gen, std::string* out) {
  for (const auto& m : msgs) *out += "<|" + m.role + "|>\n" + m.content + "<|end|>\n";
  if (gen) *out += "<|assistant|>\n";
}

// Gemma has no system turn: the system text opens the first user turn.
void RenderGemma(std::span<const ChatMessage> msgs, bool gen, std::string* out) {
  std::string system;
  for (const auto& m : msgs) {
    if (m.role == "system") {
      system = std::string(Trim(m.content));
      continue;
    }
    *out += "<start_of_turn>";
    *out += m.role == "assistant" ? "model" : "user";
    *out += "\n";
    if (!system.empty() && m.role == "user") {
      *out += system + "\n\n";
      system.clear();
    }
    *out += Trim(m.content);
    *out += "<end_of_turn>\n";
  }
  if (gen) *out += "<start_of_turn>model\n";
}

// Llama 2 chat: [INST] <<SYS>>..<</SYS>> on the first user turn, "<s>" re-opens later turns.
// Mistral: the same [INST] frame, the system text joined to the first user turn.
void RenderInst(std::span<const ChatMessage> msgs, bool gen, bool llama2, std::string* out) {
  std::string system;
  bool first_user = true;
  for (const auto& m : msgs) {
    if (m.role == "system") {
      system = std::string(Trim(m.content));
      continue;
    }
    if (m.role == "user") {
      if (!first_user && llama2) *out += "<s>";
      *out += "[INST] ";
      if (!system.empty()) {
        *out += llama2 ? "<<SYS>>\n" + system + "\n<</SYS>>\n\n" : system + "\n\n";
        system.clear();
      }
      *out += Trim(m.content);
      *out += " [/INST]";
      first_user = false;
    } else {  // assistant
      *out += " ";
      *out += Trim(m.content);
      *out += llama2 ? " </s>" : "</s>";
    }
  }
  (void)gen;  // the generation prompt is the open "[/INST]" itself
}

}  // namespace

std::string_view ChatTemplateKindName(ChatTemplateKind kind) {
  for (const auto& nk : kNames) {
    if (nk.kind == kind) return nk.name;
  }
  return "?";
}

std::string_view ChatTemplate::name() const { return ChatTemplateKindName(kind_); }

std::optional<ChatTemplateKind> ChatTemplate::Detect(std::string_view t) {
  if (Contains(t, "<|im_start|>")) return ChatTemplateKind::kChatml;
  if (Contains(t, "<|start_header_id|>") && Contains(t, "<|end_header_id|>")) return ChatTemplateKind::kLlama3;
  if (Contains(t, "[INST]")) return Contains(t, "<<SYS>>") ? ChatTemplateKind::kLlama2 : ChatTemplateKind::kMistral;
  if (Contains(t, "<start_of_turn>")) return ChatTemplateKind::kGemma;
  if (Contains(t, "<|assistant|>") && Contains(t, "<|end|>")) return ChatTemplateKind::kPhi3;
  return std::nullopt;
}

Result<ChatTemplate> ChatTemplate::Parse(std::string_view name_or_text) {
  for (const auto& nk : kNames) {
    if (nk.name == name_or_text) return ChatTemplate(nk.kind);
  }
  if (auto kind = Detect(name_or_text)) return ChatTemplate(*kind);
  std::string shown(name_or_text.substr(0, 80));
  return InvalidArgumentError("unrecognised chat template '" + shown + (name_or_text.size() > 80 ? "..." : "") +
                              "': give chatml, llama3, llama2, mistral, gemma or phi3, or a template of one of them");
}

ChatTemplate ChatTemplate::ForVocab(const Vocab& vocab, std::string* warning) {
  if (auto kind = Detect(vocab.chat_template())) return ChatTemplate(*kind);
  const std::string model = vocab.name().empty() ? std::string("(unnamed model)") : "'" + vocab.name() + "'";
  std::string w = "model " + model + ": " +
                  (vocab.chat_template().empty() ? std::string("has no chat template")
                                                 : std::string("chat template not recognised")) +
                  "; using chatml";
  SKV_LOG(WARN) << w;
  if (warning != nullptr) *warning = std::move(w);
  return ChatTemplate(ChatTemplateKind::kChatml);
}

Result<std::string> ChatTemplate::Render(std::span<const ChatMessage> messages, bool add_generation_prompt) const {
  SKV_RETURN_IF_ERROR(CheckRoles(messages, kind_));
  std::string out;
  switch (kind_) {
    case ChatTemplateKind::kChatml: RenderChatml(messages, add_generation_prompt, &out); break;
    case ChatTemplateKind::kLlama3: RenderLlama3(messages, add_generation_prompt, &out); break;
    case ChatTemplateKind::kLlama2: RenderInst(messages, add_generation_prompt, true, &out); break;
    case ChatTemplateKind::kMistral: RenderInst(messages, add_generation_prompt, false, &out); break;
    case ChatTemplateKind::kGemma: RenderGemma(messages, add_generation_prompt, &out); break;
    case ChatTemplateKind::kPhi3: RenderPhi3(messages, add_generation_prompt, &out); break;
  }
  return out;
}

}  // namespace swarmkv
