#include "tokenizer/jinja_template.h"

namespace swarmkv {

JinjaTemplate::~JinjaTemplate() = default;

Result<std::shared_ptr<const JinjaTemplate>> JinjaTemplate::Parse(std::string_view) {
  return UnimplementedError("Jinja interpreter not yet built");
}

Result<std::string> JinjaTemplate::Render(const nlohmann::ordered_json&, const JinjaLimits&) const {
  return UnimplementedError("Jinja interpreter not yet built");
}

}  // namespace swarmkv
