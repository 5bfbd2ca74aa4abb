// `swarmkv show NAME`: a served model's details (POST /api/show), as `ollama show` prints them.
#include "cli/client/commands.h"
#include "cli/command.h"

namespace swarmkv::cli {
namespace {
CommandRegistrar reg("show", "Show a served model's details ($SWARMKV_HOST)", [](CLI::App& app) -> CommandRun {
  auto name = std::make_shared<std::string>();
  app.add_option("name", *name, "Model name (as `swarmkv list` shows it)")->required();
  return [name] { return RunShow(*name); };
});
}  // namespace
}  // namespace swarmkv::cli
