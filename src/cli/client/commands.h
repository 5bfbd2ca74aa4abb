// The Ollama-style client subcommands (`swarmkv list`, `ps`, `show NAME`, `stop NAME`): each asks
// the running server ($SWARMKV_HOST) and prints what `ollama` prints, as a table or text.
//
// Thread-safety: plain functions, run from main.
#pragma once

#include <cstdint>
#include <string>

namespace swarmkv::cli {

int RunList();
int RunPs();
int RunShow(const std::string& name);
int RunStop(const std::string& name);
// A human size as Ollama prints it ("1.2 GB", "291 MB"); decimal units.
std::string HumanBytes(uint64_t bytes);
// "3 days ago", "About a minute ago", "Forever" for a time far off... as `ollama list/ps` do.
std::string HumanSince(int64_t seconds_ago);

}  // namespace swarmkv::cli
