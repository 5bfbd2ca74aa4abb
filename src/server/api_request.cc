#include "server/api_request.h"

#include <cmath>
#include <set>

#include <nlohmann/json.hpp>

#include "server/json_limits.h"
#include "server/model_manager.h"
#include "server/tool_calls.h"

namespace swarmkv {

namespace {

// ordered_json: tool schemas and arguments keep the client's key order (the model sees them so).
using json = nlohmann::ordered_json;

Status WrongType(const std::string& field, const char* expected, const json& got) {
  return InvalidArgumentError("field '" + field + "' must be " + expected + ", got " + std::string(got.type_name()));
}

Status GetString(const json& obj, const char* key, std::string* out, const std::string& path = "") {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Status::OK();
  if (!it->is_string()) return WrongType(path + key, "a string", *it);
  *out = it->get<std::string>();
  return Status::OK();
}

Status GetBool(const json& obj, const char* key, bool* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Status::OK();
  if (!it->is_boolean()) return WrongType(key, "true or false", *it);
  *out = it->get<bool>();
  return Status::OK();
}

Status GetNumber(const json& obj, const char* key, double* out, const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Status::OK();
  if (!it->is_number()) return WrongType(path + key, "a number", *it);
  double v = it->get<double>();
  if (!std::isfinite(v)) return InvalidArgumentError("field '" + path + key + "' must be finite");
  *out = v;
  return Status::OK();
}

Status GetInt(const json& obj, const char* key, int64_t lo, int64_t hi, int64_t* out, const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Status::OK();
  if (!it->is_number_integer() && !(it->is_number_float() && it->get<double>() == std::floor(it->get<double>())))
    return WrongType(path + key, "an integer", *it);
  double d = it->get<double>();
  if (d < static_cast<double>(lo) || d > static_cast<double>(hi))
    return InvalidArgumentError("field '" + path + key + "' is " + it->dump() + ", outside [" + std::to_string(lo) +
                                ", " + std::to_string(hi) + "]");
  *out = it->is_number_unsigned() ? static_cast<int64_t>(it->get<uint64_t>()) : it->get<int64_t>();
  return Status::OK();
}

Status GetStop(const json& obj, const char* key, std::vector<std::string>* out, const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Status::OK();
  if (it->is_string()) {
    out->push_back(it->get<std::string>());
  } else if (it->is_array()) {
    for (const auto& s : *it) {
      if (!s.is_string()) return WrongType(path + key + "[]", "a string", s);
      out->push_back(s.get<std::string>());
    }
  } else {
    return WrongType(path + key, "a string or an array of strings", *it);
  }
  for (const auto& s : *out)
    if (s.empty()) return InvalidArgumentError("field '" + path + key + "' contains an empty stop string");
  if (out->size() > 16) return InvalidArgumentError("field '" + path + key + "' has more than 16 stop strings");
  return Status::OK();
}

// Sampling knobs shared by both APIs. `obj` is Ollama's options object or the OpenAI body.
Status ParseSampling(const json& obj, const std::string& path, ApiRequest* r) {
  double t = r->sampling.temperature, top_p = r->sampling.top_p, min_p = r->sampling.min_p;
  double rp = r->sampling.repeat_penalty, pp = r->sampling.presence_penalty, fp = r->sampling.frequency_penalty;
  SKV_RETURN_IF_ERROR(GetNumber(obj, "temperature", &t, path));
  SKV_RETURN_IF_ERROR(GetNumber(obj, "top_p", &top_p, path));
  SKV_RETURN_IF_ERROR(GetNumber(obj, "min_p", &min_p, path));
  SKV_RETURN_IF_ERROR(GetNumber(obj, "repeat_penalty", &rp, path));
  SKV_RETURN_IF_ERROR(GetNumber(obj, "presence_penalty", &pp, path));
  SKV_RETURN_IF_ERROR(GetNumber(obj, "frequency_penalty", &fp, path));
  if (t < 0 || t > 100) return InvalidArgumentError("field '" + path + "temperature' must be in [0, 100]");
  if (top_p < 0 || top_p > 1) return InvalidArgumentError("field '" + path + "top_p' must be in [0, 1]");
  if (min_p < 0 || min_p > 1) return InvalidArgumentError("field '" + path + "min_p' must be in [0, 1]");
  if (rp <= 0 || rp > 100) return InvalidArgumentError("field '" + path + "repeat_penalty' must be in (0, 100]");
  if (std::fabs(pp) > 2 || std::fabs(fp) > 2)
    return InvalidArgumentError("presence_penalty and frequency_penalty must be in [-2, 2]");
  r->sampling.temperature = static_cast<float>(t);
  r->sampling.top_p = static_cast<float>(top_p);
  r->sampling.min_p = static_cast<float>(min_p);
  r->sampling.repeat_penalty = static_cast<float>(rp);
  r->sampling.presence_penalty = static_cast<float>(pp);
  r->sampling.frequency_penalty = static_cast<float>(fp);
  int64_t top_k = r->sampling.top_k, last_n = r->sampling.repeat_last_n, seed = -1;
  SKV_RETURN_IF_ERROR(GetInt(obj, "top_k", -1, 1 << 24, &top_k, path));
  SKV_RETURN_IF_ERROR(GetInt(obj, "repeat_last_n", -1, kMaxNumCtx, &last_n, path));
  SKV_RETURN_IF_ERROR(GetInt(obj, "seed", INT64_MIN, INT64_MAX, &seed, path));
  r->sampling.top_k = static_cast<int32_t>(top_k);
  r->sampling.repeat_last_n = static_cast<int32_t>(last_n);
  if (obj.contains("seed") && !obj["seed"].is_null()) {
    r->sampling.seed = static_cast<uint64_t>(seed);
    r->sampling.has_seed = true;
  }
  SKV_RETURN_IF_ERROR(GetStop(obj, "stop", &r->stop, path));
  return Status::OK();
}

Status ParseNumPredict(const json& obj, const char* key, const std::string& path, ApiRequest* r) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Status::OK();
  if (!it->is_number_integer()) return WrongType(path + key, "an integer", *it);
  int64_t v = it->is_number_unsigned() ? static_cast<int64_t>(std::min<uint64_t>(it->get<uint64_t>(), INT64_MAX))
                                       : it->get<int64_t>();
  if (v > kMaxNumPredict)
    return InvalidArgumentError("field '" + path + key + "' is " + std::to_string(v) + ", more than the limit of " +
                                std::to_string(kMaxNumPredict) + " tokens");
  // Ollama: -1 infinite, -2 fill the context; other negatives are nonsense.
  if (v < -2) return InvalidArgumentError("field '" + path + key + "' is " + std::to_string(v) + " (use -1 for no limit)");
  r->num_predict = static_cast<int32_t>(v < 0 ? -1 : v);
  return Status::OK();
}

Status ParseKeepAlive(const json& body, ApiRequest* r) {
  auto it = body.find("keep_alive");
  if (it == body.end() || it->is_null()) return Status::OK();
  if (it->is_number()) {
    double s = it->get<double>();
    r->keep_alive_ms = s < 0 ? -1 : static_cast<int64_t>(std::min(s, 1e12) * 1000);
    return Status::OK();
  }
  if (!it->is_string()) return WrongType("keep_alive", "a duration string or a number of seconds", *it);
  SKV_ASSIGN_OR_RETURN(int64_t ms, ParseKeepAliveMs(it->get<std::string>()));
  r->keep_alive_ms = ms;
  return Status::OK();
}

// A message's content: a string, or (OpenAI) an array of {type:"text", text} parts.
Status ParseContent(const json& msg, size_t index, std::string* out) {
  std::string path = "messages[" + std::to_string(index) + "].content";
  auto it = msg.find("content");
  if (it == msg.end() || it->is_null()) return Status::OK();  // assistant tool-call turns carry none
  if (it->is_string()) {
    *out = it->get<std::string>();
    return Status::OK();
  }
  if (!it->is_array()) return WrongType(path, "a string or an array of content parts", *it);
  for (const auto& part : *it) {
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
      return InvalidArgumentError(path + ": each part must be an object with a string 'type'");
    if (part["type"] != "text")
      return UnimplementedError(path + ": content part type '" + part["type"].get<std::string>() +
                                "' is not supported (text only)");
    if (!part.contains("text") || !part["text"].is_string())
      return InvalidArgumentError(path + ": a text part needs a string 'text'");
    *out += part["text"].get<std::string>();
  }
  return Status::OK();
}

// An assistant turn's tool_calls (OpenAI: arguments as a JSON string; Ollama: an object), a tool
// result's tool_name / tool_call_id, and an assistant turn's thinking.
Status ParseMessageTools(const json& m, size_t index, const ApiRequest* r, ApiChatMessage* msg) {
  const std::string path = "messages[" + std::to_string(index) + "].";
  SKV_RETURN_IF_ERROR(GetString(m, "tool_name", &msg->tool_name, path));
  if (msg->tool_name.empty() && msg->role == "tool") SKV_RETURN_IF_ERROR(GetString(m, "name", &msg->tool_name, path));
  SKV_RETURN_IF_ERROR(GetString(m, "tool_call_id", &msg->tool_call_id, path));
  SKV_RETURN_IF_ERROR(GetString(m, "thinking", &msg->thinking, path));
  if (msg->thinking.empty()) SKV_RETURN_IF_ERROR(GetString(m, "reasoning_content", &msg->thinking, path));
  if (msg->role == "tool" && msg->tool_name.empty() && !msg->tool_call_id.empty()) {
    // OpenAI names the function only in the assistant turn that called it.
    for (auto it = r->messages.rbegin(); it != r->messages.rend() && msg->tool_name.empty(); ++it)
      for (const auto& c : it->tool_calls)
        if (c.id == msg->tool_call_id) msg->tool_name = c.name;
  }
  auto tc = m.find("tool_calls");
  if (tc == m.end() || tc->is_null()) return Status::OK();
  if (!tc->is_array()) return WrongType(path + "tool_calls", "an array", *tc);
  if (msg->role != "assistant") return InvalidArgumentError(path + "tool_calls: only assistant messages carry tool calls");
  for (size_t k = 0; k < tc->size(); ++k) {
    const json& c = (*tc)[k];
    const std::string cp = path + "tool_calls[" + std::to_string(k) + "]";
    if (!c.is_object() || !c.contains("function") || !c["function"].is_object())
      return InvalidArgumentError(cp + " must be an object with a 'function' object");
    ApiToolCall call;
    SKV_RETURN_IF_ERROR(GetString(c, "id", &call.id, cp + "."));
    const json& f = c["function"];
    SKV_RETURN_IF_ERROR(GetString(f, "name", &call.name, cp + ".function."));
    if (call.name.empty()) return InvalidArgumentError(cp + ".function.name is required");
    auto a = f.find("arguments");
    if (a != f.end() && !a->is_null()) {
      if (a->is_string()) {
        if (JsonNestingDepth(a->get<std::string>()) > kMaxJsonNesting)
          return InvalidArgumentError(cp + ".function.arguments nests deeper than " + std::to_string(kMaxJsonNesting) + " levels");
        json parsed = json::parse(a->get<std::string>(), nullptr, /*allow_exceptions=*/false);
        if (parsed.is_discarded())
          return InvalidArgumentError(cp + ".function.arguments is not valid JSON: " + a->get<std::string>().substr(0, 80));
        call.arguments = std::move(parsed);
      } else if (a->is_object()) {
        call.arguments = *a;
      } else {
        return WrongType(cp + ".function.arguments", "an object or a JSON string", *a);
      }
    }
    msg->tool_calls.push_back(std::move(call));
  }
  return Status::OK();
}

// tools: [{"type":"function","function":{"name","description","parameters","strict"}}], normalised.
Status ParseTools(const json& body, ApiRequest* r) {
  auto it = body.find("tools");
  if (it == body.end() || it->is_null()) return Status::OK();
  if (!r->is_chat()) return InvalidArgumentError("field 'tools' is only accepted by the chat routes");
  if (!it->is_array()) return WrongType("tools", "an array", *it);
  if (it->size() > kMaxTools) return InvalidArgumentError("field 'tools' has more than " + std::to_string(kMaxTools) + " tools");
  json tools = json::array();
  std::set<std::string> names;
  for (size_t i = 0; i < it->size(); ++i) {
    const json& t = (*it)[i];
    const std::string p = "tools[" + std::to_string(i) + "]";
    if (!t.is_object()) return WrongType(p, "an object", t);
    std::string type = "function";
    SKV_RETURN_IF_ERROR(GetString(t, "type", &type, p + "."));
    if (type != "function") return InvalidArgumentError(p + ".type '" + type + "' is not supported (only 'function')");
    if (!t.contains("function") || !t["function"].is_object()) return InvalidArgumentError(p + ".function (an object) is required");
    const json& f = t["function"];
    std::string name, description;
    SKV_RETURN_IF_ERROR(GetString(f, "name", &name, p + ".function."));
    SKV_RETURN_IF_ERROR(GetString(f, "description", &description, p + ".function."));
    if (name.empty() || name.size() > 64 ||
        name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") != std::string::npos)
      return InvalidArgumentError(p + ".function.name must be 1 to 64 letters, digits, '_', '-' or '.'");
    if (!names.insert(name).second) return InvalidArgumentError(p + ".function.name '" + name + "' is given twice");
    json out = {{"type", "function"}, {"function", {{"name", name}}}};
    if (!description.empty()) out["function"]["description"] = description;
    auto params = f.find("parameters");
    if (params != f.end() && !params->is_null()) {
      if (!params->is_object()) return WrongType(p + ".function.parameters", "a JSON schema object", *params);
      out["function"]["parameters"] = *params;
    } else {
      out["function"]["parameters"] = {{"type", "object"}, {"properties", json::object()}};
    }
    bool strict = false;
    SKV_RETURN_IF_ERROR(GetBool(f, "strict", &strict));
    if (strict) out["function"]["strict"] = true;
    tools.push_back(std::move(out));
  }
  r->tools = std::move(tools);
  return Status::OK();
}

// OpenAI tool_choice and parallel_tool_calls.
Status ParseToolChoice(const json& body, ApiRequest* r) {
  SKV_RETURN_IF_ERROR(GetBool(body, "parallel_tool_calls", &r->parallel_tool_calls));
  auto it = body.find("tool_choice");
  if (it == body.end() || it->is_null()) return Status::OK();
  if (it->is_string()) {
    const std::string c = it->get<std::string>();
    if (c == "auto") r->tool_choice = ToolChoice::kAuto;
    else if (c == "none") r->tool_choice = ToolChoice::kNone;
    else if (c == "required") r->tool_choice = ToolChoice::kRequired;
    else return InvalidArgumentError("field 'tool_choice' is '" + c + "': expected auto, none, required or {\"type\":\"function\",\"function\":{\"name\":...}}");
  } else if (it->is_object()) {
    std::string name;
    if (it->contains("function") && (*it)["function"].is_object())
      SKV_RETURN_IF_ERROR(GetString((*it)["function"], "name", &name, "tool_choice.function."));
    if (name.empty()) return InvalidArgumentError("field 'tool_choice' names no function (tool_choice.function.name)");
    r->tool_choice = ToolChoice::kNamed;
    r->tool_choice_name = name;
  } else {
    return WrongType("tool_choice", "a string or an object", *it);
  }
  if (r->tool_choice == ToolChoice::kRequired || r->tool_choice == ToolChoice::kNamed) {
    if (!r->tools.is_array() || r->tools.empty())
      return InvalidArgumentError("field 'tool_choice' requires a tool call but 'tools' is empty");
  }
  if (r->tool_choice == ToolChoice::kNamed) {
    bool found = false;
    for (const auto& t : r->tools) found |= t["function"]["name"] == r->tool_choice_name;
    if (!found) return InvalidArgumentError("field 'tool_choice' names '" + r->tool_choice_name + "', which is not in 'tools'");
  }
  return Status::OK();
}

// Ollama `format`: "json" or a JSON schema.
Status ParseOllamaFormat(const json& body, ApiRequest* r) {
  auto it = body.find("format");
  if (it == body.end() || it->is_null()) return Status::OK();
  if (it->is_string()) {
    const std::string f = it->get<std::string>();
    if (f.empty()) return Status::OK();
    if (f != "json") return InvalidArgumentError("field 'format' is '" + f + "': expected \"json\" or a JSON schema object");
    r->format = OutputFormat::kJsonObject;
    return Status::OK();
  }
  if (!it->is_object()) return WrongType("format", "\"json\" or a JSON schema object", *it);
  r->format = OutputFormat::kJsonSchema;
  r->format_schema = *it;
  return Status::OK();
}

// OpenAI `response_format`: text, json_object, or json_schema {name, schema, strict}.
Status ParseResponseFormat(const json& body, ApiRequest* r) {
  auto it = body.find("response_format");
  if (it == body.end() || it->is_null()) return Status::OK();
  if (!it->is_object()) return WrongType("response_format", "an object", *it);
  std::string type;
  SKV_RETURN_IF_ERROR(GetString(*it, "type", &type, "response_format."));
  if (type == "text") return Status::OK();
  if (type == "json_object") {
    r->format = OutputFormat::kJsonObject;
    return Status::OK();
  }
  if (type != "json_schema")
    return InvalidArgumentError("field 'response_format.type' is '" + type + "': expected text, json_object or json_schema");
  auto js = it->find("json_schema");
  if (js == it->end() || !js->is_object()) return InvalidArgumentError("field 'response_format.json_schema' (an object) is required");
  auto schema = js->find("schema");
  if (schema == js->end() || schema->is_null()) {
    r->format = OutputFormat::kJsonObject;  // a name without a schema: any JSON object
    return Status::OK();
  }
  if (!schema->is_object() && !schema->is_boolean()) return WrongType("response_format.json_schema.schema", "a JSON schema", *schema);
  r->format = OutputFormat::kJsonSchema;
  r->format_schema = *schema;
  return Status::OK();
}

// logprobs / top_logprobs. OpenAI completions: `logprobs` is the number of alternatives (0..5).
Status ParseLogprobs(const json& body, ApiRequest* r) {
  auto lp = body.find("logprobs");
  if (r->kind == ApiKind::kOpenAICompletion) {
    if (lp == body.end() || lp->is_null()) return Status::OK();
    int64_t k = 0;
    SKV_RETURN_IF_ERROR(GetInt(body, "logprobs", 0, 5, &k, ""));
    r->logprobs = true;
    r->top_logprobs = static_cast<int32_t>(k);
    return Status::OK();
  }
  SKV_RETURN_IF_ERROR(GetBool(body, "logprobs", &r->logprobs));
  auto top = body.find("top_logprobs");
  if (top != body.end() && !top->is_null()) {
    int64_t k = 0;
    SKV_RETURN_IF_ERROR(GetInt(body, "top_logprobs", 0, kMaxTopLogprobs, &k, ""));
    if (!r->logprobs && k > 0) return InvalidArgumentError("field 'top_logprobs' needs 'logprobs': true");
    r->top_logprobs = static_cast<int32_t>(k);
  }
  return Status::OK();
}

// Fields that would change the output and that this server does not implement: a clear error.
Status RejectUnsupportedOpenAI(const json& body) {
  auto present = [&](const char* k) { return body.contains(k) && !body[k].is_null(); };
  if (present("logit_bias") && !(body["logit_bias"].is_object() && body["logit_bias"].empty()))
    return InvalidArgumentError("field 'logit_bias' is not supported");
  for (const char* k : {"functions", "function_call"})
    if (present(k)) return InvalidArgumentError(std::string("field '") + k + "' (the legacy function API) is not supported: use 'tools'");
  for (const char* k : {"audio", "prediction", "web_search_options"})
    if (present(k)) return InvalidArgumentError(std::string("field '") + k + "' is not supported");
  if (present("modalities")) {
    const json& m = body["modalities"];
    if (!(m.is_array() && m.size() == 1 && m[0] == "text")) return InvalidArgumentError("field 'modalities': only [\"text\"] is supported");
  }
  return Status::OK();
}

Status ParseMessages(const json& body, ApiRequest* r) {
  auto it = body.find("messages");
  if (it == body.end() || it->is_null()) return InvalidArgumentError("field 'messages' is required");
  if (!it->is_array()) return WrongType("messages", "an array", *it);
  if (it->empty()) return InvalidArgumentError("field 'messages' is empty: send at least one message");
  size_t i = 0;
  for (const auto& m : *it) {
    if (!m.is_object()) return WrongType("messages[" + std::to_string(i) + "]", "an object", m);
    ApiChatMessage msg;
    SKV_RETURN_IF_ERROR(GetString(m, "role", &msg.role, "messages[" + std::to_string(i) + "]."));
    if (msg.role.empty()) return InvalidArgumentError("messages[" + std::to_string(i) + "] has no 'role'");
    if (msg.role != "system" && msg.role != "user" && msg.role != "assistant" && msg.role != "tool" &&
        msg.role != "developer")
      return InvalidArgumentError("messages[" + std::to_string(i) + "].role '" + msg.role +
                                  "' is not one of system, user, assistant, tool");
    if (msg.role == "developer") msg.role = "system";
    SKV_RETURN_IF_ERROR(ParseContent(m, i, &msg.content));
    if (m.contains("images") && !m["images"].is_null())
      return UnimplementedError("messages[" + std::to_string(i) + "].images: this server runs text models only");
    SKV_RETURN_IF_ERROR(ParseMessageTools(m, i, r, &msg));
    r->messages.push_back(std::move(msg));
    ++i;
  }
  return Status::OK();
}

// The model's default options (see ParseApiRequest), applied before the request's own.
Status ApplyModelParams(const std::string& params_json, ApiRequest* r) {
  if (params_json.empty()) return Status::OK();
  json params = json::parse(params_json, nullptr, /*allow_exceptions=*/false);
  if (params.is_discarded() || !params.is_object()) return Status::OK();
  SKV_RETURN_IF_ERROR(ParseSampling(params, "model parameters.", r));
  SKV_RETURN_IF_ERROR(ParseNumPredict(params, "num_predict", "model parameters.", r));
  int64_t num_ctx = 0;
  SKV_RETURN_IF_ERROR(GetInt(params, "num_ctx", 1, kMaxNumCtx, &num_ctx, "model parameters."));
  if (num_ctx > 0) r->num_ctx = static_cast<int32_t>(num_ctx);
  return Status::OK();
}

}  // namespace

Result<ApiRequest> ParseApiRequest(ApiKind kind, const std::string& body_text, const std::string& model_params_json) {
  SKV_ASSIGN_OR_RETURN(json body, ParseOrderedJsonLimited(body_text));  // capped while parsing; key order kept
  if (!body.is_object()) return InvalidArgumentError("request body must be a JSON object, got " + std::string(body.type_name()));
  ApiRequest r;
  r.kind = kind;
  SKV_RETURN_IF_ERROR(GetString(body, "model", &r.model));
  if (r.model.empty()) return InvalidArgumentError("field 'model' is required");
  r.stream = !r.is_openai();
  SKV_RETURN_IF_ERROR(GetBool(body, "stream", &r.stream));

  if (!r.is_openai()) {
    // Ollama defaults (llama.cpp's, as Ollama documents them).
    r.sampling.temperature = 0.8f;
    r.sampling.top_k = 40;
    r.sampling.top_p = 0.9f;
    r.sampling.min_p = 0.0f;
    r.sampling.repeat_penalty = 1.1f;
    SKV_RETURN_IF_ERROR(ApplyModelParams(model_params_json, &r));
    SKV_RETURN_IF_ERROR(ParseKeepAlive(body, &r));
    SKV_RETURN_IF_ERROR(ParseOllamaFormat(body, &r));
    SKV_RETURN_IF_ERROR(ParseTools(body, &r));
    SKV_RETURN_IF_ERROR(ParseLogprobs(body, &r));
    auto think = body.find("think");
    if (think != body.end() && !think->is_null()) {
      if (think->is_boolean()) r.think = think->get<bool>();
      else if (think->is_string() && (*think == "high" || *think == "medium" || *think == "low")) {
        r.think = true;
        r.reasoning_effort = think->get<std::string>();
      }
      else return WrongType("think", "true, false, \"high\", \"medium\" or \"low\"", *think);
    }
    auto opts = body.find("options");
    if (opts != body.end() && !opts->is_null()) {
      if (!opts->is_object()) return WrongType("options", "an object", *opts);
      SKV_RETURN_IF_ERROR(ParseSampling(*opts, "options.", &r));
      SKV_RETURN_IF_ERROR(ParseNumPredict(*opts, "num_predict", "options.", &r));
      int64_t num_ctx = 0;
      SKV_RETURN_IF_ERROR(GetInt(*opts, "num_ctx", 1, kMaxNumCtx, &num_ctx, "options."));
      r.num_ctx = static_cast<int32_t>(num_ctx);
    }
    if (kind == ApiKind::kOllamaGenerate) {
      SKV_RETURN_IF_ERROR(GetString(body, "prompt", &r.prompt));
      SKV_RETURN_IF_ERROR(GetString(body, "system", &r.system));
      SKV_RETURN_IF_ERROR(GetBool(body, "raw", &r.raw));
      SKV_RETURN_IF_ERROR(GetString(body, "template", &r.template_text));
      if (body.contains("images") && !body["images"].is_null())
        return UnimplementedError("field 'images': this server runs text models only");
      if (body.contains("suffix") && body["suffix"].is_string() && !body["suffix"].get<std::string>().empty())
        return UnimplementedError("field 'suffix' (fill-in-the-middle) is not supported");
      auto ctx = body.find("context");
      if (ctx != body.end() && !ctx->is_null()) {
        if (!ctx->is_array()) return WrongType("context", "an array of token ids", *ctx);
        for (const auto& t : *ctx) {
          if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > INT32_MAX)
            return InvalidArgumentError("field 'context' must hold non-negative integer token ids");
          r.context.push_back(static_cast<int32_t>(t.get<int64_t>()));
        }
      }
    } else {
      SKV_RETURN_IF_ERROR(ParseMessages(body, &r));
      // NOTE: not in Ollama's API; accepted as OpenAI's (a swarmkv extension) so an Ollama client
      // can force a call too.
      SKV_RETURN_IF_ERROR(ParseToolChoice(body, &r));
    }
    return r;
  }

  // OpenAI defaults: temperature 1, top_p 1, no top_k/min_p/repeat penalty.
  r.sampling.temperature = 1.0f;
  r.sampling.top_k = 0;
  r.sampling.top_p = 1.0f;
  r.sampling.min_p = 0.0f;
  r.sampling.repeat_penalty = 1.0f;
  SKV_RETURN_IF_ERROR(ApplyModelParams(model_params_json, &r));
  SKV_RETURN_IF_ERROR(ParseSampling(body, "", &r));
  SKV_RETURN_IF_ERROR(GetString(body, "user", &r.user));
  SKV_RETURN_IF_ERROR(RejectUnsupportedOpenAI(body));
  int64_t n = 1;
  SKV_RETURN_IF_ERROR(GetInt(body, "n", 1, kMaxChoices, &n, ""));
  r.n = static_cast<int32_t>(n);
  if (r.n > 1 && r.stream) return InvalidArgumentError("field 'n' > 1 is not supported with stream: true");
  if (body.contains("best_of") && !body["best_of"].is_null() && !(body["best_of"].is_number_integer() && body["best_of"] == n))
    return InvalidArgumentError("field 'best_of' is not supported (only best_of == n)");
  SKV_RETURN_IF_ERROR(ParseLogprobs(body, &r));
  SKV_RETURN_IF_ERROR(ParseResponseFormat(body, &r));
  auto effort = body.find("reasoning_effort");
  if (effort != body.end() && !effort->is_null()) {
    const std::string e = effort->is_string() ? effort->get<std::string>() : "";
    if (e == "none" || e == "minimal") r.think = false;
    else if (e == "low" || e == "medium" || e == "high") r.think = true, r.reasoning_effort = e;
    else return InvalidArgumentError("field 'reasoning_effort' must be none, minimal, low, medium or high");
  }
  SKV_RETURN_IF_ERROR(ParseNumPredict(body, "max_tokens", "", &r));
  SKV_RETURN_IF_ERROR(ParseNumPredict(body, "max_completion_tokens", "", &r));
  if (r.num_predict == 0) return InvalidArgumentError("field 'max_tokens' must be at least 1");
  auto so = body.find("stream_options");
  if (so != body.end() && !so->is_null()) {
    if (!so->is_object()) return WrongType("stream_options", "an object", *so);
    SKV_RETURN_IF_ERROR(GetBool(*so, "include_usage", &r.include_usage));
  }
  if (kind == ApiKind::kOpenAICompletion) {
    auto p = body.find("prompt");
    if (p == body.end() || p->is_null()) return InvalidArgumentError("field 'prompt' is required");
    if (p->is_array()) {
      if (p->size() != 1 || !(*p)[0].is_string())
        return UnimplementedError("field 'prompt': only a string or an array of one string is supported");
      r.prompt = (*p)[0].get<std::string>();
    } else if (p->is_string()) {
      r.prompt = p->get<std::string>();
    } else {
      return WrongType("prompt", "a string", *p);
    }
    if (body.contains("suffix") && body["suffix"].is_string() && !body["suffix"].get<std::string>().empty())
      return UnimplementedError("field 'suffix' is not supported");
    if (body.contains("echo") && body["echo"].is_boolean() && body["echo"].get<bool>())
      return UnimplementedError("field 'echo' is not supported");
    if (body.contains("tools") && !body["tools"].is_null())
      return InvalidArgumentError("field 'tools' is only accepted by /v1/chat/completions");
  } else {
    SKV_RETURN_IF_ERROR(ParseMessages(body, &r));
    SKV_RETURN_IF_ERROR(ParseTools(body, &r));
    SKV_RETURN_IF_ERROR(ParseToolChoice(body, &r));
  }
  return r;
}

}  // namespace swarmkv
