// Request access checks run before any route: the Host allow-list (DNS rebinding), the Origin
// allow-list (web pages), CORS preflight, and the API key (network clients).
//
// Host: when the server is bound to a loopback address, the Host header must name a loopback
// host (localhost, *.localhost, 127.0.0.0/8, ::1), the bound address, or an allowed_hosts entry;
// otherwise 403. A page on evil.example that rebinds its name to 127.0.0.1 still sends
// `Host: evil.example` and is refused. Bound to any other address, Host is not checked (the API
// key protects that server). No Host header (HTTP/1.0) passes.
// Origin: a request carrying an Origin header must match allowed_origins (patterns with `*`,
// e.g. "http://localhost:*", "app://*", or "*" for any); otherwise 403. Requests without Origin
// (curl, SDKs, other servers) pass. Browsers send Origin on every cross-origin request and on
// same-origin POSTs, so a page can neither read nor fire requests (even "simple" text/plain
// POSTs that skip preflight). Allowed origins get Access-Control-Allow-Origin echoed back.
// API key: when set, every request except GET /api/version, GET / (the health probe) and CORS
// preflights needs `Authorization: Bearer KEY` (compared in constant time); otherwise 401.
//
// Invariant: CheckAccess is a pure function of its inputs; status 0 means "serve it".
// Thread-safety: stateless functions over const options.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace swarmkv {

struct AccessOptions {
  std::string api_key;                       // empty: no key required
  std::vector<std::string> allowed_origins;  // patterns; see DefaultAllowedOrigins()
  std::vector<std::string> allowed_hosts;    // extra Host names (without port) for a loopback server
  std::string bound_host;                    // the address the server listens on
};

// Ollama's defaults: http(s) on localhost, 127.0.0.1, [::1], 0.0.0.0 (any port), and local app
// schemes app://, file://, tauri://, vscode-webview://, vscode-file://.
std::vector<std::string> DefaultAllowedOrigins();

struct AccessRequest {
  std::string_view method;
  std::string_view path;
  bool has_origin = false;
  std::string_view origin;
  bool has_host = false;
  std::string_view host;
  std::string_view authorization;
  std::string_view preflight_headers;  // Access-Control-Request-Headers
};

struct AccessDecision {
  int status = 0;           // 0: serve; else answer this status (401, 403, or 204 for a preflight)
  std::string message;      // for an error status
  std::vector<std::pair<std::string, std::string>> headers;  // CORS headers to add to the response
};

AccessDecision CheckAccess(const AccessOptions& options, const AccessRequest& request);

// Helpers, exposed for tests.
bool WildcardMatch(std::string_view pattern, std::string_view text);  // '*' matches any run
bool IsLoopbackHost(std::string_view host);                            // host without port
std::string_view HostWithoutPort(std::string_view host_header);
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace swarmkv
