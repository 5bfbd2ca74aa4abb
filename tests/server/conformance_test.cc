// Conformance of `swarmkv serve` with Ollama's API documentation (docs/api.md of
// github.com/ollama/ollama) and the OpenAI API reference, route by route and field by field.
//
// Every row cites the documented behaviour it checks. Tables:
//   kRoutes          every route of both APIs: status and each documented response field's type
//   kRequestFields   every documented request field: works as documented, or a clear error naming it
//   defaults/context tests: template, num_ctx, keep_alive, stream, truncation (Ollama's rules)
// Fields owned by helper h14t (tools, format, response_format, logprobs, top_logprobs, n) are
// skipped here with a comment; their tests live with that work.
//
// Real parts only: the real binary over loopback, the real tiny GGUF models of /work/shared.
#include <httplib.h>

#include <chrono>
#include <fstream>
#include <set>

#include "base/env.h"
#include "base/testing.h"
#include "server_fixture.h"

namespace swarmkv::e2e {
namespace {

using json = nlohmann::json;

enum class T { kString, kInt, kBool, kArray, kObject, kNumber, kStringOrNull, kArrayOrNull };

const char* TypeName(T t) {
  switch (t) {
    case T::kString: return "string";
    case T::kInt: return "integer";
    case T::kBool: return "boolean";
    case T::kArray: return "array";
    case T::kObject: return "object";
    case T::kNumber: return "number";
    case T::kStringOrNull: return "string or null";
    case T::kArrayOrNull: return "array or null";
  }
  return "?";
}

bool HasType(const json& v, T t) {
  switch (t) {
    case T::kString: return v.is_string();
    case T::kInt: return v.is_number_integer();
    case T::kBool: return v.is_boolean();
    case T::kArray: return v.is_array();
    case T::kObject: return v.is_object();
    case T::kNumber: return v.is_number();
    case T::kStringOrNull: return v.is_string() || v.is_null();
    case T::kArrayOrNull: return v.is_array() || v.is_null();
  }
  return false;
}

struct Field {
  const char* pointer;  // JSON pointer into the response
  T type;
};

void ExpectShape(const json& body, const std::vector<Field>& fields, const std::string& where) {
  for (const Field& f : fields) {
    json::json_pointer p(f.pointer);
    if (!body.contains(p)) {
      ADD_FAILURE() << where << ": response has no " << f.pointer << ": " << body.dump().substr(0, 400);
      continue;
    }
    EXPECT_TRUE(HasType(body.at(p), f.type))
        << where << ": " << f.pointer << " should be " << TypeName(f.type) << ", is " << body.at(p).dump();
  }
}

const std::string kShared = "/work/shared/models";

class ConformanceTest : public ServerE2ETest {
 protected:
  // The fixture's "tiny" (stories260K, context 2048, no chat template) plus the 656K model
  // (context 512) given the llama-server way, `-m PATH` => its file stem as the name.
  void StartConformanceServer(std::vector<std::string> extra = {}) {
    small_ctx_ = testing::SharedPath("models/TinyStories-656K.f16.gguf");
    if (Env::Default()->Stat(small_ctx_).ok()) extra.insert(extra.end(), {"-m", small_ctx_});
    else small_ctx_.clear();
    StartServer(extra);
  }
  httplib::Client Client() {
    httplib::Client c("127.0.0.1", port());
    c.set_read_timeout(120, 0);
    return c;
  }
  std::pair<int, json> Do(const std::string& method, const std::string& path, const std::string& body = "") {
    auto c = Client();
    httplib::Result r = method == "GET"      ? c.Get(path.c_str())
                        : method == "DELETE" ? c.Delete(path.c_str(), body, "application/json")
                        : method == "HEAD"   ? c.Head(path.c_str())
                                             : c.Post(path.c_str(), body, "application/json");
    if (!r) return {-1, json()};
    return {r->status, json::parse(r->body, nullptr, false)};
  }
  std::string ServerLog() {
    std::ifstream in(dir_ + "/server.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  std::string small_ctx_;  // "" when absent
};

// A prompt of about `words` tokens for the TinyStories vocabularies.
std::string LongPrompt(int words) {
  std::string s;
  for (int i = 0; i < words; ++i) s += (i % 7 == 0 ? "Once upon a time " : "the cat ");
  return s;
}

const std::vector<Field> kOllamaFinal = {
    {"/model", T::kString},          {"/created_at", T::kString},         {"/done", T::kBool},
    {"/done_reason", T::kString},    {"/total_duration", T::kInt},        {"/load_duration", T::kInt},
    {"/prompt_eval_count", T::kInt}, {"/prompt_eval_duration", T::kInt},  {"/eval_count", T::kInt},
    {"/eval_duration", T::kInt}};

struct RouteCase {
  const char* cite;  // where the documentation says so
  const char* method;
  const char* path;
  const char* body;
  int status;
  std::vector<Field> fields;
};

// Every route of Ollama's docs/api.md and of the OpenAI reference that an Ollama server answers.
std::vector<RouteCase> RouteCases() {
  std::vector<Field> generate = kOllamaFinal;
  generate.insert(generate.end(), {{"/response", T::kString}, {"/context", T::kArray}});
  std::vector<Field> chat = kOllamaFinal;
  chat.insert(chat.end(), {{"/message/role", T::kString}, {"/message/content", T::kString}});
  const std::vector<Field> error = {{"/error", T::kString}};
  const std::vector<Field> openai_error = {{"/error/message", T::kString}, {"/error/type", T::kString}};
  const std::vector<Field> usage = {{"/usage/prompt_tokens", T::kInt}, {"/usage/completion_tokens", T::kInt},
                                    {"/usage/total_tokens", T::kInt}};
  std::vector<Field> oa_chat = {{"/id", T::kString},
                                {"/system_fingerprint", T::kString},
                                {"/object", T::kString},
                                {"/created", T::kInt},
                                {"/model", T::kString},
                                {"/choices", T::kArray},
                                {"/choices/0/index", T::kInt},
                                {"/choices/0/message/role", T::kString},
                                {"/choices/0/message/content", T::kString},
                                {"/choices/0/finish_reason", T::kString}};
  oa_chat.insert(oa_chat.end(), usage.begin(), usage.end());
  std::vector<Field> oa_completion = {{"/id", T::kString},         {"/object", T::kString},
                                      {"/system_fingerprint", T::kString},
                                      {"/created", T::kInt},       {"/model", T::kString},
                                      {"/choices/0/text", T::kString}, {"/choices/0/index", T::kInt},
                                      {"/choices/0/finish_reason", T::kString}};
  oa_completion.insert(oa_completion.end(), usage.begin(), usage.end());
  const std::vector<Field> model_details = {{"/details/format", T::kString},
                                            {"/details/family", T::kString},
                                            {"/details/families", T::kArrayOrNull},
                                            {"/details/parameter_size", T::kString},
                                            {"/details/quantization_level", T::kString},
                                            {"/details/parent_model", T::kString}};
  std::vector<Field> tags = {{"/models/0/name", T::kString},   {"/models/0/model", T::kString},
                             {"/models/0/modified_at", T::kString}, {"/models/0/size", T::kInt},
                             {"/models/0/digest", T::kString}};
  for (const char* p : {"/models/0/details/format", "/models/0/details/family", "/models/0/details/parameter_size",
                        "/models/0/details/quantization_level"})
    tags.push_back({p, T::kString});
  tags.push_back({"/models/0/details/families", T::kArrayOrNull});
  std::vector<Field> ps = {{"/models/0/name", T::kString},       {"/models/0/model", T::kString},
                           {"/models/0/size", T::kInt},          {"/models/0/digest", T::kString},
                           {"/models/0/expires_at", T::kString}, {"/models/0/size_vram", T::kInt},
                           {"/models/0/details/parameter_size", T::kString},
                           {"/models/0/details/quantization_level", T::kString}};
  std::vector<Field> show = {{"/modelfile", T::kString}, {"/parameters", T::kString}, {"/template", T::kString},
                             {"/model_info", T::kObject}, {"/capabilities", T::kArray},
                             {"/modified_at", T::kString}};
  show.insert(show.end(), model_details.begin(), model_details.end());
  const std::vector<Field> model_object = {{"/id", T::kString}, {"/object", T::kString}, {"/created", T::kInt},
                                           {"/owned_by", T::kString}};
  return {
      {"api.md Generate a completion: response (non-streaming)", "POST", "/api/generate",
       R"({"model":"tiny","prompt":"Once upon a time","stream":false,"options":{"num_predict":4,"temperature":0}})",
       200, generate},
      {"api.md Generate a completion: load a model (empty prompt)", "POST", "/api/generate", R"({"model":"tiny"})",
       200, {{"/model", T::kString}, {"/created_at", T::kString}, {"/response", T::kString}, {"/done", T::kBool},
             {"/done_reason", T::kString}}},
      {"api.md Generate a chat completion: response (non-streaming)", "POST", "/api/chat",
       R"({"model":"tiny","messages":[{"role":"user","content":"Once upon a time"}],"stream":false,"options":{"num_predict":4}})",
       200, chat},
      {"api.md Generate a chat completion: load a model (empty messages array)", "POST", "/api/chat",
       R"({"model":"tiny","messages":[]})", 200,
       {{"/message/role", T::kString}, {"/message/content", T::kString}, {"/done", T::kBool},
        {"/done_reason", T::kString}}},
      {"api.md List Local Models", "GET", "/api/tags", "", 200, tags},
      {"api.md Show Model Information", "POST", "/api/show", R"({"model":"tiny"})", 200, show},
      {"api.md List Running Models (after the generate above)", "GET", "/api/ps", "", 200, ps},
      {"api.md Version", "GET", "/api/version", "", 200, {{"/version", T::kString}}},
      {"api.md Create a Model — not served (difference: GGUFs are served in place)", "POST", "/api/create",
       R"({"model":"x","from":"tiny"})", 501, error},
      {"api.md Copy a Model — not served", "POST", "/api/copy", R"({"source":"tiny","destination":"t2"})", 501, error},
      {"api.md Delete a Model — not served", "DELETE", "/api/delete", R"({"model":"tiny"})", 501, error},
      {"api.md Pull a Model — not served", "POST", "/api/pull", R"({"model":"llama3.2"})", 501, error},
      {"api.md Push a Model — not served", "POST", "/api/push", R"({"model":"x/y"})", 501, error},
      {"api.md Push a Blob — not served", "POST", "/api/blobs/sha256:00", "x", 501, error},
      {"api.md Check if a Blob Exists: 404 when it does not (no blob store here)", "HEAD", "/api/blobs/sha256:00", "",
       404, {}},
      {"api.md Generate Embeddings — not served", "POST", "/api/embed", R"({"model":"tiny","input":"a"})", 501,
       error},
      {"api.md Generate Embedding (deprecated) — not served", "POST", "/api/embeddings",
       R"({"model":"tiny","prompt":"a"})", 501, error},
      {"OpenAI Chat Completions: the chat completion object", "POST", "/v1/chat/completions",
       R"({"model":"tiny","messages":[{"role":"user","content":"Once upon a time"}],"max_tokens":4})", 200, oa_chat},
      {"OpenAI Completions (legacy): the completion object", "POST", "/v1/completions",
       R"({"model":"tiny","prompt":"Once upon a time","max_tokens":4})", 200, oa_completion},
      {"OpenAI Models: list", "GET", "/v1/models", "", 200,
       {{"/object", T::kString}, {"/data/0/id", T::kString}, {"/data/0/object", T::kString},
        {"/data/0/created", T::kInt}, {"/data/0/owned_by", T::kString}}},
      {"OpenAI Models: retrieve (models.retrieve of the SDK)", "GET", "/v1/models/tiny", "", 200, model_object},
      {"OpenAI Models: retrieve an unknown model is a 404 error object", "GET", "/v1/models/nope", "", 404,
       openai_error},
      {"OpenAI Embeddings — not served", "POST", "/v1/embeddings", R"({"model":"tiny","input":"a"})", 501,
       openai_error},
  };
}

TEST_F(ConformanceTest, EveryRouteAnswersWithTheDocumentedFieldsAndTypes) {
  StartConformanceServer();
  REQUIRE_ENGINE();
  for (const RouteCase& c : RouteCases()) {
    auto [status, body] = Do(c.method, c.path, c.body);
    std::string where = std::string(c.method) + " " + c.path + " [" + c.cite + "]";
    EXPECT_EQ(status, c.status) << where << ": " << body.dump();
    ExpectShape(body, c.fields, where);
  }
  // Values the documentation fixes, beyond types.
  auto [s1, gen] = Do("POST", "/api/generate", R"({"model":"tiny"})");
  EXPECT_EQ(gen["done_reason"], "load");
  EXPECT_EQ(gen["done"], true);
  auto [s2, chat_unload] = Do("POST", "/api/chat", R"({"model":"tiny","messages":[],"keep_alive":0})");
  EXPECT_EQ(chat_unload["done_reason"], "unload") << "api.md: unload a model (chat, empty messages, keep_alive 0)";
  auto [s3, oa] = Do("POST", "/v1/chat/completions", R"({"model":"tiny","messages":[{"role":"user","content":"a"}],"max_tokens":2})");
  EXPECT_EQ(oa["object"], "chat.completion");
  EXPECT_EQ(oa["choices"][0]["message"]["role"], "assistant");
  auto [s4, cmpl] = Do("POST", "/v1/completions", R"({"model":"tiny","prompt":"a","max_tokens":2})");
  EXPECT_EQ(cmpl["object"], "text_completion");
  auto [s5, one] = Do("GET", "/v1/models/tiny:latest");
  EXPECT_EQ(one["id"], "tiny:latest");
  EXPECT_EQ(one["object"], "model");
  auto [s6, embed] = Do("POST", "/api/embed", R"({"model":"tiny","input":"a"})");
  EXPECT_NE(embed["error"].get<std::string>().find("embeddings are not served"), std::string::npos) << embed;
  // /api/ps fills what /api/tags fills.
  auto [s7, ps] = Do("GET", "/api/ps");
  auto [s8, tags] = Do("GET", "/api/tags");
  ASSERT_FALSE(ps["models"].empty());
  for (const auto& t : tags["models"]) {
    if (t["name"] != ps["models"][0]["name"]) continue;
    EXPECT_EQ(ps["models"][0]["details"], t["details"]) << "ps and tags disagree on " << t["name"];
  }
  EXPECT_FALSE(ps["models"][0]["details"]["parameter_size"].get<std::string>().empty());
}

// Streams: Ollama NDJSON (api.md "A stream of JSON objects is returned", then the final object
// with the statistics) and OpenAI SSE (chat.completion.chunk objects, then `data: [DONE]`; with
// stream_options.include_usage a last chunk with empty choices and the usage).
TEST_F(ConformanceTest, StreamsHaveTheDocumentedShape) {
  StartConformanceServer();
  REQUIRE_ENGINE();
  auto cl = Client();
  struct Ndjson {
    const char* path;
    const char* body;
    std::vector<Field> chunk;
  };
  const Ndjson ndjson[] = {
      {"/api/generate", R"({"model":"tiny","prompt":"Once upon a time","options":{"num_predict":6}})",
       {{"/model", T::kString}, {"/created_at", T::kString}, {"/response", T::kString}, {"/done", T::kBool}}},
      {"/api/chat", R"({"model":"tiny","messages":[{"role":"user","content":"Once upon a time"}],"options":{"num_predict":6}})",
       {{"/model", T::kString}, {"/created_at", T::kString}, {"/message/role", T::kString},
        {"/message/content", T::kString}, {"/done", T::kBool}}},
  };
  for (const Ndjson& n : ndjson) {
    auto r = cl.Post(n.path, n.body, "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    std::vector<json> lines;
    size_t start = 0;
    for (size_t nl; (nl = r->body.find('\n', start)) != std::string::npos; start = nl + 1)
      lines.push_back(json::parse(r->body.substr(start, nl - start), nullptr, false));
    ASSERT_GE(lines.size(), 2u) << r->body;
    for (size_t i = 0; i + 1 < lines.size(); ++i) {
      ExpectShape(lines[i], n.chunk, std::string(n.path) + " chunk");
      EXPECT_EQ(lines[i]["done"], false);
    }
    ExpectShape(lines.back(), kOllamaFinal, std::string(n.path) + " final");
    EXPECT_EQ(lines.back()["done"], true);
  }
  auto r = cl.Post("/v1/chat/completions",
                   R"({"model":"tiny","messages":[{"role":"user","content":"a"}],"max_tokens":4,"stream":true,"stream_options":{"include_usage":true}})",
                   "application/json");
  ASSERT_TRUE(r);
  EXPECT_NE(r->get_header_value("Content-Type").find("text/event-stream"), std::string::npos);
  std::vector<std::string> events;
  size_t start = 0;
  for (size_t end; (end = r->body.find("\n\n", start)) != std::string::npos; start = end + 2)
    events.push_back(r->body.substr(start, end - start));
  ASSERT_GE(events.size(), 3u) << r->body;
  EXPECT_EQ(events.back(), "data: [DONE]");
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    ASSERT_EQ(events[i].rfind("data: ", 0), 0u) << events[i];
    json c = json::parse(events[i].substr(6), nullptr, false);
    ExpectShape(c, {{"/id", T::kString}, {"/object", T::kString}, {"/created", T::kInt}, {"/model", T::kString},
                    {"/choices", T::kArray}},
                "SSE chunk");
    EXPECT_EQ(c["object"], "chat.completion.chunk");
    if (i + 2 == events.size()) {
      EXPECT_TRUE(c["choices"].empty()) << "include_usage: the last chunk has no choices";
      ExpectShape(c, {{"/usage/prompt_tokens", T::kInt}, {"/usage/completion_tokens", T::kInt}}, "usage chunk");
    } else {
      ExpectShape(c, {{"/choices/0/delta", T::kObject}, {"/choices/0/index", T::kInt}}, "SSE chunk");
    }
  }
  EXPECT_EQ(json::parse(events[0].substr(6))["choices"][0]["delta"]["role"], "assistant") << "first delta has the role";
}

struct FieldCase {
  const char* cite;
  const char* path;
  const char* body;
  int status;
  const char* needle;  // in the error (status >= 400) or in the body; "" = no check
};

// Every documented request field: it works as documented (200), or a clear error naming it.
std::vector<FieldCase> FieldCases() {
  return {
      // --- Ollama /api/generate (api.md "Parameters" and "Advanced parameters")
      {"generate: model (required)", "/api/generate", R"({"prompt":"a"})", 400, "model"},
      {"generate: prompt", "/api/generate", R"({"model":"tiny","prompt":"a","stream":false,"options":{"num_predict":1}})", 200, ""},
      {"generate: suffix — fill-in-the-middle not supported", "/api/generate", R"({"model":"tiny","prompt":"a","suffix":"b"})", 501, "suffix"},
      {"generate: images — text models only", "/api/generate", R"({"model":"tiny","prompt":"a","images":["AAAA"]})", 501, "images"},
      // format: owned by h14t (structured outputs).
      {"generate: think — the model has no thinking", "/api/generate", R"({"model":"tiny","prompt":"a","think":true})", 400, "thinking"},
      {"generate: think false is fine", "/api/generate", R"({"model":"tiny","prompt":"a","think":false,"stream":false,"options":{"num_predict":1}})", 200, ""},
      {"generate: system", "/api/generate", R"({"model":"tiny","prompt":"a","system":"s","stream":false,"options":{"num_predict":1}})", 200, ""},
      {"generate: template", "/api/generate", R"({"model":"tiny","prompt":"a","template":"{{ .Prompt }}","stream":false,"options":{"num_predict":1}})", 200, ""},
      {"generate: stream false → one JSON object", "/api/generate", R"({"model":"tiny","prompt":"a","stream":false,"options":{"num_predict":1}})", 200, "\"done\":true"},
      {"generate: stream wrong type", "/api/generate", R"({"model":"tiny","prompt":"a","stream":"no"})", 400, "stream"},
      {"generate: raw", "/api/generate", R"({"model":"tiny","prompt":"a","raw":true,"stream":false,"options":{"num_predict":1}})", 200, ""},
      {"generate: keep_alive duration", "/api/generate", R"({"model":"tiny","prompt":"a","keep_alive":"1m","stream":false,"options":{"num_predict":1}})", 200, ""},
      {"generate: keep_alive seconds", "/api/generate", R"({"model":"tiny","prompt":"a","keep_alive":60,"stream":false,"options":{"num_predict":1}})", 200, ""},
      {"generate: keep_alive malformed", "/api/generate", R"({"model":"tiny","prompt":"a","keep_alive":"soon"})", 400, "keep_alive"},
      {"generate: context (deprecated) continues a conversation", "/api/generate", R"({"model":"tiny","prompt":" more","context":[1,415],"stream":false,"options":{"num_predict":1}})", 200, ""},
      {"generate: context must hold token ids", "/api/generate", R"({"model":"tiny","prompt":"a","context":["x"]})", 400, "context"},
      {"generate: truncate must be a boolean", "/api/generate", R"({"model":"tiny","prompt":"a","truncate":"yes"})", 400, "truncate"},
      {"generate: shift false", "/api/generate", R"({"model":"tiny","prompt":"a","shift":false,"stream":false,"options":{"num_predict":1}})", 200, ""},
      // --- options (api.md "Valid Parameters and Values" / Modelfile PARAMETER)
      {"options: num_keep", "/api/generate", R"({"model":"tiny","prompt":"a","stream":false,"options":{"num_keep":8,"num_predict":1}})", 200, ""},
      {"options: num_keep out of range", "/api/generate", R"({"model":"tiny","prompt":"a","options":{"num_keep":-3}})", 400, "num_keep"},
      {"options: seed", "/api/generate", R"({"model":"tiny","prompt":"a","stream":false,"options":{"seed":42,"num_predict":1}})", 200, ""},
      {"options: num_predict", "/api/generate", R"({"model":"tiny","prompt":"a","stream":false,"options":{"num_predict":2}})", 200, ""},
      {"options: num_predict wrong type", "/api/generate", R"({"model":"tiny","prompt":"a","options":{"num_predict":"many"}})", 400, "num_predict"},
      {"options: top_k", "/api/generate", R"({"model":"tiny","prompt":"a","stream":false,"options":{"top_k":20,"num_predict":1}})", 200, ""},
      {"options: top_p", "/api/generate", R"({"model":"tiny","prompt":"a","stream":false,"options":{"top_p":0.5,"num_predict":1}})", 200, ""},
      {"options: top_p out of range", "/api/generate", R"({"model":"tiny","prompt":"a","options":{"top_p":7}})", 400, "top_p"},
      {"options: min_p", "/api/generate", R"({"model":"tiny","prompt":"a","stream":false,"options":{"min_p":0.05,"num_predict":1}})", 200, ""},
      {"options: typical_p 1.0 (off)", "/api/generate", R"({"model":"tiny","prompt":"a","stream":false,"options":{"typical_p":1.0,"num_predict":1}})", 200, ""},
      {"options: typical_p — not implemented", "/api/generate", R"({"model":"tiny","prompt":"a","options":{"typical_p":0.7}})", 501, "typical_p"},
      {"options: mirostat — not implemented", "/api/generate", R"({"model":"tiny","prompt":"a","options":{"mirostat":2}})", 501, "mirostat"},
      {"options: tfs_z — not implemented", "/api/generate", R"({"model":"tiny","prompt":"a","options":{"tfs_z":0.5}})", 501, "tfs_z"},
      {"options: repeat_last_n", "/api/generate", R"({"model":"tiny","prompt":"a","stream":false,"options":{"repeat_last_n":33,"num_predict":1}})", 200, ""},
      {"options: temperature", "/api/generate", R"({"model":"tiny","prompt":"a","stream":false,"options":{"temperature":0.8,"num_predict":1}})", 200, ""},
      {"options: temperature wrong type", "/api/generate", R"({"model":"tiny","prompt":"a","options":{"temperature":"hot"}})", 400, "temperature"},
      {"options: repeat_penalty", "/api/generate", R"({"model":"tiny","prompt":"a","stream":false,"options":{"repeat_penalty":1.2,"num_predict":1}})", 200, ""},
      {"options: presence_penalty", "/api/generate", R"({"model":"tiny","prompt":"a","stream":false,"options":{"presence_penalty":1.5,"num_predict":1}})", 200, ""},
      {"options: frequency_penalty", "/api/generate", R"({"model":"tiny","prompt":"a","stream":false,"options":{"frequency_penalty":1.0,"num_predict":1}})", 200, ""},
      {"options: penalize_newline (deprecated in Ollama; accepted)", "/api/generate", R"({"model":"tiny","prompt":"a","stream":false,"options":{"penalize_newline":true,"num_predict":1}})", 200, ""},
      {"options: stop", "/api/generate", R"({"model":"tiny","prompt":"a","stream":false,"options":{"stop":["\n","user:"],"num_predict":1}})", 200, ""},
      {"options: num_ctx", "/api/generate", R"({"model":"tiny","prompt":"a","stream":false,"options":{"num_ctx":1024,"num_predict":1}})", 200, ""},
      {"options: num_ctx above the model's context is clamped (Ollama warns, never refuses)", "/api/generate", R"({"model":"tiny","prompt":"a","stream":false,"options":{"num_ctx":1000000,"num_predict":1}})", 200, ""},
      {"options: numa/num_batch/num_gpu/main_gpu/use_mmap/num_thread (placement only; accepted)", "/api/generate", R"({"model":"tiny","prompt":"a","stream":false,"options":{"numa":false,"num_batch":2,"num_gpu":1,"main_gpu":0,"use_mmap":true,"num_thread":8,"num_predict":1}})", 200, ""},
      // --- Ollama /api/chat
      {"chat: messages required", "/api/chat", R"({"model":"tiny"})", 400, "messages"},
      {"chat: message role must be system/user/assistant/tool", "/api/chat", R"({"model":"tiny","messages":[{"role":"wizard","content":"a"}]})", 400, "role"},
      {"chat: message images — text models only", "/api/chat", R"({"model":"tiny","messages":[{"role":"user","content":"a","images":["AAAA"]}]})", 501, "images"},
      // messages[].tool_calls, tools, format: owned by h14t.
      {"chat: think — the model has no thinking", "/api/chat", R"({"model":"tiny","messages":[{"role":"user","content":"a"}],"think":true})", 400, "thinking"},
      {"chat: system, user, assistant turns", "/api/chat", R"({"model":"tiny","messages":[{"role":"system","content":"s"},{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":"c"}],"stream":false,"options":{"num_predict":1}})", 200, ""},
      {"chat: truncate false with a prompt that fits", "/api/chat", R"({"model":"tiny","messages":[{"role":"user","content":"a"}],"truncate":false,"stream":false,"options":{"num_predict":1}})", 200, ""},
      // --- OpenAI chat completions (reference: Create chat completion)
      {"openai chat: messages required", "/v1/chat/completions", R"({"model":"tiny"})", 400, "messages"},
      {"openai chat: content parts of type text", "/v1/chat/completions", R"({"model":"tiny","messages":[{"role":"user","content":[{"type":"text","text":"a"}]}],"max_tokens":1})", 200, ""},
      {"openai chat: image_url parts — text models only", "/v1/chat/completions", R"({"model":"tiny","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]})", 501, "image_url"},
      {"openai chat: developer role (treated as system)", "/v1/chat/completions", R"({"model":"tiny","messages":[{"role":"developer","content":"s"},{"role":"user","content":"a"}],"max_tokens":1})", 200, ""},
      {"openai chat: max_tokens", "/v1/chat/completions", R"({"model":"tiny","messages":[{"role":"user","content":"a"}],"max_tokens":2})", 200, ""},
      {"openai chat: max_completion_tokens", "/v1/chat/completions", R"({"model":"tiny","messages":[{"role":"user","content":"a"}],"max_completion_tokens":2})", 200, ""},
      {"openai chat: temperature/top_p/seed/stop/presence/frequency", "/v1/chat/completions", R"({"model":"tiny","messages":[{"role":"user","content":"a"}],"temperature":0.5,"top_p":0.9,"seed":3,"stop":"\n","presence_penalty":0.1,"frequency_penalty":0.1,"max_tokens":1})", 200, ""},
      {"openai chat: frequency_penalty out of [-2, 2]", "/v1/chat/completions", R"({"model":"tiny","messages":[{"role":"user","content":"a"}],"frequency_penalty":3})", 400, "frequency_penalty"},
      {"openai chat: user", "/v1/chat/completions", R"({"model":"tiny","messages":[{"role":"user","content":"a"}],"user":"u1","max_tokens":1})", 200, ""},
      {"openai chat: store/metadata (no server-side storage; accepted)", "/v1/chat/completions", R"({"model":"tiny","messages":[{"role":"user","content":"a"}],"store":false,"metadata":{"k":"v"},"max_tokens":1})", 200, ""},
      {"openai chat: stream_options.include_usage", "/v1/chat/completions", R"({"model":"tiny","messages":[{"role":"user","content":"a"}],"stream":true,"stream_options":{"include_usage":true},"max_tokens":1})", 200, ""},
      {"openai chat: logit_bias — not supported", "/v1/chat/completions", R"({"model":"tiny","messages":[{"role":"user","content":"a"}],"logit_bias":{"1":5}})", 400, "logit_bias"},
      {"openai chat: audio — text only", "/v1/chat/completions", R"({"model":"tiny","messages":[{"role":"user","content":"a"}],"audio":{"voice":"alloy","format":"mp3"}})", 400, "audio"},
      {"openai chat: modalities audio — text only", "/v1/chat/completions", R"({"model":"tiny","messages":[{"role":"user","content":"a"}],"modalities":["text","audio"]})", 400, "modalities"},
      {"openai chat: prediction — not supported", "/v1/chat/completions", R"({"model":"tiny","messages":[{"role":"user","content":"a"}],"prediction":{"type":"content","content":"x"}})", 400, "prediction"},
      {"openai chat: reasoning_effort — no thinking", "/v1/chat/completions", R"({"model":"tiny","messages":[{"role":"user","content":"a"}],"reasoning_effort":"low"})", 400, "reasoning_effort"},
      // n, logprobs, top_logprobs, response_format, tools, tool_choice, parallel_tool_calls: owned by h14t.
      // --- OpenAI completions (legacy)
      {"openai completions: prompt required", "/v1/completions", R"({"model":"tiny"})", 400, "prompt"},
      {"openai completions: a batch of prompts — not supported", "/v1/completions", R"({"model":"tiny","prompt":["a","b"]})", 501, "prompt"},
      {"openai completions: echo — not supported", "/v1/completions", R"({"model":"tiny","prompt":"a","echo":true})", 501, "echo"},
      {"openai completions: suffix — not supported", "/v1/completions", R"({"model":"tiny","prompt":"a","suffix":"b"})", 501, "suffix"},
      {"openai completions: best_of > 1 — not supported", "/v1/completions", R"({"model":"tiny","prompt":"a","best_of":3})", 400, "best_of"},
      {"openai completions: max_tokens/temperature/seed/stop", "/v1/completions", R"({"model":"tiny","prompt":"a","max_tokens":2,"temperature":0,"seed":1,"stop":["\n"]})", 200, ""},
      // --- /api/show
      {"show: model (or name)", "/api/show", R"({"name":"tiny"})", 200, ""},
      {"show: unknown model", "/api/show", R"({"model":"nope"})", 404, "nope"},
  };
}

TEST_F(ConformanceTest, EveryDocumentedRequestFieldWorksOrIsAClearErrorNamingIt) {
  StartConformanceServer();
  REQUIRE_ENGINE();
  for (const FieldCase& c : FieldCases()) {
    auto cl = Client();
    auto r = cl.Post(c.path, c.body, "application/json");
    ASSERT_TRUE(r) << c.cite;
    std::string where = std::string(c.path) + " [" + c.cite + "]";
    EXPECT_EQ(r->status, c.status) << where << ": " << r->body.substr(0, 400);
    if (*c.needle != '\0') EXPECT_NE(r->body.find(c.needle), std::string::npos) << where << ": " << r->body.substr(0, 400);
    if (c.status >= 400) {
      json e = json::parse(r->body, nullptr, false);
      EXPECT_TRUE(e.contains("error")) << where << ": an error is a JSON object with 'error'";
    }
  }
}

// api.md: "If no template is specified, the default is used"; for a GGUF without
// tokenizer.chat_template Ollama's default template is `{{ .Prompt }}`: the prompt as sent, no role
// markers — exactly what `raw: true` sends.
TEST_F(ConformanceTest, GenerateOnAModelWithoutChatTemplateUsesThePromptAsIs) {
  StartConformanceServer();
  REQUIRE_ENGINE();
  auto [ss, show] = Do("POST", "/api/show", R"({"model":"tiny"})");
  // Like Ollama, /api/show names the default template of a GGUF without one.
  if (show.value("template", "") != "{{ .Prompt }}")
    GTEST_SKIP() << "the test model has a chat template (the synthetic fallback?); stories260K has none";
  const char* opts = R"("stream":false,"options":{"num_predict":8,"temperature":0})";
  auto [s1, templated] = Do("POST", "/api/generate", std::string(R"({"model":"tiny","prompt":"Once upon a time",)") + opts + "}");
  auto [s2, raw] = Do("POST", "/api/generate", std::string(R"({"model":"tiny","prompt":"Once upon a time","raw":true,)") + opts + "}");
  ASSERT_EQ(s1, 200) << templated;
  ASSERT_EQ(s2, 200) << raw;
  EXPECT_EQ(templated["prompt_eval_count"], raw["prompt_eval_count"]);
  EXPECT_LT(templated["prompt_eval_count"].get<int>(), 10) << "no ChatML markers counted as tokens";
  EXPECT_EQ(templated["response"], raw["response"]);
  // The chat route through `{{ .Prompt }}`: the user's text, the same tokens.
  auto [s3, chat] = Do("POST", "/api/chat",
                       std::string(R"({"model":"tiny","messages":[{"role":"user","content":"Once upon a time"}],)") + opts + "}");
  ASSERT_EQ(s3, 200) << chat;
  EXPECT_EQ(chat["prompt_eval_count"], raw["prompt_eval_count"]);
  EXPECT_EQ(chat["message"]["content"], raw["response"]);
}

// Defaults are Ollama's: stream true for /api/*, false for /v1/*; keep_alive 5m.
TEST_F(ConformanceTest, DefaultsAreOllamas) {
  StartConformanceServer();
  REQUIRE_ENGINE();
  auto cl = Client();
  auto r = cl.Post("/api/generate", R"({"model":"tiny","prompt":"a","options":{"num_predict":3}})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/x-ndjson") << "api.md: streaming is the default";
  size_t lines = 0;
  for (char ch : r->body) lines += ch == '\n';
  EXPECT_GE(lines, 2u) << r->body;
  auto o = cl.Post("/v1/chat/completions", R"({"model":"tiny","messages":[{"role":"user","content":"a"}],"max_tokens":2})",
                   "application/json");
  ASSERT_TRUE(o);
  EXPECT_NE(o->get_header_value("Content-Type").find("application/json"), std::string::npos)
      << "OpenAI: stream defaults to false";
  // keep_alive: "models are kept in memory for 5 minutes" by default.
  auto [sp, ps] = Do("GET", "/api/ps");
  ASSERT_EQ(sp, 200);
  ASSERT_FALSE(ps["models"].empty());
  std::tm tm{};
  ASSERT_NE(strptime(ps["models"][0]["expires_at"].get<std::string>().c_str(), "%Y-%m-%dT%H:%M:%S", &tm), nullptr);
  int64_t in_s = static_cast<int64_t>(timegm(&tm)) - static_cast<int64_t>(std::time(nullptr));
  EXPECT_GT(in_s, 4 * 60) << ps;
  EXPECT_LE(in_s, 5 * 60 + 1) << ps;
}

// Ollama's context handling (issue 16/22): num_ctx defaults to the model's context, is clamped
// above it, and an over-long prompt is truncated (keeping the head and the newest tokens), or a
// 400 naming both numbers with truncate:false.
TEST_F(ConformanceTest, OverLongPromptsAreTruncatedAsOllamaDoes) {
  StartConformanceServer();
  REQUIRE_ENGINE();
  if (small_ctx_.empty()) GTEST_SKIP() << "TinyStories-656K.f16.gguf (context 512) is not in /work/shared/models";
  const std::string model = "TinyStories-656K.f16";  // the name `-m PATH` gives
  const std::string prompt = LongPrompt(400);  // > 512 tokens of the 656K vocabulary
  auto [sn, refused] = Do("POST", "/api/generate",
                          json{{"model", model}, {"prompt", prompt}, {"truncate", false}, {"stream", false}}.dump());
  ASSERT_EQ(sn, 400) << refused;
  std::string msg = refused.value("error", "");
  EXPECT_NE(msg.find("num_ctx is 512"), std::string::npos) << "names num_ctx (the model's context): " << msg;
  EXPECT_NE(msg.find("truncate"), std::string::npos) << msg;
  const int full_tokens = std::atoi(msg.c_str() + msg.find("the prompt is ") + 14);
  EXPECT_GT(full_tokens, 512) << msg;

  auto [st, cut] = Do("POST", "/api/generate",
                      json{{"model", model}, {"prompt", prompt}, {"stream", false},
                           {"options", {{"num_predict", 4}, {"num_ctx", 100000}}}}.dump());
  ASSERT_EQ(st, 200) << cut;
  EXPECT_LE(cut["prompt_eval_count"].get<int>(), 512 - 4) << "truncated to num_ctx minus room for the answer";
  EXPECT_GT(cut["prompt_eval_count"].get<int>(), 256);
  std::string log = ServerLog();
  EXPECT_NE(log.find("truncating input prompt"), std::string::npos) << "Ollama says so in the log";
  EXPECT_NE(log.find("requested num_ctx 100000 is above the context"), std::string::npos) << "clamp warning";

  // Chat: the oldest messages go first; the system message and the newest stay.
  json messages = json::array({{{"role", "system"}, {"content", "Be brief."}}});
  for (int i = 0; i < 12; ++i) {
    messages.push_back({{"role", "user"}, {"content", LongPrompt(30)}});
    messages.push_back({{"role", "assistant"}, {"content", "the end"}});
  }
  messages.push_back({{"role", "user"}, {"content", "Once upon a time"}});
  auto [sc, chat] = Do("POST", "/api/chat",
                       json{{"model", model}, {"messages", messages}, {"stream", false},
                            {"options", {{"num_predict", 2}, {"num_ctx", 128}}}}.dump());
  ASSERT_EQ(sc, 200) << chat;
  EXPECT_LE(chat["prompt_eval_count"].get<int>(), 126);
  EXPECT_GT(chat["prompt_eval_count"].get<int>(), 0);
}

// A POST without a body answers at once (Ollama: 400 "missing request body"), not after the read
// timeout.
TEST_F(ConformanceTest, APostWithoutABodyAnswersAtOnce) {
  StartConformanceServer();
  auto t0 = std::chrono::steady_clock::now();
  auto r = RunShell("curl -sS --max-time 5 -X POST -w '\\n%{http_code}' http://127.0.0.1:" + std::to_string(port()) +
                    "/api/chat");
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_NE(r.out.find("400"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("missing request body"), std::string::npos) << r.out;
  EXPECT_LT(s, 3.0) << "answered after " << s << " s";
}

// A broken .gguf in --models: listed with the reason, its error logged once with the path, and a
// request for it a 4xx naming the reason (not a 500).
TEST_F(ConformanceTest, ABrokenGgufIsListedWithItsReasonAndRefusedWithA4xx) {
  std::string models = dir_ + "/models";
  ASSERT_TRUE(Env::Default()->CreateDirs(models).ok());
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(models + "/broken.gguf", std::string("GGUF\x03\0\0\0garbage", 15), false).ok());
  StartConformanceServer({"--models", models});
  auto [st, tags] = Do("GET", "/api/tags");
  ASSERT_EQ(st, 200);
  bool listed = false;
  for (const auto& m : tags["models"]) {
    if (m["name"] != "broken:latest") continue;
    listed = true;
    ASSERT_TRUE(m.contains("error")) << m;
    EXPECT_FALSE(m["error"].get<std::string>().empty());
  }
  EXPECT_TRUE(listed) << tags;
  for (const char* path : {"/api/generate", "/api/chat"}) {
    std::string body = std::string(path) == "/api/chat" ? R"({"model":"broken","messages":[{"role":"user","content":"a"}]})"
                                                         : R"({"model":"broken","prompt":"a"})";
    auto [sg, gen] = Do("POST", path, body);
    EXPECT_GE(sg, 400) << gen;
    EXPECT_LT(sg, 500) << gen;
    EXPECT_NE(gen.value("error", "").find("broken"), std::string::npos) << gen;
  }
  auto [ss, show] = Do("POST", "/api/show", R"({"model":"broken"})");
  EXPECT_EQ(ss, 422) << show;
  std::string log = ServerLog();
  size_t first = log.find(models + "/broken.gguf");
  ASSERT_NE(first, std::string::npos) << "the load error is logged with the path:\n" << log;
  EXPECT_EQ(log.find("cannot be served", log.find("cannot be served") + 1), std::string::npos)
      << "logged once:\n" << log;
}

}  // namespace
}  // namespace swarmkv::e2e
