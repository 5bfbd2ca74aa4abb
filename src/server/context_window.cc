#include "server/context_window.h"

#include <algorithm>

namespace swarmkv {

Result<ContextOptions> ParseContextOptions(const nlohmann::json& body) {
  ContextOptions o;
  for (const char* key : {"truncate", "shift"}) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) continue;
    if (!it->is_boolean())
      return InvalidArgumentError(std::string("field '") + key + "' must be true or false, got " + it->type_name());
    (std::string(key) == "truncate" ? o.truncate : o.shift) = it->get<bool>();
  }
  auto opts = body.find("options");
  if (opts != body.end() && opts->is_object()) {
    auto k = opts->find("num_keep");
    if (k != opts->end() && !k->is_null()) {
      if (!k->is_number_integer() || k->get<int64_t>() < -1 || k->get<int64_t>() > (1 << 22))
        return InvalidArgumentError("field 'options.num_keep' must be an integer in [-1, 4194304], got " + k->dump());
      o.num_keep = static_cast<int32_t>(k->get<int64_t>());
    }
  }
  return o;
}

ResolvedNumCtx ResolveNumCtx(int32_t requested, int32_t server_default, int32_t model_ctx) {
  ResolvedNumCtx r;
  int32_t want = requested > 0 ? requested : server_default;
  if (want <= 0) want = model_ctx > 0 ? model_ctx : kFallbackNumCtx;
  r.num_ctx = want;
  if (model_ctx > 0 && want > model_ctx) {
    r.num_ctx = model_ctx;
    r.clamped = requested > 0;  // a server default above a small model is not the client's doing
  }
  return r;
}

int32_t ReserveForAnswer(int32_t num_ctx, int32_t num_predict) {
  int32_t reserve = num_predict > 0 ? std::min(num_predict, num_ctx / 2) : num_ctx / 4;
  return std::max(reserve, 1);
}

std::vector<int32_t> TruncateTokens(const std::vector<int32_t>& tokens, size_t limit, int32_t num_keep) {
  if (tokens.size() <= limit) return tokens;
  size_t keep = num_keep < 0 ? limit / 2 : std::min(static_cast<size_t>(num_keep), limit / 2);
  std::vector<int32_t> out(tokens.begin(), tokens.begin() + static_cast<std::ptrdiff_t>(keep));
  out.insert(out.end(), tokens.end() - static_cast<std::ptrdiff_t>(limit - keep), tokens.end());
  return out;
}

}  // namespace swarmkv
