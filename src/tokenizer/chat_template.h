// ChatTemplate: renders a conversation [{role, content}] into the prompt text a model was trained
// on, for the template families real GGUF files carry: chatml (Qwen, many others), llama3,
// llama2 ([INST] with <<SYS>>), mistral ([INST] without a system turn), gemma, phi3.
//
// Invariant: rendering is prefix-stable: the text of a conversation is a prefix of the text of
// the same conversation with more turns appended (with or without the generation prompt of the
// shorter one, which equals the head of the next assistant turn), so a re-sent conversation
// hits the prefix cache. The rendered text carries the template's control tokens as text;
// tokenize it with parse_special = true and add_special = true (BOS comes from the tokenizer,
// never from the template).
//
// Thread-safety: immutable value.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/status.h"

namespace swarmkv {

class Vocab;

enum class ChatTemplateKind { kChatml, kLlama3, kLlama2, kMistral, kGemma, kPhi3 };

struct ChatMessage {
  std::string role;  // "system", "user", "assistant" (chatml also renders any other role)
  std::string content;
};

class ChatTemplate {
 public:
  ChatTemplate() = default;  // chatml
  explicit ChatTemplate(ChatTemplateKind kind) : kind_(kind) {}

  // The family a template's text belongs to (a GGUF Jinja template or an Ollama Go template),
  // recognised by its markers; nullopt when it is none of ours.
  static std::optional<ChatTemplateKind> Detect(std::string_view template_text);
  // A request or Modelfile override: a family name ("chatml", "llama3", "llama2", "mistral",
  // "gemma", "phi3") or a template text Detect recognises; InvalidArgument otherwise.
  static Result<ChatTemplate> Parse(std::string_view name_or_text);
  // The model's own template (tokenizer.chat_template) when recognised; otherwise chatml, and
  // `*warning` (also logged) names the model.
  static ChatTemplate ForVocab(const Vocab& vocab, std::string* warning = nullptr);

  // InvalidArgument for a role the template cannot express (e.g. "tool" outside chatml) or a
  // system message that is not first.
  Result<std::string> Render(std::span<const ChatMessage> messages, bool add_generation_prompt) const;

  ChatTemplateKind kind() const { return kind_; }
  std::string_view name() const;

 private:
  ChatTemplateKind kind_ = ChatTemplateKind::kChatml;
};

std::string_view ChatTemplateKindName(ChatTemplateKind kind);

}  // namespace swarmkv
