// vitrina: the personalization engine's single binary.
#include <vector>

#include "apps/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"Vitrina " VITRINA_VERSION " - a self-hosted personalization engine for online stores"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "vitrina " VITRINA_VERSION);
  std::vector<vitrina::Command> commands = {
      vitrina::AddServeCommand(&app),
      vitrina::AddImportCommand(&app),
      vitrina::AddConfigCommand(&app),
      vitrina::AddTrainCommand(&app),
      vitrina::AddRestoreCommand(&app),
      vitrina::AddEvaluateCommand(&app),
      vitrina::AddBenchCommand(&app),
      vitrina::AddSimulateCommand(&app),
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? vitrina::kExitOk : vitrina::kExitUsage;
  }
  for (const vitrina::Command& command : commands) {
    if (command.cli->parsed()) return command.run();
  }
  return vitrina::kExitUsage;
}
