#include "test_pki.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "base/testing.h"

namespace swarmkv::testing {
namespace {

bool Write(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  return static_cast<bool>(f);
}

}  // namespace

std::optional<TestPki> TestPki::Make(std::string* why) {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) {
    *why = "the openssl command is not installed (apt-get install openssl)";
    return std::nullopt;
  }
  TestPki p;
  p.dir = TempDir("swarmkv-pki");
  const std::string& d = p.dir;
  // The CA's extensions from a config of our own: the system openssl.cnf varies.
  if (!Write(d + "/ca.cnf",
             "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = swarmkv-test-ca\n"
             "[v3_ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n"
             "subjectKeyIdentifier = hash\n") ||
      !Write(d + "/server.ext", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n") ||
      !Write(d + "/wrong.ext", "subjectAltName=DNS:elsewhere.test\nextendedKeyUsage=serverAuth\n") ||
      !Write(d + "/client.ext", "extendedKeyUsage=clientAuth\n")) {
    *why = "cannot write into " + d;
    return std::nullopt;
  }
  const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  auto ca = [&](const std::string& name) {
    return "openssl req -x509 -config ca.cnf -extensions v3_ca" + ec + " -keyout " + name + ".key -out " + name +
           ".crt -days 2 -subj /CN=" + name + "\n";
  };
  auto leaf = [&](const std::string& name, const std::string& issuer, const std::string& ext) {
    return "openssl req -new" + ec + " -keyout " + name + ".key -out " + name + ".csr -subj /CN=" + name +
           "\nopenssl x509 -req -in " + name + ".csr -CA " + issuer + ".crt -CAkey " + issuer + ".key -CAcreateserial" +
           " -days 2 -out " + name + ".crt -extfile " + ext + "\n";
  };
  const std::string script = "set -e\ncd '" + d + "'\n" + ca("ca") + ca("other-ca") +
                             leaf("server", "ca", "server.ext") + leaf("wrong-name", "ca", "wrong.ext") +
                             leaf("client", "ca", "client.ext") + leaf("rogue-client", "other-ca", "client.ext") +
                             "openssl pkey -in client.key -aes256 -passout pass:secret -out client-encrypted.key\n"
                             "mkdir ca-dir\ncp ca.crt ca-dir/\nopenssl rehash ca-dir\n";
  if (!Write(d + "/make.sh", script)) {
    *why = "cannot write into " + d;
    return std::nullopt;
  }
  if (std::system(("sh '" + d + "/make.sh' >'" + d + "/make.log' 2>&1").c_str()) != 0) {
    std::ifstream log(d + "/make.log");
    std::stringstream text;
    text << log.rdbuf();
    *why = "openssl failed making the test certificates: " + text.str();
    return std::nullopt;
  }
  p.ca_cert = d + "/ca.crt";
  p.ca_dir = d + "/ca-dir";
  p.server_cert = d + "/server.crt";
  p.server_key = d + "/server.key";
  p.wrong_name_cert = d + "/wrong-name.crt";
  p.wrong_name_key = d + "/wrong-name.key";
  p.client_cert = d + "/client.crt";
  p.client_key = d + "/client.key";
  p.encrypted_client_key = d + "/client-encrypted.key";
  p.other_ca_cert = d + "/other-ca.crt";
  p.rogue_client_cert = d + "/rogue-client.crt";
  p.rogue_client_key = d + "/rogue-client.key";
  return p;
}

std::string TestPki::RedisServerArgs(const std::string& cert, const std::string& key, bool require_client_cert) const {
  return "--tls-cert-file " + cert + " --tls-key-file " + key + " --tls-ca-cert-file " + ca_cert +
         " --tls-auth-clients " + (require_client_cert ? "yes" : "no");
}

}  // namespace swarmkv::testing
