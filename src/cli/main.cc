// swarmkv: one binary, one subcommand per job (serve, run, bench, inspect, make-model, ...).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <iostream>
#include <map>

#include "base/logging.h"
#include "cli/command.h"

namespace swarmkv::cli {

std::vector<CommandSpec>& RegisteredCommands() {
  static std::vector<CommandSpec> commands;
  return commands;
}

CommandRegistrar::CommandRegistrar(std::string name, std::string description, CommandSetup setup) {
  RegisteredCommands().push_back({std::move(name), std::move(description), std::move(setup)});
}

}  // namespace swarmkv::cli

int main(int argc, char** argv) {
  using namespace swarmkv;
  CLI::App app{"swarmkv: a local LLM inference server whose KV cache is one shared, paged, tiered memory"};
  app.set_version_flag("--version", std::string("swarmkv ") + SWARMKV_VERSION);
  app.require_subcommand(1);
  std::string log_level;
  app.add_option("--log-level", log_level, "debug, info, warn or error (default: $SWARMKV_LOG or info)");

  auto& commands = cli::RegisteredCommands();
  std::sort(commands.begin(), commands.end(),
            [](const cli::CommandSpec& a, const cli::CommandSpec& b) { return a.name < b.name; });
  std::map<CLI::App*, cli::CommandRun> runs;
  for (auto& spec : commands) {
    CLI::App* sub = app.add_subcommand(spec.name, spec.description);
    runs[sub] = spec.setup(*sub);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help/--version print and succeed (0); a usage error exits 2, the Unix convention
    // (CLI11's own codes, 100+, would read as a crash to scripts).
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (!log_level.empty()) {
    LogLevel level;
    if (!ParseLogLevel(log_level, &level)) {
      std::cerr << "swarmkv: unknown --log-level '" << log_level << "'\n";
      return 2;
    }
    SetLogLevel(level);
  }
  for (auto& [sub, run] : runs) {
    if (sub->parsed()) return run();
  }
  return 2;
}
