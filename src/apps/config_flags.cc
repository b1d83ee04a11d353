#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "apps/commands.h"

extern char** environ;

namespace vitrina {

void ConfigFlags::Register(CLI::App* command) {
  command->add_option("--config", config_file_, "TOML configuration file (default: $VITRINA_CONFIG)")
      ->check(CLI::ExistingFile);
  for (const ConfigParam& param : ConfigParams()) {
    values_.emplace_back(param.key, std::nullopt);
  }
  // Pointers into values_ stay valid: it is not resized after this loop.
  for (size_t i = 0; i < values_.size(); ++i) {
    const ConfigParam& param = ConfigParams()[i];
    std::string names = param.flag;
    if (param.flag != "--" + param.key) names += ",--" + param.key;
    command->add_option(names, values_[i].second, param.description)->group("Settings (see docs/CONFIG.md)");
  }
}

std::optional<LoadedConfig> ConfigFlags::Load() const {
  ConfigInputs inputs;
  if (!config_file_.empty()) {
    inputs.file = config_file_;
  } else if (const char* from_env = std::getenv("VITRINA_CONFIG"); from_env != nullptr && *from_env != '\0') {
    inputs.file = from_env;
  }
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string text(*entry);
    size_t eq = text.find('=');
    if (eq != std::string::npos) inputs.env.emplace_back(text.substr(0, eq), text.substr(eq + 1));
  }
  for (const auto& [key, value] : values_) {
    if (value) inputs.flags.emplace_back(key, *value);
  }
  auto loaded = LoadConfig(inputs);
  if (!loaded.ok()) {
    std::cerr << "vitrina: configuration error: " << loaded.status().message() << "\n";
    return std::nullopt;
  }
  return std::move(loaded).value();
}

void SetupLogging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("vitrina");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_level(spdlog::level::from_str(level));
}

}  // namespace vitrina
