#include "server/request_guard.h"

#include <gtest/gtest.h>

namespace swarmkv {
namespace {

AccessOptions Loopback(std::string key = "") {
  AccessOptions o;
  o.allowed_origins = DefaultAllowedOrigins();
  o.bound_host = "127.0.0.1";
  o.api_key = std::move(key);
  return o;
}

AccessRequest Req(std::string_view method, std::string_view path) {
  AccessRequest r;
  r.method = method;
  r.path = path;
  return r;
}

TEST(RequestGuardTest, WildcardMatch) {
  EXPECT_TRUE(WildcardMatch("http://localhost:*", "http://localhost:3000"));
  EXPECT_FALSE(WildcardMatch("http://localhost:*", "http://localhost.evil.example"));
  EXPECT_FALSE(WildcardMatch("http://localhost", "http://localhost:3000"));
  EXPECT_TRUE(WildcardMatch("*", "anything"));
  EXPECT_TRUE(WildcardMatch("app://*", "app://obsidian.md"));
  EXPECT_FALSE(WildcardMatch("a*b*c", "aXbXd"));
  EXPECT_TRUE(WildcardMatch("a*b*c", "aXbXc"));
  // Pathological patterns stay polynomial (no recursion, no exponential backtracking).
  EXPECT_FALSE(WildcardMatch(std::string(200, '*') + "b", std::string(5000, 'a')));
}

TEST(RequestGuardTest, HostParsing) {
  EXPECT_EQ(HostWithoutPort("localhost:11434"), "localhost");
  EXPECT_EQ(HostWithoutPort("[::1]:11434"), "[::1]");
  EXPECT_EQ(HostWithoutPort("evil.example"), "evil.example");
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("127.1.2.3"));
  EXPECT_TRUE(IsLoopbackHost("LOCALHOST"));
  EXPECT_TRUE(IsLoopbackHost("app.localhost"));
  EXPECT_TRUE(IsLoopbackHost("[::1]"));
  EXPECT_FALSE(IsLoopbackHost("evil.example"));
  EXPECT_FALSE(IsLoopbackHost("localhost.evil.example"));
  EXPECT_FALSE(IsLoopbackHost("10.0.0.1"));
}

TEST(RequestGuardTest, ForeignHostIsRefusedOnALoopbackServer) {
  AccessRequest r = Req("POST", "/api/generate");
  r.has_host = true;
  r.host = "evil.example:11434";
  AccessDecision d = CheckAccess(Loopback(), r);
  EXPECT_EQ(d.status, 403);
  EXPECT_NE(d.message.find("DNS rebinding"), std::string::npos);
  r.host = "localhost:11434";
  EXPECT_EQ(CheckAccess(Loopback(), r).status, 0);
  r.host = "127.0.0.1:11434";
  EXPECT_EQ(CheckAccess(Loopback(), r).status, 0);
  // An explicitly allowed name passes; a server bound to a network address does not check Host.
  AccessOptions o = Loopback();
  o.allowed_hosts = {"my-box.lan"};
  r.host = "my-box.lan:11434";
  EXPECT_EQ(CheckAccess(o, r).status, 0);
  o = Loopback("k");
  o.bound_host = "0.0.0.0";
  r.host = "evil.example";
  r.authorization = "Bearer k";
  EXPECT_EQ(CheckAccess(o, r).status, 0);
}

TEST(RequestGuardTest, OriginAllowList) {
  AccessRequest r = Req("POST", "/api/generate");
  r.has_origin = true;
  r.origin = "http://evil.example";
  EXPECT_EQ(CheckAccess(Loopback(), r).status, 403);
  for (const char* ok : {"http://localhost:3000", "http://127.0.0.1", "https://localhost", "app://x", "tauri://localhost",
                         "vscode-webview://abc"}) {
    r.origin = ok;
    AccessDecision d = CheckAccess(Loopback(), r);
    EXPECT_EQ(d.status, 0) << ok;
    ASSERT_FALSE(d.headers.empty());
    EXPECT_EQ(d.headers[0].first, "Access-Control-Allow-Origin");
    EXPECT_EQ(d.headers[0].second, ok);
  }
  AccessOptions o = Loopback();
  o.allowed_origins.push_back("https://chat.example.com");
  r.origin = "https://chat.example.com";
  EXPECT_EQ(CheckAccess(o, r).status, 0);
}

TEST(RequestGuardTest, PreflightForAllowedOriginsOnly) {
  AccessRequest r = Req("OPTIONS", "/api/chat");
  r.has_origin = true;
  r.origin = "http://localhost:5173";
  r.preflight_headers = "content-type, authorization";
  AccessDecision d = CheckAccess(Loopback("secret"), r);  // preflights carry no key
  EXPECT_EQ(d.status, 204);
  bool saw_headers = false;
  for (auto& [k, v] : d.headers)
    if (k == "Access-Control-Allow-Headers") saw_headers = v == "content-type, authorization";
  EXPECT_TRUE(saw_headers);
  r.origin = "http://evil.example";
  EXPECT_EQ(CheckAccess(Loopback(), r).status, 403);
}

TEST(RequestGuardTest, ApiKey) {
  AccessOptions o = Loopback("s3cret-key");
  AccessRequest r = Req("POST", "/api/chat");
  AccessDecision d = CheckAccess(o, r);
  EXPECT_EQ(d.status, 401);
  EXPECT_NE(d.message.find("Authorization: Bearer"), std::string::npos);
  r.authorization = "Bearer wrong";
  EXPECT_EQ(CheckAccess(o, r).status, 401);
  r.authorization = "Bearer s3cret-key-longer";
  EXPECT_EQ(CheckAccess(o, r).status, 401);
  r.authorization = "Bearer s3cret-ke";
  EXPECT_EQ(CheckAccess(o, r).status, 401);
  r.authorization = "Bearer s3cret-key";
  EXPECT_EQ(CheckAccess(o, r).status, 0);
  r.authorization = "bearer s3cret-key";
  EXPECT_EQ(CheckAccess(o, r).status, 0);
  // The version and health probes need no key; everything else does.
  EXPECT_EQ(CheckAccess(o, Req("GET", "/api/version")).status, 0);
  EXPECT_EQ(CheckAccess(o, Req("GET", "/")).status, 0);
  EXPECT_EQ(CheckAccess(o, Req("GET", "/api/tags")).status, 401);
  EXPECT_EQ(CheckAccess(o, Req("GET", "/metrics")).status, 401);
  EXPECT_EQ(CheckAccess(o, Req("POST", "/api/version")).status, 401);
}

TEST(RequestGuardTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

}  // namespace
}  // namespace swarmkv
