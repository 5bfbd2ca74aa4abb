#include "tokenizer/chat_template.h"

#include <gtest/gtest.h>

#include "base/testing.h"
#include "tokenizer/tokenizer.h"

namespace swarmkv {
namespace {

const std::vector<ChatMessage> kConversation = {
    {"system", "You are terse."},
    {"user", "Hi there"},
    {"assistant", "Hello! How can I help?"},
    {"user", "Name a color."},
};

std::string Render(ChatTemplateKind kind, std::span<const ChatMessage> msgs, bool gen) {
  auto r = ChatTemplate(kind).Render(msgs, gen);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : std::string();
}

TEST(ChatTemplate, ExactRenderings) {
  EXPECT_EQ(Render(ChatTemplateKind::kChatml, kConversation, true),
            "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n"
            "<|im_start|>assistant\nHello! How can I help?<|im_end|>\n<|im_start|>user\nName a color.<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(Render(ChatTemplateKind::kLlama3, kConversation, true),
            "<|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello! How can I help?<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nName a color.<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(Render(ChatTemplateKind::kLlama2, kConversation, true),
            "[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi there [/INST] Hello! How can I help? </s>"
            "<s>[INST] Name a color. [/INST]");
  EXPECT_EQ(Render(ChatTemplateKind::kMistral, kConversation, true),
            "[INST] You are terse.\n\nHi there [/INST] Hello! How can I help?</s>[INST] Name a color. [/INST]");
  EXPECT_EQ(Render(ChatTemplateKind::kGemma, kConversation, true),
            "<start_of_turn>user\nYou are terse.\n\nHi there<end_of_turn>\n"
            "<start_of_turn>model\nHello! How can I help?<end_of_turn>\n"
            "<start_of_turn>user\nName a color.<end_of_turn>\n<start_of_turn>model\n");
  EXPECT_EQ(Render(ChatTemplateKind::kPhi3, kConversation, true),
            "<|system|>\nYou are terse.<|end|>\n<|user|>\nHi there<|end|>\n"
            "<|assistant|>\nHello! How can I help?<|end|>\n<|user|>\nName a color.<|end|>\n<|assistant|>\n");
}

TEST(ChatTemplate, DetectsModelTemplatesByContent) {
  EXPECT_EQ(ChatTemplate::Detect("{% for m in messages %}{{'<|im_start|>' + m['role'] + '\\n'}}"),
            ChatTemplateKind::kChatml);
  EXPECT_EQ(ChatTemplate::Detect("{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}"),
            ChatTemplateKind::kLlama3);
  EXPECT_EQ(ChatTemplate::Detect("{{ bos_token + '[INST] ' + '<<SYS>>\\n' }}"), ChatTemplateKind::kLlama2);
  EXPECT_EQ(ChatTemplate::Detect("{{ '[INST] ' + message['content'] + ' [/INST]' }}"), ChatTemplateKind::kMistral);
  EXPECT_EQ(ChatTemplate::Detect("{{ '<start_of_turn>' + role + '\\n' }}"), ChatTemplateKind::kGemma);
  EXPECT_EQ(ChatTemplate::Detect("{{'<|user|>' + '\\n'}}{{'<|end|>'}}{{'<|assistant|>'}}"), ChatTemplateKind::kPhi3);
  // Ollama Modelfile Go templates carry the same markers.
  EXPECT_EQ(ChatTemplate::Detect("{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"),
            ChatTemplateKind::kChatml);
  EXPECT_EQ(ChatTemplate::Detect("{{ .Prompt }}"), std::nullopt);

  auto byname = ChatTemplate::Parse("gemma");
  ASSERT_TRUE(byname.ok());
  EXPECT_EQ(byname->kind(), ChatTemplateKind::kGemma);
  auto bad = ChatTemplate::Parse("vicuna");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

TEST(ChatTemplate, UnknownModelTemplateFallsBackToChatmlWithAWarning) {
  VocabData d;
  d.model = "llama";
  d.name = "TinyStories";
  d.tokens = {"<unk>", "<s>", "</s>", "a"};
  d.chat_template = "{{ .Prompt }}";
  auto vocab = Vocab::Create(d);
  ASSERT_TRUE(vocab.ok()) << vocab.status().ToString();
  std::string warning;
  EXPECT_EQ(ChatTemplate::ForVocab(**vocab, &warning).kind(), ChatTemplateKind::kChatml);
  EXPECT_NE(warning.find("'TinyStories'"), std::string::npos) << warning;
}

TEST(ChatTemplate, ModelWithoutTemplateGetsItsArchitecturesFamily) {
  VocabData d;
  d.model = "llama";
  d.name = "no-template";
  d.tokens = {"<unk>", "<s>", "</s>", "a"};
  auto vocab = Vocab::Create(d);
  ASSERT_TRUE(vocab.ok()) << vocab.status().ToString();
  std::string warning;
  EXPECT_EQ(ChatTemplate::ForVocab(**vocab, &warning, "gemma3").kind(), ChatTemplateKind::kGemma);
  EXPECT_NE(warning.find("gemma"), std::string::npos) << warning;
  EXPECT_EQ(ChatTemplate::ForVocab(**vocab, nullptr, "gemma2").kind(), ChatTemplateKind::kGemma);
  EXPECT_EQ(ChatTemplate::ForVocab(**vocab, nullptr, "phi3").kind(), ChatTemplateKind::kPhi3);
  EXPECT_EQ(ChatTemplate::ForVocab(**vocab, nullptr, "granite").kind(), ChatTemplateKind::kChatml);
  EXPECT_EQ(ChatTemplate::ForVocab(**vocab).kind(), ChatTemplateKind::kChatml);
}

TEST(ChatTemplate, RendersTheModelsOwnJinjaTemplate) {
  VocabData d;
  d.model = "llama";
  d.name = "tiny-chat";
  d.tokens = {"<unk>", "<s>", "</s>", "a"};
  d.chat_template =
      "{{ bos_token }}{% for m in messages %}<|{{ m.role }}|>{{ m.content }}"
      "{% if m.tool_calls %}{{ m.tool_calls[0].function.arguments | tojson }}{% endif %}{{ eos_token }}{% endfor %}"
      "{% if tools %}[{{ tools | map(attribute='function.name') | join(',') }}]{% endif %}"
      "{% if add_generation_prompt %}<|assistant|>{% if enable_thinking is false %}<think></think>{% endif %}{% endif %}";
  auto vocab = Vocab::Create(d);
  ASSERT_TRUE(vocab.ok()) << vocab.status().ToString();
  ASSERT_TRUE((*vocab)->add_bos());
  std::string warning;
  ChatTemplate t = ChatTemplate::ForVocab(**vocab, &warning);
  EXPECT_TRUE(t.is_jinja());
  EXPECT_EQ(t.name(), "jinja");
  EXPECT_TRUE(warning.empty()) << warning;

  ChatRenderInput in;
  in.messages = nlohmann::json::parse(R"([{"role": "user", "content": "Weather?"},
      {"role": "assistant", "content": "", "tool_calls": [{"type": "function",
       "function": {"name": "get_weather", "arguments": {"city": "Paris", "b": 1}}}]}])");
  in.tools = nlohmann::json::parse(R"([{"type": "function", "function": {"name": "get_weather"}},
                                       {"type": "function", "function": {"name": "search"}}])");
  in.extra = {{"enable_thinking", false}};
  auto r = t.RenderJson(in);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // The tokenizer adds BOS itself, so the template's leading bos_token is dropped (never doubled);
  // a nlohmann::json input converts to ordered_json, whose (sorted) key order tojson keeps.
  EXPECT_EQ(*r,
            "<|user|>Weather?</s><|assistant|>{\"b\": 1, \"city\": \"Paris\"}</s>[get_weather,search]"
            "<|assistant|><think></think>");

  // Text-only Render goes through the same template.
  const std::vector<ChatMessage> msgs = {{"user", "hi"}};
  auto plain = t.Render(msgs, false);
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ(*plain, "<|user|>hi</s>");

  // FromJinja (no vocab) keeps the template's text exactly.
  auto raw = ChatTemplate::FromJinja(d.chat_template, "<s>", "</s>");
  ASSERT_TRUE(raw.ok()) << raw.status().ToString();
  EXPECT_EQ(*raw->Render(msgs, false), "<s><|user|>hi</s>");
}

TEST(ChatTemplate, JinjaErrorsAreClearAndNameTheLine) {
  auto bad = ChatTemplate::Parse("{% for m in messages %}\n{{ m.content }");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("line 2"), std::string::npos) << bad.status().message();

  auto gemma_like = ChatTemplate::Parse(
      "{% if messages[0]['role'] == 'system' %}\n{{ raise_exception('System role not supported') }}{% endif %}ok");
  ASSERT_TRUE(gemma_like.ok()) << gemma_like.status().ToString();
  const std::vector<ChatMessage> sys = {{"system", "x"}, {"user", "y"}};
  auto r = gemma_like->Render(sys, true);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "chat template line 2: System role not supported");
}

TEST(ChatTemplate, BuiltInFamiliesRefuseToolsClearly) {
  ChatRenderInput in;
  in.messages = nlohmann::json::parse(R"([{"role": "user", "content": "hi"}])");
  in.tools = nlohmann::json::parse(R"([{"type": "function", "function": {"name": "f"}}])");
  auto r = ChatTemplate(ChatTemplateKind::kChatml).RenderJson(in);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("this model's template cannot render tools"), std::string::npos);
  in.tools = nullptr;
  auto ok = ChatTemplate(ChatTemplateKind::kChatml).RenderJson(in);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(*ok, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplate, RejectsRolesItCannotExpress) {
  const std::vector<ChatMessage> tool = {{"user", "x"}, {"tool", "y"}};
  EXPECT_FALSE(ChatTemplate(ChatTemplateKind::kLlama3).Render(tool, true).ok());
  EXPECT_TRUE(ChatTemplate(ChatTemplateKind::kChatml).Render(tool, true).ok());
  const std::vector<ChatMessage> late_system = {{"user", "x"}, {"system", "y"}};
  EXPECT_FALSE(ChatTemplate(ChatTemplateKind::kGemma).Render(late_system, true).ok());
}

// A tokenizer of the family each template belongs to: a shared vocabulary with the template's
// control tokens added (and, for llama3/qwen2, their pre-tokenizer), as the real models have.
std::unique_ptr<Tokenizer> FamilyTokenizer(ChatTemplateKind kind) {
  const bool spm = kind == ChatTemplateKind::kLlama2 || kind == ChatTemplateKind::kMistral ||
                   kind == ChatTemplateKind::kGemma || kind == ChatTemplateKind::kPhi3;
  const std::string file = kind == ChatTemplateKind::kPhi3 ? "phi-3" : spm ? "llama-spm" : "gpt-2";
  const std::string path = ::swarmkv::testing::SharedPath("llamacpp-data/vocab/ggml-vocab-" + file + ".gguf");
  if (path.empty()) return nullptr;
  auto data = Vocab::ReadData(path);
  EXPECT_TRUE(data.ok()) << data.status().ToString();
  if (!data.ok()) return nullptr;
  std::vector<std::string> extra;
  if (kind == ChatTemplateKind::kLlama3) {
    data->pre = "llama-bpe";
    extra = {"<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"};
  } else if (kind == ChatTemplateKind::kChatml) {
    data->pre = "qwen2";
    extra = {"<|im_start|>", "<|im_end|>"};
  } else if (kind == ChatTemplateKind::kGemma) {
    extra = {"<start_of_turn>", "<end_of_turn>"};
  }
  for (const auto& t : extra) {
    data->tokens.push_back(t);
    if (!data->scores.empty()) data->scores.push_back(0.0f);
    data->types.push_back(static_cast<int32_t>(TokenType::kControl));
  }
  auto vocab = Vocab::Create(std::move(*data));
  EXPECT_TRUE(vocab.ok()) << vocab.status().ToString();
  auto tok = Tokenizer::Create(*vocab);
  return tok.ok() ? std::move(tok).value() : nullptr;
}

// The prefix-cache property: turn N's prompt tokens are a prefix of turn N+1's prompt tokens
// after the model's reply and one more user turn are appended.
TEST(ChatTemplate, OneMoreTurnKeepsTheTokenPrefix) {
  SKV_REQUIRE_SHARED("llamacpp-data/vocab/ggml-vocab-gpt-2.gguf");
  for (ChatTemplateKind kind : {ChatTemplateKind::kChatml, ChatTemplateKind::kLlama3, ChatTemplateKind::kLlama2,
                                ChatTemplateKind::kMistral, ChatTemplateKind::kGemma, ChatTemplateKind::kPhi3}) {
    auto tok = FamilyTokenizer(kind);
    ASSERT_NE(tok, nullptr);
    std::vector<ChatMessage> conv = {{"system", "Answer in one word."}, {"user", "What is 2+2?"}};
    const std::vector<std::pair<std::string, std::string>> turns = {
        {"Four.", "And 3+3?"}, {"Six!", "Thanks, bye."}, {" Bye ", "🦙?"}};
    for (const auto& [reply, next_user] : turns) {
      const std::string before = Render(kind, conv, true);
      conv.push_back({"assistant", reply});
      conv.push_back({"user", next_user});
      const std::string after = Render(kind, conv, true);
      ASSERT_EQ(after.compare(0, before.size(), before), 0) << ChatTemplateKindName(kind);
      const EncodeOptions opts{.add_special = true, .parse_special = true};
      const auto a = tok->Encode(before, opts);
      const auto b = tok->Encode(after, opts);
      ASSERT_LT(a.size(), b.size());
      EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin()))
          << ChatTemplateKindName(kind) << "\nturn: " << before << "\nnext: " << after;
    }
  }
}

}  // namespace
}  // namespace swarmkv
