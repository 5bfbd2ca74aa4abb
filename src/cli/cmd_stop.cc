// `swarmkv stop NAME`: unload a running model now (POST /api/generate with keep_alive 0), as
// `ollama stop`.
#include "cli/client/commands.h"
#include "cli/command.h"

namespace swarmkv::cli {
namespace {
CommandRegistrar reg("stop", "Unload a model from a running server ($SWARMKV_HOST)", [](CLI::App& app) -> CommandRun {
  auto name = std::make_shared<std::string>();
  app.add_option("name", *name, "Model name")->required();
  return [name] { return RunStop(*name); };
});
}  // namespace
}  // namespace swarmkv::cli
