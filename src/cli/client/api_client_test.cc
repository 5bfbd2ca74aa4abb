#include "cli/client/api_client.h"

#include <gtest/gtest.h>

namespace swarmkv::cli {
namespace {

TEST(ApiClientTest, ParsesOllamaHostSpellings) {
  struct Case {
    const char* text;
    const char* host;
    int port;
  };
  for (const Case& c : {Case{"", "127.0.0.1", 11434}, Case{"localhost", "localhost", 11434},
                        Case{"10.0.0.2:8080", "10.0.0.2", 8080}, Case{"http://box:1234/", "box", 1234},
                        Case{":9000", "127.0.0.1", 9000}, Case{"0.0.0.0", "127.0.0.1", 11434},
                        Case{"[::1]:8000", "::1", 8000}, Case{"[::1]", "::1", 11434}}) {
    auto a = ParseServerAddress(c.text);
    ASSERT_TRUE(a.ok()) << c.text;
    EXPECT_EQ(a->host, c.host) << c.text;
    EXPECT_EQ(a->port, c.port) << c.text;
  }
  EXPECT_FALSE(ParseServerAddress("host:99999").ok());
  EXPECT_FALSE(ParseServerAddress("host:abc").ok());
}

TEST(ApiClientTest, AnUnreachableServerIsAClearError) {
  // Port 1 on loopback: nothing listens there.
  ApiClient c(ServerAddress{"127.0.0.1", 1});
  auto r = c.Get("/api/tags");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("cannot reach the server at 127.0.0.1:1"), std::string::npos)
      << r.status().message();
}

}  // namespace
}  // namespace swarmkv::cli
