#include "server/backend_factory.h"

#include "server/engine_backend.h"

namespace swarmkv {

Result<std::unique_ptr<ServerBackend>> CreateServerBackend(const BackendOptions& options) {
  SKV_ASSIGN_OR_RETURN(std::unique_ptr<EngineBackend> b, EngineBackend::Create(options));
  return std::unique_ptr<ServerBackend>(std::move(b));
}

}  // namespace swarmkv
