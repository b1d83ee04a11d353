// The `vitrina` subcommands. Each Add*Command registers a subcommand on the
// CLI and returns it with the function that runs it.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"

namespace vitrina {

// Exit codes of every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;   // runtime failure (message names file/line where it applies)
inline constexpr int kExitUsage = 2;     // bad flags or configuration
inline constexpr int kExitRejected = 3;  // import finished, but some rows were rejected

struct Command {
  CLI::App* cli;             // the subcommand, to see whether it was chosen
  std::function<int()> run;  // runs it; returns the exit code
};

// --config FILE and one flag per configuration parameter, for a subcommand.
class ConfigFlags {
 public:
  void Register(CLI::App* command);
  // Loads file, environment and flags; prints the error and returns
  // nullopt when the configuration is invalid.
  std::optional<LoadedConfig> Load() const;

 private:
  std::string config_file_;
  std::vector<std::pair<std::string, std::optional<std::string>>> values_;  // key -> flag value
};

// Sets the spdlog level and format (stderr).
void SetupLogging(const std::string& level);

Command AddServeCommand(CLI::App* app);
Command AddImportCommand(CLI::App* app);
Command AddConfigCommand(CLI::App* app);
Command AddBenchCommand(CLI::App* app);
Command AddSimulateCommand(CLI::App* app);
Command AddEvaluateCommand(CLI::App* app);
Command AddTrainCommand(CLI::App* app);
Command AddRestoreCommand(CLI::App* app);
// `vitrina bench search-quality` and `search-latency`, under `bench`.
std::vector<Command> AddSearchBenchCommands(CLI::App* bench);
// `vitrina bench attribution`: attribution's speed and memory per list.
Command AddAttributionBenchCommand(CLI::App* bench);

// Resident memory of this process, bytes (benchmarks).
size_t ResidentBytes();

}  // namespace vitrina
