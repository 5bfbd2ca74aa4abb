#include "cli/swarm/llama_server.h"

#include <sstream>

namespace swarmkv::cli {

std::vector<std::string> SplitWords(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::string word;
  std::istringstream in(text);
  while (std::getline(in, word, sep)) {
    while (!word.empty() && word.back() == ' ') word.pop_back();
    while (!word.empty() && word.front() == ' ') word.erase(0, 1);
    if (!word.empty()) out.push_back(word);
  }
  return out;
}

std::vector<std::string> LlamaServerArgs(const LlamaServerSetup& s) {
  // -np N without --kv-unified: each slot gets -c / N tokens, one agent's whole conversation.
  std::vector<std::string> args = {"-m", s.model_path, "-a", "swarm",
                                   "-np", std::to_string(s.agents),
                                   "-c", std::to_string(static_cast<int64_t>(s.num_ctx) * s.agents),
                                   "--cache-reuse", "256",
                                   "-t", std::to_string(s.threads), "-tb", std::to_string(s.threads),
                                   "-ctk", s.kv_type, "-ctv", s.kv_type};
  for (auto& a : SplitWords(s.extra_args, ' ')) args.push_back(a);
  return args;
}

uint64_t KvBytes(int64_t tokens, uint32_t n_layer, uint32_t kv_row_elements, const std::string& kv_type) {
  double element_bytes = 2;
  if (kv_type == "q8_0") element_bytes = 34.0 / 32;
  if (kv_type == "q4_0") element_bytes = 18.0 / 32;
  if (kv_type == "f32") element_bytes = 4;
  return static_cast<uint64_t>(static_cast<double>(tokens) * n_layer * kv_row_elements * element_bytes);
}

}  // namespace swarmkv::cli
