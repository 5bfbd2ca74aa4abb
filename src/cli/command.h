// Subcommand registry for the single `swarmkv` binary.
//
// Each cli/cmd_*.cc file registers one subcommand at static-initialisation time:
//
//   static swarmkv::cli::CommandRegistrar reg("inspect", "Show a GGUF file's metadata", [](CLI::App& app) {
//     auto opts = std::make_shared<InspectOptions>();
//     app.add_option("file", opts->path, "GGUF file")->required();
//     return [opts] { return RunInspect(*opts); };   // exit code
//   });
//
// The cmd_*.cc files are compiled into the executable itself (not a library), so the registrars
// are never dropped by the linker. Commands print results to stdout and diagnostics to stderr,
// and return 0 on success, 1 on a runtime error, 2 on a usage error.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace swarmkv::cli {

using CommandRun = std::function<int()>;
using CommandSetup = std::function<CommandRun(CLI::App&)>;

struct CommandSpec {
  std::string name;
  std::string description;
  CommandSetup setup;
};

class CommandRegistrar {
 public:
  CommandRegistrar(std::string name, std::string description, CommandSetup setup);
};

// All registered commands, sorted by name.
std::vector<CommandSpec>& RegisteredCommands();

// Levenshtein distance (an unknown subcommand suggests the nearest one).
size_t EditDistance(const std::string& a, const std::string& b);

}  // namespace swarmkv::cli
