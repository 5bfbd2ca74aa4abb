#include "server/tool_calls.h"

#include <gtest/gtest.h>

namespace swarmkv {
namespace {

OutputParseOptions Tools() {
  OutputParseOptions o;
  o.tools = true;
  return o;
}

TEST(ToolCallsTest, EachFamilyFormatParses) {
  struct Case {
    std::string text;
    std::vector<std::string> names;
    std::string content;
  };
  const std::vector<Case> cases = {
      {"<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>", {"get_weather"}, ""},
      {"Sure.\n<tool_call>{\"name\":\"a\",\"arguments\":{}}</tool_call>\n<tool_call>{\"name\":\"b\",\"arguments\":\"{\\\"x\\\":1}\"}</tool_call>",
       {"a", "b"}, "Sure."},
      {"[TOOL_CALLS][{\"name\": \"a\", \"arguments\": {\"q\": 1}}, {\"name\": \"b\", \"arguments\": {}}]", {"a", "b"}, ""},
      {"<|python_tag|>{\"name\": \"search\", \"parameters\": {\"q\": \"x\"}}; {\"name\": \"b\", \"parameters\": {}}", {"search", "b"}, ""},
      {"{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Oslo\"}}", {"get_weather"}, ""},
      {"  [{\"name\": \"a\", \"arguments\": {}}]", {"a"}, ""},
      {"<function=lookup>{\"id\": 3}</function>", {"lookup"}, ""},
  };
  for (const auto& c : cases) {
    ParsedOutput p = ParseModelOutput(c.text, Tools());
    ASSERT_EQ(p.calls.size(), c.names.size()) << c.text;
    for (size_t i = 0; i < c.names.size(); ++i) {
      EXPECT_EQ(p.calls[i].name, c.names[i]) << c.text;
      EXPECT_TRUE(p.calls[i].arguments.is_object()) << c.text;
    }
    EXPECT_EQ(p.content, c.content) << c.text;
  }
  ParsedOutput b = ParseModelOutput("<tool_call>{\"name\":\"b\",\"arguments\":\"{\\\"x\\\":1}\"}</tool_call>", Tools());
  ASSERT_EQ(b.calls.size(), 1u);
  EXPECT_EQ(b.calls[0].arguments["x"], 1);  // a JSON-string argument became an object
}

TEST(ToolCallsTest, TextThatIsNotACallStaysContent) {
  for (const char* t : {"{\"not\": \"a call\"}", "[1, 2]", "Hello world", "<tool_call>{\"name\": \"a\", \"argu"}) {
    ParsedOutput p = ParseModelOutput(t, Tools());
    EXPECT_TRUE(p.calls.empty()) << t;
  }
  EXPECT_EQ(ParseModelOutput("{\"not\": \"a call\"}", Tools()).content, "{\"not\": \"a call\"}");
  // Nesting beyond the bound is not parsed (no deep recursion on model output).
  const std::string deep = "{\"name\":\"a\",\"arguments\":{\"x\":" + std::string(200, '[') + std::string(200, ']') + "}}";
  EXPECT_TRUE(ParseModelOutput(deep, Tools()).calls.empty());
  EXPECT_EQ(JsonNestingDepth("[{\"a\":\"[[[\"}]"), 2);
  // Without tools nothing is parsed.
  EXPECT_EQ(ParseModelOutput("<tool_call>{\"name\":\"a\"}</tool_call>", {}).content, "<tool_call>{\"name\":\"a\"}</tool_call>");
}

TEST(ToolCallsTest, StreamingNeverEmitsPartOfACallAsContent) {
  const std::string text = "Let me look.<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": 1}}\n</tool_call>";
  for (size_t piece = 1; piece <= 5; ++piece) {
    OutputSplitter s(Tools());
    std::string content;
    for (size_t i = 0; i < text.size(); i += piece) content += s.Push(text.substr(i, piece)).content;
    ParsedOutput end = s.Finish();
    content += end.content;
    EXPECT_EQ(content, "Let me look.") << piece;
    ASSERT_EQ(end.calls.size(), 1u);
    EXPECT_EQ(end.calls[0].name, "f");
  }
  // A '<' that turns out not to start a marker is released.
  OutputSplitter s(Tools());
  std::string c = s.Push("a <").content;
  EXPECT_EQ(c, "a ");
  c += s.Push("b> c").content;
  EXPECT_EQ(c, "a <b> c");
}

TEST(ToolCallsTest, ThinkingIsSplitFromContentAlsoWhenStreamed) {
  OutputParseOptions o;
  o.split_thinking = true;
  ParsedOutput p = ParseModelOutput("<think>\nhmm, 2+2\n</think>\n\nIt is 4.", o);
  EXPECT_EQ(p.thinking, "\nhmm, 2+2\n");
  EXPECT_EQ(p.content, "It is 4.");
  o.starts_in_thinking = true;  // DeepSeek-R1: the prompt opened <think>
  p = ParseModelOutput("reasoning</think>answer", o);
  EXPECT_EQ(p.thinking, "reasoning");
  EXPECT_EQ(p.content, "answer");
  OutputParseOptions so;
  so.split_thinking = true;
  OutputSplitter s(so);
  std::string thinking, content;
  for (char ch : std::string("<think>ab</think> cd")) {
    auto d = s.Push(std::string(1, ch));
    thinking += d.thinking;
    content += d.content;
  }
  auto end = s.Finish();
  EXPECT_EQ(thinking + end.thinking, "ab");
  EXPECT_EQ(content + end.content, "cd");
}

}  // namespace
}  // namespace swarmkv
