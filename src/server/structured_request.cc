#include "server/structured_request.h"

namespace swarmkv {

namespace {
using ojson = nlohmann::ordered_json;
}

Result<std::optional<OutputGrammar>> OutputGrammarFor(const ApiRequest& r) {
  const bool forced_call = r.tools.is_array() && !r.tools.empty() &&
                           (r.tool_choice == ToolChoice::kRequired || r.tool_choice == ToolChoice::kNamed);
  if (forced_call) {
    if (r.format != OutputFormat::kText)
      return InvalidArgumentError("a required tool call and a structured output format cannot be combined");
    ojson branches = ojson::array();
    for (const auto& t : r.tools) {
      const ojson& f = t["function"];
      if (r.tool_choice == ToolChoice::kNamed && f["name"] != r.tool_choice_name) continue;
      ojson call = {{"type", "object"},
                    {"properties", {{"name", {{"const", f["name"]}}}, {"arguments", f["parameters"]}}},
                    {"required", {"name", "arguments"}},
                    {"additionalProperties", false}};
      branches.push_back(std::move(call));
    }
    ojson schema = branches.size() == 1 ? branches[0] : ojson{{"anyOf", branches}};
    auto g = JsonGrammar::Compile(schema);
    if (!g.ok()) return InvalidArgumentError("tools: " + g.status().message());
    return std::optional<OutputGrammar>(OutputGrammar{"call:" + schema.dump(), std::make_shared<JsonGrammar>(std::move(g).value())});
  }
  switch (r.format) {
    case OutputFormat::kText:
      return std::optional<OutputGrammar>();
    case OutputFormat::kJsonObject:
      return std::optional<OutputGrammar>(OutputGrammar{"json_object", std::make_shared<JsonGrammar>(JsonGrammar::AnyJson(true))});
    case OutputFormat::kJsonSchema: {
      auto g = JsonGrammar::Compile(r.format_schema);
      const char* field = r.is_openai() ? "response_format.json_schema.schema" : "format";
      if (!g.ok()) return InvalidArgumentError(std::string("field '") + field + "': " + g.status().message());
      return std::optional<OutputGrammar>(
          OutputGrammar{"schema:" + r.format_schema.dump(), std::make_shared<JsonGrammar>(std::move(g).value())});
    }
  }
  return std::optional<OutputGrammar>();
}

}  // namespace swarmkv
