#include "server/backend_factory.h"

#ifdef SWARMKV_SERVER_HAS_ENGINE
#include "server/engine_backend.h"
#endif

namespace swarmkv {

Result<std::unique_ptr<ServerBackend>> CreateServerBackend(const BackendOptions& options) {
#ifdef SWARMKV_SERVER_HAS_ENGINE
  SKV_ASSIGN_OR_RETURN(std::unique_ptr<EngineBackend> b, EngineBackend::Create(options));
  return std::unique_ptr<ServerBackend>(std::move(b));
#else
  return UnimplementedError(
      "no inference engine in this build: src/model (Model::Load) and src/engine (LlamaRunner, Scheduler) "
      "were not found when swarmkv was configured (server/CMakeLists.txt enables server/engine_backend.cc "
      "once they exist)");
#endif
}

}  // namespace swarmkv
