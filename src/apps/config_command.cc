// vitrina config: show the effective configuration or its reference.
#include <iostream>

#include "apps/commands.h"

namespace vitrina {
namespace {

struct ConfigCommandFlags {
  ConfigFlags config;
  bool print = false;
  bool reference = false;
};

int RunConfig(const ConfigCommandFlags& flags) {
  if (flags.reference) {
    std::cout << ConfigReference();
    return kExitOk;
  }
  std::optional<LoadedConfig> loaded = flags.config.Load();
  if (!loaded) return kExitUsage;
  for (const std::string& warning : loaded->warnings) std::cerr << "vitrina: warning: " << warning << "\n";
  std::cout << PrintConfig(*loaded);
  return kExitOk;
}

}  // namespace

Command AddConfigCommand(CLI::App* app) {
  auto flags = std::make_shared<ConfigCommandFlags>();
  CLI::App* command = app->add_subcommand("config", "Show the effective configuration (--print, the default) or all settings (--reference)");
  flags->config.Register(command);
  auto* print = command->add_flag("--print", flags->print, "Print the effective configuration as TOML, with sources");
  auto* reference = command->add_flag("--reference", flags->reference, "Print the Markdown reference of all settings");
  print->excludes(reference);
  return {command, [flags] { return RunConfig(*flags); }};
}

}  // namespace vitrina
