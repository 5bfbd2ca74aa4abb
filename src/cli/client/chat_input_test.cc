#include "cli/client/chat_input.h"

#include <gtest/gtest.h>

namespace swarmkv::cli {
namespace {

TEST(ChatInputTest, OneLineIsOneMessage) {
  ChatInput in;
  auto e = in.Feed("hello there  ");
  EXPECT_EQ(e.kind, ChatInputEvent::kMessage);
  EXPECT_EQ(e.text, "hello there");
  EXPECT_EQ(in.Feed("   ").kind, ChatInputEvent::kEmpty);
}

TEST(ChatInputTest, TripleQuotesSpanLinesAsOllamaDoes) {
  ChatInput in;
  EXPECT_EQ(in.Feed(R"("""first line)").kind, ChatInputEvent::kMore);
  EXPECT_TRUE(in.in_multiline());
  EXPECT_EQ(in.Feed("/bye is text here").kind, ChatInputEvent::kMore);  // not a command inside a block
  EXPECT_EQ(in.Feed("").kind, ChatInputEvent::kMore);
  auto e = in.Feed(R"(last""")");
  EXPECT_EQ(e.kind, ChatInputEvent::kMessage);
  EXPECT_EQ(e.text, "first line\n/bye is text here\n\nlast");
  EXPECT_FALSE(in.in_multiline());
}

TEST(ChatInputTest, TripleQuotesOnTheirOwnLines) {
  ChatInput in;
  EXPECT_EQ(in.Feed(R"(""")").kind, ChatInputEvent::kMore);
  EXPECT_EQ(in.Feed("a").kind, ChatInputEvent::kMore);
  auto e = in.Feed(R"(""")");
  EXPECT_EQ(e.kind, ChatInputEvent::kMessage);
  EXPECT_EQ(e.text, "a\n");
  auto one = in.Feed(R"("""same line""")");
  EXPECT_EQ(one.kind, ChatInputEvent::kMessage);
  EXPECT_EQ(one.text, "same line");
}

TEST(ChatInputTest, SlashCommands) {
  ChatInput in;
  auto e = in.Feed("/bye");
  EXPECT_EQ(e.kind, ChatInputEvent::kCommand);
  EXPECT_EQ(e.text, "/bye");
  EXPECT_EQ(in.Feed("  /clear now").text, "/clear");
}

}  // namespace
}  // namespace swarmkv::cli
