#include "tokenizer/chat_template.h"

#include "base/logging.h"
#include "tokenizer/jinja_template.h"
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

std::string_view ChatTemplate::name() const { return jinja_ != nullptr ? "jinja" : ChatTemplateKindName(kind_); }

std::optional<ChatTemplateKind> ChatTemplate::Detect(std::string_view t) {
  if (Contains(t, "<|im_start|>")) return ChatTemplateKind::kChatml;
  if (Contains(t, "<|start_header_id|>") && Contains(t, "<|end_header_id|>")) return ChatTemplateKind::kLlama3;
  if (Contains(t, "[INST]")) return Contains(t, "<<SYS>>") ? ChatTemplateKind::kLlama2 : ChatTemplateKind::kMistral;
  if (Contains(t, "<start_of_turn>")) return ChatTemplateKind::kGemma;
  if (Contains(t, "<|assistant|>") && Contains(t, "<|end|>")) return ChatTemplateKind::kPhi3;
  return std::nullopt;
}

Result<ChatTemplate> ChatTemplate::FromJinja(std::string_view source, std::string bos_token, std::string eos_token) {
  SKV_ASSIGN_OR_RETURN(std::shared_ptr<const JinjaTemplate> parsed, JinjaTemplate::Parse(source));
  ChatTemplate t;
  t.jinja_ = std::move(parsed);
  t.bos_token_ = std::move(bos_token);
  t.eos_token_ = std::move(eos_token);
  return t;
}

namespace {

// Go templates (Ollama Modelfiles) put a field reference or a keyword right after "{{".
bool LooksLikeGoTemplate(std::string_view t) {
  for (std::string_view m : {"{{ .", "{{- .", "{{.", "{{ if .", "{{- if .", "{{ range .", "{{- range ."}) {
    if (Contains(t, m)) return true;
  }
  return false;
}

bool LooksLikeJinja(std::string_view t) { return Contains(t, "{%") || Contains(t, "{{"); }

std::string TokenText(const Vocab& vocab, int32_t id) { return vocab.IsValid(id) ? vocab.Text(id) : std::string(); }

}  // namespace

Result<ChatTemplate> ChatTemplate::Parse(std::string_view name_or_text, const Vocab* vocab) {
  for (const auto& nk : kNames) {
    if (nk.name == name_or_text) return ChatTemplate(nk.kind);
  }
  const bool go = LooksLikeGoTemplate(name_or_text);
  if (!go && LooksLikeJinja(name_or_text)) {
    Result<ChatTemplate> t = vocab != nullptr ? FromJinja(name_or_text, TokenText(*vocab, vocab->bos()),
                                                          TokenText(*vocab, vocab->eos()))
                                              : FromJinja(name_or_text, "", "");
    if (t.ok()) {
      if (vocab != nullptr) t->strip_leading_bos_ = vocab->add_bos();
      return t;
    }
    if (!Detect(name_or_text)) return t.status();
  }
  if (auto kind = Detect(name_or_text)) return ChatTemplate(*kind);
  std::string shown(name_or_text.substr(0, 80));
  return InvalidArgumentError("unrecognised chat template '" + shown + (name_or_text.size() > 80 ? "..." : "") +
                              "': give chatml, llama3, llama2, mistral, gemma or phi3, a Jinja2 template, or a "
                              "template of one of those families");
}

std::optional<ChatTemplateKind> ChatTemplate::FamilyOfArchitecture(std::string_view architecture) {
  if (architecture == "gemma" || architecture == "gemma2" || architecture == "gemma3") return ChatTemplateKind::kGemma;
  if (architecture == "phi3") return ChatTemplateKind::kPhi3;
  if (architecture == "qwen2" || architecture == "qwen3") return ChatTemplateKind::kChatml;
  return std::nullopt;
}

ChatTemplate ChatTemplate::ForVocab(const Vocab& vocab, std::string* warning, std::string_view architecture) {
  const std::string model = vocab.name().empty() ? std::string("(unnamed model)") : "'" + vocab.name() + "'";
  std::string w;
  if (!vocab.chat_template().empty()) {
    Result<ChatTemplate> t =
        FromJinja(vocab.chat_template(), TokenText(vocab, vocab.bos()), TokenText(vocab, vocab.eos()));
    if (t.ok()) {
      t->strip_leading_bos_ = vocab.add_bos();
      return *std::move(t);
    }
    w = "model " + model + ": its chat template does not parse (" + t.status().message() + "); ";
  } else {
    w = "model " + model + ": has no chat template; ";
  }
  std::optional<ChatTemplateKind> kind = Detect(vocab.chat_template());
  if (!kind) kind = FamilyOfArchitecture(architecture);
  if (kind) {
    w += "using the built-in " + std::string(ChatTemplateKindName(*kind)) + " family";
  } else {
    w += "using chatml";
  }
  SKV_LOG(WARN) << w;
  if (warning != nullptr) *warning = std::move(w);
  return ChatTemplate(kind.value_or(ChatTemplateKind::kChatml));
}

Result<std::string> ChatTemplate::RenderFamily(std::span<const ChatMessage> messages,
                                               bool add_generation_prompt) const {
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

Result<std::string> ChatTemplate::RenderJson(const ChatRenderInput& input) const {
  if (!input.messages.is_array()) return InvalidArgumentError("chat template: messages must be an array");
  if (!input.tools.is_null() && !input.tools.is_array()) {
    return InvalidArgumentError("chat template: tools must be an array");
  }
  if (!input.extra.is_null() && !input.extra.is_object()) {
    return InvalidArgumentError("chat template: extra variables must be an object");
  }
  if (jinja_ != nullptr) {
    nlohmann::ordered_json ctx = nlohmann::ordered_json::object();
    if (input.extra.is_object()) {
      for (const auto& [k, v] : input.extra.items()) ctx[k] = v;
    }
    ctx["messages"] = input.messages;
    if (!input.tools.is_null()) ctx["tools"] = input.tools;
    ctx["add_generation_prompt"] = input.add_generation_prompt;
    ctx["bos_token"] = bos_token_;
    ctx["eos_token"] = eos_token_;
    SKV_ASSIGN_OR_RETURN(std::string out, jinja_->Render(ctx));
    if (strip_leading_bos_ && !bos_token_.empty() && out.starts_with(bos_token_)) out.erase(0, bos_token_.size());
    return out;
  }
  if (input.tools.is_array() && !input.tools.empty()) {
    return InvalidArgumentError("this model's template cannot render tools (the model file has no chat template; "
                                "built-in " + std::string(name()) + " family)");
  }
  std::vector<ChatMessage> msgs;
  msgs.reserve(input.messages.size());
  for (size_t i = 0; i < input.messages.size(); ++i) {
    const auto& m = input.messages[i];
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) {
      return InvalidArgumentError("chat template: message " + std::to_string(i) + " needs a string role");
    }
    if (m.contains("tool_calls") && !m["tool_calls"].is_null() && !m["tool_calls"].empty()) {
      return InvalidArgumentError("this model's template cannot render tool calls (message " + std::to_string(i) +
                                  "; built-in " + std::string(name()) + " family)");
    }
    ChatMessage cm;
    cm.role = m["role"].get<std::string>();
    if (m.contains("content") && !m["content"].is_null()) {
      if (!m["content"].is_string()) {
        return InvalidArgumentError("chat template: content of message " + std::to_string(i) +
                                    " must be text for the built-in " + std::string(name()) + " family");
      }
      cm.content = m["content"].get<std::string>();
    }
    msgs.push_back(std::move(cm));
  }
  return RenderFamily(msgs, input.add_generation_prompt);
}

Result<std::string> ChatTemplate::Render(std::span<const ChatMessage> messages, bool add_generation_prompt) const {
  if (jinja_ == nullptr) return RenderFamily(messages, add_generation_prompt);
  ChatRenderInput in;
  for (const auto& m : messages) in.messages.push_back({{"role", m.role}, {"content", m.content}});
  in.add_generation_prompt = add_generation_prompt;
  return RenderJson(in);
}

}  // namespace swarmkv
