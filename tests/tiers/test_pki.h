// TestPki: a throwaway public-key infrastructure for TLS tests, generated with the openssl CLI in
// a fresh temp dir at test time (no key is ever committed): a CA, a server certificate for
// "localhost" and 127.0.0.1, a server certificate naming only "elsewhere.test", a client
// certificate, and a second CA that signed nothing the servers use. EC P-256 keys: fast to make.
//
// Thread-safety: a value; Make() runs child processes.
#pragma once

#include <optional>
#include <string>

namespace swarmkv::testing {

struct TestPki {
  std::string dir;
  std::string ca_cert, ca_dir;                    // PEM file; a directory after `openssl rehash`
  std::string server_cert, server_key;            // SAN DNS:localhost, IP:127.0.0.1
  std::string wrong_name_cert, wrong_name_key;    // SAN DNS:elsewhere.test only
  std::string client_cert, client_key;            // signed by ca_cert (clientAuth)
  std::string encrypted_client_key;               // client_key under a passphrase
  std::string other_ca_cert;                      // a CA that signed none of the above
  std::string rogue_client_cert, rogue_client_key;  // signed by other_ca_cert

  // nullopt with `*why` when openssl is not installed or a step fails (its output in `why`).
  static std::optional<TestPki> Make(std::string* why);

  // redis-server arguments serving `cert`/`key`, trusting ca_cert for client certificates,
  // requiring them when `require_client_cert`.
  std::string RedisServerArgs(const std::string& cert, const std::string& key, bool require_client_cert) const;
};

}  // namespace swarmkv::testing
