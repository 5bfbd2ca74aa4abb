#include "server/tool_prompt.h"

namespace swarmkv {

std::vector<ApiChatMessage> WithGenericToolPrompt(const std::vector<ApiChatMessage>& messages,
                                                  const nlohmann::ordered_json& tools) {
  std::string preamble =
      "You can call tools. To call one, reply with only a JSON object "
      "{\"name\": <the tool's name>, \"arguments\": <an object of its parameters>} and nothing else. "
      "Tools:\n";
  for (const auto& t : tools) preamble += t["function"].dump() + "\n";
  std::vector<ApiChatMessage> out;
  size_t i = 0;
  if (!messages.empty() && messages[0].role == "system") {
    out.push_back(messages[0]);
    out[0].content = messages[0].content + "\n\n" + preamble;
    i = 1;
  } else {
    out.push_back({"system", preamble});
  }
  for (; i < messages.size(); ++i) {
    ApiChatMessage m = messages[i];
    if (m.role == "assistant" && !m.tool_calls.empty()) {
      nlohmann::ordered_json calls = nlohmann::ordered_json::array();
      for (const auto& c : m.tool_calls) calls.push_back({{"name", c.name}, {"arguments", c.arguments}});
      m.content += (m.content.empty() ? "" : "\n") + (calls.size() == 1 ? calls[0].dump() : calls.dump());
      m.tool_calls.clear();
    } else if (m.role == "tool") {
      m.role = "user";
      m.content = "Result of the tool" + (m.tool_name.empty() ? std::string() : " " + m.tool_name) + ": " + m.content;
    }
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace swarmkv
