// HTTPS natively: a self-signed certificate made with the openssl command,
// and the real curl binary as the client.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "harness.h"

namespace vitrina::e2e {
namespace {

class TlsTest : public ::testing::Test {
 protected:
  // A self-signed certificate for 127.0.0.1 and localhost, valid a day.
  static void MakeCertificate(const std::string& cert, const std::string& key) {
    CommandResult made = RunProgram(
        "openssl", {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days",
                    "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", key, "-out", cert});
    ASSERT_EQ(made.exit_code, 0) << made.out;
  }

  void SetUp() override { ASSERT_NO_FATAL_FAILURE(MakeCertificate(cert_, key_)); }

  // `vitrina serve` with these extra arguments, which must refuse to start.
  CommandResult Refused(const std::vector<std::string>& tls_args) {
    std::vector<std::string> args = {"serve", "--data", dir_.path() + "/data", "--port", "0"};
    args.insert(args.end(), tls_args.begin(), tls_args.end());
    return RunVitrina(args, {{"VITRINA_ADMIN_KEY", kAdminKey}});
  }

  TempDir dir_{"tls"};
  const std::string cert_ = dir_.path() + "/cert.pem";
  const std::string key_ = dir_.path() + "/key.pem";
  JsonBodies json_;
};

TEST_F(TlsTest, CurlTalksHttpsAndPlainHttpGetsNoAnswer) {
  Server server(dir_.path() + "/data", {"--server.tls_cert", cert_, "--server.tls_key", key_});
  ASSERT_TRUE(server.Start()) << server.log();
  const std::string origin = "127.0.0.1:" + std::to_string(server.port());
  EXPECT_NE(server.log().find("listening on https://" + origin), std::string::npos) << server.log();

  CommandResult health = RunProgram(
      "curl", {"-sS", "--max-time", "10", "--cacert", cert_, "-w", "\n%{http_code}", "https://" + origin + "/health"});
  ASSERT_EQ(health.exit_code, 0) << health.out;
  const size_t status_at = health.out.rfind('\n');
  EXPECT_EQ(health.out.substr(status_at + 1), "200") << health.out;
  auto body = json_.Parse({.status = 200, .body = health.out.substr(0, status_at)});
  EXPECT_FALSE(body["status"].error()) << health.out;

  // A write (answered from the ingest thread) and a read on one kept-alive
  // TLS connection: the second transfer makes no new connection.
  CommandResult two = RunProgram(
      "curl", {"-sS", "--max-time", "10", "--cacert", cert_, "-o", "/dev/null", "-w", "%{http_code}/%{num_connects} ",
               "-H", std::string("Authorization: Bearer ") + kAdminKey, "-H", "Content-Type: application/json",
               "--data", R"({"id":"tls-1","title":"Mug"})", "https://" + origin + "/v1/items", "--next", "--cacert",
               cert_, "-o", "/dev/null", "-w", "%{http_code}/%{num_connects}", "-H",
               std::string("Authorization: Bearer ") + kAdminKey, "https://" + origin + "/v1/items/tls-1"});
  EXPECT_EQ(two.exit_code, 0) << two.out;
  EXPECT_EQ(two.out, "200/1 200/0");

  // Plain HTTP on the HTTPS port: the handshake fails, no HTTP answer.
  CommandResult plain = RunProgram(
      "curl", {"-sS", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}", "http://" + origin + "/health"});
  EXPECT_NE(plain.exit_code, 0) << plain.out;
  EXPECT_NE(plain.out.find("000"), std::string::npos) << plain.out;
  EXPECT_EQ(server.RawExchange("GET /health HTTP/1.1\r\nHost: x\r\n\r\n").find("HTTP/"), std::string::npos);
}

TEST_F(TlsTest, RefusesToStartWithBadTlsFiles) {
  const std::string missing = dir_.path() + "/missing-key.pem";
  CommandResult result = Refused({"--server.tls_cert", cert_, "--server.tls_key", missing});
  EXPECT_EQ(result.exit_code, 2) << result.out;
  EXPECT_NE(result.out.find("server.tls_key: cannot read " + missing + ": No such file or directory"),
            std::string::npos)
      << result.out;

  result = Refused({"--server.tls_cert", cert_});
  EXPECT_EQ(result.exit_code, 2) << result.out;
  EXPECT_NE(result.out.find("server.tls_cert and server.tls_key go together"), std::string::npos) << result.out;

  const std::string other_cert = dir_.path() + "/other-cert.pem", other_key = dir_.path() + "/other-key.pem";
  ASSERT_NO_FATAL_FAILURE(MakeCertificate(other_cert, other_key));
  result = Refused({"--server.tls_cert", cert_, "--server.tls_key", other_key});
  EXPECT_EQ(result.exit_code, 2) << result.out;
  EXPECT_NE(result.out.find("server.tls_key: " + other_key + " is not the key of the certificate in " + cert_),
            std::string::npos)
      << result.out;

  const std::string not_pem = dir_.path() + "/not-a-cert.pem";
  std::ofstream(not_pem) << "hello\n";
  result = Refused({"--server.tls_cert", not_pem, "--server.tls_key", key_});
  EXPECT_EQ(result.exit_code, 2) << result.out;
  EXPECT_NE(result.out.find("server.tls_cert: " + not_pem + " holds no PEM certificate"), std::string::npos)
      << result.out;
}

}  // namespace
}  // namespace vitrina::e2e
