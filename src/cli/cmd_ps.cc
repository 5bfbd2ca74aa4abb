// `swarmkv ps`: the models a running server has loaded (GET /api/ps), as `ollama ps` prints them.
#include "cli/client/commands.h"
#include "cli/command.h"

namespace swarmkv::cli {
namespace {
CommandRegistrar reg("ps", "List the models a running server has loaded ($SWARMKV_HOST)",
                     [](CLI::App&) -> CommandRun { return [] { return RunPs(); }; });
}  // namespace
}  // namespace swarmkv::cli
