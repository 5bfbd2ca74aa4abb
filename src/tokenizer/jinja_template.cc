#include "tokenizer/jinja_template.h"

#include "tokenizer/jinja_ast.h"
#include "tokenizer/jinja_interp.h"
#include "tokenizer/jinja_parser.h"
#include "tokenizer/jinja_value.h"

namespace swarmkv {

JinjaTemplate::~JinjaTemplate() = default;

Result<std::shared_ptr<const JinjaTemplate>> JinjaTemplate::Parse(std::string_view source) {
  SKV_ASSIGN_OR_RETURN(jinja::NodePtr root, jinja::ParseTemplate(source));
  std::shared_ptr<JinjaTemplate> t(new JinjaTemplate());
  t->root_ = std::move(root);
  return std::shared_ptr<const JinjaTemplate>(std::move(t));
}

Result<std::string> JinjaTemplate::Render(const nlohmann::ordered_json& context, const JinjaLimits& limits) const {
  if (!context.is_object()) return InvalidArgumentError("chat template context must be a JSON object");
  SKV_ASSIGN_OR_RETURN(jinja::Value ctx, jinja::FromJson(context, limits.max_expression_depth));
  jinja::Interp interp(limits, ctx);
  return interp.Render(*root_);
}

}  // namespace swarmkv
