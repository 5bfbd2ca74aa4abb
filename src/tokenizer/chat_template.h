// ChatTemplate: renders a conversation into the prompt text a model was trained on.
//
// A model's own template (the Jinja2 source in tokenizer.chat_template, or one given by a request
// or Modelfile) is rendered by our Jinja2 interpreter (jinja_template.h) exactly as Hugging Face
// transformers renders it with Python's jinja2: variables messages, tools, add_generation_prompt,
// bos_token, eos_token and any `extra` (enable_thinking, documents, ...). Files without a
// template (or whose template does not parse) fall back to the built-in families recognised by
// content: chatml (Qwen, many others), llama3, llama2 ([INST] with <<SYS>>), mistral ([INST]
// without a system turn), gemma, phi3; those render text messages only (no tools).
//
// Invariant: the built-in families are prefix-stable: the text of a conversation is a prefix of
// the text of the same conversation with more turns appended (with or without the generation
// prompt of the shorter one, which equals the head of the next assistant turn), so a re-sent
// conversation hits the prefix cache. A model's own Jinja template gives no such guarantee: many
// real ones are not prefix-stable (Qwen3 drops the <think> of earlier assistant turns, Llama 3.1
// dates the system turn, DeepSeek-R1 strips reasoning), so the cache simply misses from the first
// differing token; correctness never depends on it. The rendered text carries the template's
// control tokens as text; tokenize it with parse_special = true and add_special = true: Jinja
// templates usually emit bos_token themselves, so for a vocab whose tokenizer adds BOS the one
// leading bos_token of the rendered text is dropped here (as llama.cpp does), never doubled.
//
// Thread-safety: immutable value; Render/RenderJson are const and safe to call concurrently.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace swarmkv {

class Vocab;
class JinjaTemplate;

enum class ChatTemplateKind { kChatml, kLlama3, kLlama2, kMistral, kGemma, kPhi3 };

struct ChatMessage {
  std::string role;  // "system", "user", "assistant" (chatml also renders any other role)
  std::string content;
};

// What a chat request gives the template. ordered_json keeps the client's key order (the model
// sees tool schemas in that order, as with Python); a nlohmann::json converts implicitly.
struct ChatRenderInput {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();  // [{role, content, tool_calls, ...}]
  nlohmann::ordered_json tools;  // null or an array of {"type": "function", "function": {...}}
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();  // enable_thinking, documents, ...
  bool add_generation_prompt = true;
};

class ChatTemplate {
 public:
  ChatTemplate() = default;  // chatml
  explicit ChatTemplate(ChatTemplateKind kind) : kind_(kind) {}

  // The family a template's text belongs to (a GGUF Jinja template or an Ollama Go template),
  // recognised by its markers; nullopt when it is none of ours.
  static std::optional<ChatTemplateKind> Detect(std::string_view template_text);
  // A request or Modelfile override: a family name ("chatml", "llama3", "llama2", "mistral",
  // "gemma", "phi3"), a Jinja2 template (rendered by the interpreter; bos/eos from `vocab` when
  // given), or a Go template text Detect recognises; InvalidArgument otherwise (the message names
  // the line of a Jinja syntax error).
  static Result<ChatTemplate> Parse(std::string_view name_or_text, const Vocab* vocab = nullptr);
  // The model's own Jinja template (tokenizer.chat_template) with the vocab's bos/eos tokens; a
  // file with no template, or one that does not parse, gets the family Detect recognises, else
  // its architecture's family (`architecture` = general.architecture: gemma* -> gemma, phi3 ->
  // phi3), else chatml, and `*warning` (also logged) says so.
  static ChatTemplate ForVocab(const Vocab& vocab, std::string* warning = nullptr,
                               std::string_view architecture = {});
  // The built-in family of an architecture's chat format, when it has one.
  static std::optional<ChatTemplateKind> FamilyOfArchitecture(std::string_view architecture);
  // A Jinja2 template with explicit special tokens (tests, tools).
  static Result<ChatTemplate> FromJinja(std::string_view source, std::string bos_token, std::string eos_token);

  // Renders messages/tools/extra. Errors: InvalidArgument when the template rejects the input
  // (raise_exception, e.g. "System role not supported") or fails on it (the message names the
  // template line); ResourceExhausted when a sandbox limit is hit; for the built-in families,
  // InvalidArgument for tools ("this model's template cannot render tools"), non-text content,
  // or a role the family cannot express.
  Result<std::string> RenderJson(const ChatRenderInput& input) const;

  // Text-only convenience: same as RenderJson with {role, content} messages and no tools.
  Result<std::string> Render(std::span<const ChatMessage> messages, bool add_generation_prompt) const;

  // True when this renders the model's Jinja template (else a built-in family).
  bool is_jinja() const { return jinja_ != nullptr; }
  ChatTemplateKind kind() const { return kind_; }
  // "jinja" or the family name.
  std::string_view name() const;

 private:
  Result<std::string> RenderFamily(std::span<const ChatMessage> messages, bool add_generation_prompt) const;

  ChatTemplateKind kind_ = ChatTemplateKind::kChatml;  // used when jinja_ is null
  std::shared_ptr<const JinjaTemplate> jinja_;
  std::string bos_token_, eos_token_;
  bool strip_leading_bos_ = false;  // the tokenizer adds BOS itself
};

std::string_view ChatTemplateKindName(ChatTemplateKind kind);

}  // namespace swarmkv
