// swarmkv: one binary, one subcommand per job (serve, run, bench, inspect, make-model, ...).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <iostream>
#include <map>
#include <string>
#include <vector>

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

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace swarmkv::cli

int main(int argc, char** argv) {
  using namespace swarmkv;
  CLI::App app{"swarmkv: a local LLM inference server whose KV cache is one shared, paged, tiered memory"};
  app.set_version_flag("--version", std::string("swarmkv ") + SWARMKV_VERSION);
  app.require_subcommand(1);
  std::string log_level;
  app.add_option("--log-level", log_level, "debug, info, warn or error (default: $SWARMKV_LOG or info)");

  // Every option's default is shown by --help (subcommands inherit this from the app).
  app.option_defaults()->always_capture_default();
  auto& commands = cli::RegisteredCommands();
  std::sort(commands.begin(), commands.end(),
            [](const cli::CommandSpec& a, const cli::CommandSpec& b) { return a.name < b.name; });
  std::map<CLI::App*, cli::CommandRun> runs;
  for (auto& spec : commands) {
    CLI::App* sub = app.add_subcommand(spec.name, spec.description);
    runs[sub] = spec.setup(*sub);
  }
  if (argc > 1 && argv[1][0] != '-') {
    const std::string typed = argv[1];
    std::string nearest;
    size_t best = SIZE_MAX;
    bool known = false;
    for (const auto* sub : app.get_subcommands([](CLI::App*) { return true; })) {
      known |= sub->check_name(typed);
      size_t d = cli::EditDistance(typed, sub->get_name());
      if (d < best) best = d, nearest = sub->get_name();
    }
    if (!known) {
      std::cerr << "swarmkv: unknown command '" << typed << "'";
      if (best <= std::max<size_t>(2, typed.size() / 3)) std::cerr << "; did you mean '" << nearest << "'?";
      std::cerr << "\nRun 'swarmkv --help' for the commands.\n";
      return 2;
    }
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
