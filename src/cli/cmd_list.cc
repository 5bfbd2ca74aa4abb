// `swarmkv list`: the models a running server offers (GET /api/tags), as `ollama list` prints them.
#include "cli/client/commands.h"
#include "cli/command.h"

namespace swarmkv::cli {
namespace {
CommandRegistrar reg("list", "List the models of a running server ($SWARMKV_HOST, default 127.0.0.1:11434)",
                     [](CLI::App& app) -> CommandRun {
                       app.alias("ls");
                       return [] { return RunList(); };
                     });
}  // namespace
}  // namespace swarmkv::cli
