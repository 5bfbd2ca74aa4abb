#include "server/request_guard.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

namespace swarmkv {

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool OriginAllowed(const AccessOptions& o, std::string_view origin) {
  std::string lower = Lower(origin);
  for (const auto& p : o.allowed_origins)
    if (WildcardMatch(Lower(p), lower)) return true;
  return false;
}

bool HostAllowed(const AccessOptions& o, std::string_view host_header) {
  if (!IsLoopbackHost(o.bound_host)) return true;  // a network server: the API key protects it
  std::string host = Lower(HostWithoutPort(host_header));
  if (IsLoopbackHost(host)) return true;
  if (host == Lower(o.bound_host)) return true;
  for (const auto& h : o.allowed_hosts)
    if (Lower(h) == host) return true;
  return false;
}

}  // namespace

std::vector<std::string> DefaultAllowedOrigins() {
  std::vector<std::string> out;
  for (const char* scheme : {"http", "https"})
    for (const char* host : {"localhost", "127.0.0.1", "[::1]", "0.0.0.0"}) {
      out.push_back(std::string(scheme) + "://" + host);
      out.push_back(std::string(scheme) + "://" + host + ":*");
    }
  for (const char* local : {"app://*", "file://*", "tauri://*", "vscode-webview://*", "vscode-file://*"})
    out.push_back(local);
  return out;
}

bool WildcardMatch(std::string_view pattern, std::string_view text) {
  // Iterative glob with backtracking to the last '*': O(|pattern| * |text|), no recursion.
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::string_view HostWithoutPort(std::string_view h) {
  if (!h.empty() && h.front() == '[') {  // [v6]:port
    size_t close = h.find(']');
    return close == std::string_view::npos ? h : h.substr(0, close + 1);
  }
  size_t colon = h.rfind(':');
  if (colon != std::string_view::npos && h.find(':') == colon) return h.substr(0, colon);
  return h;  // no port, or a bare IPv6 address
}

bool IsLoopbackHost(std::string_view host_in) {
  std::string host = Lower(host_in);
  if (host == "localhost" || EndsWith(host, ".localhost")) return true;
  if (host == "[::1]" || host == "::1") return true;
  in_addr a4{};
  if (inet_pton(AF_INET, host.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  return false;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // Time depends only on the longer length, never on where the strings differ.
  size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

AccessDecision CheckAccess(const AccessOptions& o, const AccessRequest& r) {
  AccessDecision d;
  if (r.has_host && !HostAllowed(o, r.host)) {
    d.status = 403;
    d.message = "Host '" + std::string(r.host.substr(0, 256)) +
                "' is not allowed for a server on a loopback address (DNS rebinding protection; "
                "add it with --allowed-hosts)";
    return d;
  }
  if (r.has_origin) {
    if (!OriginAllowed(o, r.origin)) {
      d.status = 403;
      d.message = "Origin '" + std::string(r.origin.substr(0, 256)) +
                  "' is not allowed (browser protection; add it with --allowed-origins)";
      return d;
    }
    d.headers.emplace_back("Access-Control-Allow-Origin", std::string(r.origin));
    d.headers.emplace_back("Vary", "Origin");
    if (r.method == "OPTIONS") {
      d.status = 204;
      d.headers.emplace_back("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
      d.headers.emplace_back("Access-Control-Allow-Headers",
                             r.preflight_headers.empty() ? "Authorization, Content-Type" : std::string(r.preflight_headers));
      d.headers.emplace_back("Access-Control-Max-Age", "600");
      return d;
    }
  }
  if (!o.api_key.empty()) {
    bool exempt = r.method == "GET" && (r.path == "/api/version" || r.path == "/");
    if (!exempt) {
      constexpr std::string_view kBearer = "Bearer ";
      std::string_view auth = r.authorization;
      bool ok = auth.size() > kBearer.size() && Lower(auth.substr(0, kBearer.size())) == "bearer " &&
                ConstantTimeEquals(auth.substr(kBearer.size()), o.api_key);
      if (!ok) {
        d.status = 401;
        d.message = auth.empty() ? "this server requires an API key: send 'Authorization: Bearer KEY'"
                                 : "the API key is not valid";
        d.headers.emplace_back("WWW-Authenticate", "Bearer");
        return d;
      }
    }
  }
  return d;
}

}  // namespace swarmkv
