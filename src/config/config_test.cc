#include "config/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace vitrina {
namespace {

std::string WriteFile(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(ConfigTest, DefaultsAreValid) {
  auto loaded = LoadConfig({});
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->config.data_dir, "./vitrina-data");
  EXPECT_EQ(loaded->config.storage.path, "./vitrina-data");
  EXPECT_EQ(loaded->config.server.port, 8080);
  EXPECT_EQ(loaded->config.storage.durability, Durability::kFsync);
  EXPECT_EQ(loaded->config.api.limits.max_future_skew_ms, 86'400'000);
  EXPECT_FALSE(ValidateForServing(loaded->config).ok());
}

TEST(ConfigTest, FileThenEnvThenFlags) {
  ConfigInputs inputs;
  inputs.file = WriteFile("precedence.toml",
                          "data_dir = \"/srv/vitrina\"\n[server]\nport = 9000\nthreads = 3\n"
                          "[storage]\ndurability = \"os\"\n[ingest]\nmax_future_skew_s = 60\n");
  inputs.env = {{"VITRINA_SERVER_PORT", "9100"}, {"VITRINA_ADMIN_KEY", "env-admin-key-0123456789"},
                {"PATH", "/usr/bin"}};
  inputs.flags = {{"server.port", "9200"}};
  auto loaded = LoadConfig(inputs);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  const Config& config = loaded->config;
  EXPECT_EQ(config.data_dir, "/srv/vitrina");
  EXPECT_EQ(config.storage.path, "/srv/vitrina");
  EXPECT_EQ(config.server.port, 9200);
  EXPECT_EQ(config.server.threads, 3);
  EXPECT_EQ(config.storage.durability, Durability::kOs);
  EXPECT_EQ(config.api.limits.max_future_skew_ms, 60'000);
  EXPECT_EQ(config.auth.admin_key, "env-admin-key-0123456789");
  EXPECT_EQ(loaded->sources.at("server.port"), ConfigSource::kFlag);
  EXPECT_EQ(loaded->sources.at("server.threads"), ConfigSource::kFile);
  EXPECT_EQ(loaded->sources.at("auth.admin_key"), ConfigSource::kEnv);
  EXPECT_TRUE(ValidateForServing(config).ok());

  std::string printed = PrintConfig(*loaded);
  EXPECT_NE(printed.find("port = 9200"), std::string::npos) << printed;
  EXPECT_NE(printed.find("# flag --port"), std::string::npos) << printed;
  EXPECT_NE(printed.find("admin_key = \"****6789\""), std::string::npos) << printed;
  EXPECT_EQ(printed.find("env-admin-key"), std::string::npos) << "secrets must be masked";
}

TEST(ConfigTest, ErrorsNameKeySourceAndExpectation) {
  ConfigInputs env_case;
  env_case.env = {{"VITRINA_SERVER_PORT", "70000"}};
  auto loaded = LoadConfig(env_case);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().message(), "server.port (env VITRINA_SERVER_PORT): must be between 0 and 65535, got 70000");

  ConfigInputs file_case;
  file_case.file = WriteFile("typo.toml", "[server]\nhost = \"0.0.0.0\"\nprot = 9000\n");
  loaded = LoadConfig(file_case);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("typo.toml:3: unknown key 'server.prot'; did you mean 'server.port'?"),
            std::string::npos)
      << loaded.status().message();

  ConfigInputs syntax_case;
  syntax_case.file = WriteFile("broken.toml", "[server\nport = 1\n");
  loaded = LoadConfig(syntax_case);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("broken.toml:1:"), std::string::npos) << loaded.status().message();

  ConfigInputs choice_case;
  choice_case.flags = {{"storage.durability", "sometimes"}};
  loaded = LoadConfig(choice_case);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().message(),
            "storage.durability (flag --storage.durability): expected one of fsync|os, got \"sometimes\"");

  ConfigInputs short_key;
  short_key.env = {{"VITRINA_ADMIN_KEY", "short"}};
  EXPECT_FALSE(LoadConfig(short_key).ok());

  ConfigInputs same_keys;
  same_keys.env = {{"VITRINA_ADMIN_KEY", "same-key-0123456789"}, {"VITRINA_PUBLIC_KEY", "same-key-0123456789"}};
  EXPECT_FALSE(LoadConfig(same_keys).ok());

  ConfigInputs unknown_flag;
  unknown_flag.flags = {{"server.portt", "1"}};
  loaded = LoadConfig(unknown_flag);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("did you mean 'server.port'"), std::string::npos);
}

TEST(ConfigTest, ConnectionLimitsAndTls) {
  auto defaults = LoadConfig({});
  ASSERT_TRUE(defaults.ok()) << defaults.status().ToString();
  EXPECT_EQ(defaults->config.server.max_connections_per_client, 256u);
  EXPECT_EQ(defaults->config.server.header_timeout_s, 5);
  EXPECT_EQ(defaults->config.server.tls_cert, "");
  EXPECT_EQ(defaults->config.server.tls_key, "");

  ConfigInputs inputs;
  inputs.file = WriteFile("tls.toml",
                          "[server]\ntls_cert = \"/etc/vitrina/cert.pem\"\ntls_key = \"/etc/vitrina/key.pem\"\n"
                          "max_connections_per_client = 0\n");
  inputs.env = {{"VITRINA_SERVER_HEADER_TIMEOUT_S", "2"}};
  auto loaded = LoadConfig(inputs);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->config.server.tls_cert, "/etc/vitrina/cert.pem");
  EXPECT_EQ(loaded->config.server.tls_key, "/etc/vitrina/key.pem");
  EXPECT_EQ(loaded->config.server.max_connections_per_client, 0u);
  EXPECT_EQ(loaded->config.server.header_timeout_s, 2);

  ConfigInputs no_timeout;
  no_timeout.flags = {{"server.header_timeout_s", "0"}};
  loaded = LoadConfig(no_timeout);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().message(),
            "server.header_timeout_s (flag --server.header_timeout_s): must be between 1 and 3600, got 0");
}

TEST(ConfigTest, UnknownEnvironmentVariablesAreWarnings) {
  ConfigInputs inputs;
  inputs.env = {{"VITRINA_SERVER_PROT", "1"}, {"VITRINA_CONFIG", "/etc/vitrina.toml"}};
  auto loaded = LoadConfig(inputs);
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->warnings.size(), 1u);
  EXPECT_EQ(loaded->warnings[0], "ignoring unknown environment variable VITRINA_SERVER_PROT");
}

TEST(ConfigTest, DocsMatchTheDeclarations) {
  std::ifstream file(std::string(VITRINA_SOURCE_DIR) + "/docs/CONFIG.md");
  ASSERT_TRUE(file.good()) << "docs/CONFIG.md is missing; run: build/vitrina config --reference > docs/CONFIG.md";
  std::stringstream text;
  text << file.rdbuf();
  EXPECT_EQ(text.str(), ConfigReference()) << "regenerate: build/vitrina config --reference > docs/CONFIG.md";
}

}  // namespace
}  // namespace vitrina
