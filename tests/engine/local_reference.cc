#include "local_reference.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace swarmkv::testing {
namespace {

bool Exists(const std::string& path) { return std::ifstream(path).good(); }

// The first line of dir/llamacpp-isa, or "unknown".
std::string DirectoryIsa(const std::string& dir) {
  std::ifstream in(dir + "/llamacpp-isa");
  std::string line;
  if (!in || !std::getline(in, line) || line.empty()) return "unknown";
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line.empty() ? "unknown" : line;
}

}  // namespace

std::vector<LocalReference> FindLocalReferences(const std::string& default_dir, const std::string& file_name) {
  std::vector<std::string> dirs;
  if (const char* dir = std::getenv("SWARMKV_LOCAL_REFERENCE_DIR"); dir != nullptr && *dir != '\0') {
    dirs = {dir};
  } else {
    dirs = {default_dir + "-avx2", default_dir + "-avx512", default_dir};
  }
  std::vector<LocalReference> out;
  for (const std::string& dir : dirs) {
    const std::string path = dir + "/" + file_name;
    if (Exists(path)) out.push_back({path, DirectoryIsa(dir)});
  }
  return out;
}

std::string NoLocalReferenceMessage(const std::string& default_dir, const std::string& file_name,
                                    const std::string& script) {
  return "no llama.cpp reference " + file_name + " in " + default_dir + "-avx2, -avx512 or " + default_dir +
         " (nor $SWARMKV_LOCAL_REFERENCE_DIR): run " + script + " (needs a llama.cpp build)";
}

ArchReference FindArchReference(const std::string& reference_dir_default, const std::string& models_dir,
                                const std::string& name) {
  ArchReference a;
  a.refs = FindLocalReferences(reference_dir_default, name + ".json");
  a.model = models_dir + "/" + name + ".gguf";
  if (a.refs.empty()) {
    a.skip = NoLocalReferenceMessage(reference_dir_default, name + ".json", "scripts/arch_references.sh");
  } else if (FILE* fp = std::fopen(a.model.c_str(), "r")) {
    std::fclose(fp);
  } else {
    a.skip = a.model + " absent: run scripts/arch_references.sh (it makes the model beside the reference)";
  }
  return a;
}

}  // namespace swarmkv::testing
