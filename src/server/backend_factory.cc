#include "server/backend_factory.h"

namespace swarmkv {

Result<std::unique_ptr<ServerBackend>> CreateServerBackend(const BackendOptions& options) {
  return UnimplementedError(
      "no inference engine in this build: src/engine (GenerationService), src/model (Model::Load), "
      "src/tokenizer (Tokenize, chat templates) and src/memory (KV stats, pins) are not wired into "
      "server/backend_factory.cc yet");
}

}  // namespace swarmkv
