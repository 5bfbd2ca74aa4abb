#include "server/harmony_output.h"

#include <gtest/gtest.h>

namespace swarmkv {
namespace {

OutputParseOptions Harmony(bool tools) {
  OutputParseOptions o;
  o.harmony = true;
  o.tools = tools;
  o.split_thinking = true;
  return o;
}

// The same text pushed in pieces of `step` bytes: what the stream shows, then what Finish adds.
ParsedOutput Streamed(std::string_view text, const OutputParseOptions& o, size_t step) {
  OutputSplitter s(o);
  std::string content, thinking;
  for (size_t i = 0; i < text.size(); i += step) {
    OutputSplitter::Delta d = s.Push(text.substr(i, step));
    EXPECT_EQ(d.content.find("<|"), std::string::npos) << d.content;  // no framing leaks
    EXPECT_EQ(d.thinking.find("<|"), std::string::npos) << d.thinking;
    content += d.content;
    thinking += d.thinking;
  }
  ParsedOutput out = s.Finish();
  out.content = content + out.content;
  out.thinking = thinking + out.thinking;
  return out;
}

// What gpt-oss writes after the prompt's `<|start|>assistant`.
constexpr std::string_view kAnswer =
    "<|channel|>analysis<|message|>User asks 2+2. Simple: 4.<|end|>"
    "<|start|>assistant<|channel|>final<|message|>2 + 2 = **4**.";

TEST(HarmonyOutput, AnalysisIsThinkingFinalIsContent) {
  for (size_t step : {1, 2, 3, 7, 1000}) {
    ParsedOutput p = Streamed(kAnswer, Harmony(false), step);
    EXPECT_EQ(p.thinking, "User asks 2+2. Simple: 4.") << step;
    EXPECT_EQ(p.content, "2 + 2 = **4**.") << step;
    EXPECT_TRUE(p.calls.empty());
  }
  // <|return|> (when the text carries it) ends the reply.
  ParsedOutput p = ParseModelOutput(std::string(kAnswer) + "<|return|>", Harmony(false));
  EXPECT_EQ(p.content, "2 + 2 = **4**.");
}

TEST(HarmonyOutput, ToolCallOnCommentaryWithTheRecipientEitherSide) {
  const std::string_view forms[] = {
      "<|channel|>analysis<|message|>Need weather.<|end|><|start|>assistant to=functions.get_weather"
      "<|channel|>commentary json<|message|>{\"location\": \"Paris\", \"unit\": \"celsius\"}<|call|>",
      "<|channel|>analysis<|message|>Need weather.<|end|><|start|>assistant<|channel|>commentary "
      "to=functions.get_weather <|constrain|>json<|message|>{\"location\": \"Paris\", \"unit\": \"celsius\"}",
  };
  for (std::string_view text : forms) {
    for (size_t step : {1, 5, 1000}) {
      ParsedOutput p = Streamed(text, Harmony(true), step);
      EXPECT_EQ(p.thinking, "Need weather.");
      EXPECT_EQ(p.content, "");
      ASSERT_EQ(p.calls.size(), 1u) << text;
      EXPECT_EQ(p.calls[0].name, "get_weather");
      EXPECT_EQ(p.calls[0].arguments.dump(), R"({"location":"Paris","unit":"celsius"})");
    }
  }
}

TEST(HarmonyOutput, WithoutToolsARecipientsBodyIsContent) {
  ParsedOutput p = ParseModelOutput(
      "<|channel|>commentary to=functions.f <|constrain|>json<|message|>{\"a\": 1}", Harmony(false));
  EXPECT_TRUE(p.calls.empty());
  EXPECT_EQ(p.content, "{\"a\": 1}");
}

TEST(HarmonyOutput, ArgumentsThatAreNotAJsonObjectAreContent) {
  ParsedOutput p = ParseModelOutput("<|channel|>commentary to=functions.f json<|message|>{\"a\": ", Harmony(true));
  EXPECT_TRUE(p.calls.empty());
  EXPECT_EQ(p.content, "{\"a\": ");
  const std::string deep = std::string(1000, '[') + std::string(1000, ']');
  p = ParseModelOutput("<|channel|>commentary to=functions.f<|message|>" + deep, Harmony(true));
  EXPECT_TRUE(p.calls.empty());
  EXPECT_EQ(p.content, deep);
}

TEST(HarmonyOutput, CommentaryPreambleIsContent) {
  ParsedOutput p = ParseModelOutput(
      "<|channel|>commentary<|message|>Checking the weather.<|end|><|start|>assistant to=functions.get_weather"
      "<|channel|>commentary json<|message|>{}<|call|>",
      Harmony(true));
  EXPECT_EQ(p.content, "Checking the weather.");
  ASSERT_EQ(p.calls.size(), 1u);
  EXPECT_EQ(p.calls[0].arguments.dump(), "{}");
}

TEST(HarmonyOutput, UnframedTextIsContentAndACutHeaderIsDropped) {
  EXPECT_EQ(ParseModelOutput("just text, no channels", Harmony(false)).content, "just text, no channels");
  ParsedOutput p = ParseModelOutput("<|channel|>analysis<|message|>thinking<|end|><|start|>assistant<|chan",
                                    Harmony(false));
  EXPECT_EQ(p.thinking, "thinking");
  EXPECT_EQ(p.content, "");
  // Cut inside the analysis: all of it is thinking.
  p = ParseModelOutput("<|channel|>analysis<|message|>half a tho", Harmony(false));
  EXPECT_EQ(p.thinking, "half a tho");
  EXPECT_EQ(p.content, "");
}

TEST(HarmonyOutput, AHeaderIsBounded) {
  const std::string text(HarmonySplitter::kMaxHeaderBytes + 10, 'x');
  OutputSplitter s(Harmony(false));
  OutputSplitter::Delta d = s.Push(text);
  EXPECT_EQ(d.content, text);  // emitted while streaming, not held to the end
  EXPECT_EQ(s.Finish().content, "");
}

}  // namespace
}  // namespace swarmkv
