#include "server/unsupported_fields.h"

#include <gtest/gtest.h>

namespace swarmkv {
namespace {

using json = nlohmann::json;

struct Case {
  ApiKind kind;
  const char* body;
  StatusCode code;     // kOk: accepted
  const char* needle;  // the field the error names
};

TEST(UnsupportedFieldsTest, EachFieldIsAcceptedOrNamedInItsError) {
  const Case cases[] = {
      {ApiKind::kOllamaGenerate, R"({"options":{"num_gpu":99,"num_thread":4,"use_mmap":true,"numa":false}})", StatusCode::kOk, ""},
      {ApiKind::kOllamaGenerate, R"({"options":{"typical_p":1.0,"mirostat":0,"tfs_z":1}})", StatusCode::kOk, ""},
      {ApiKind::kOllamaGenerate, R"({"options":{"typical_p":0.7}})", StatusCode::kUnimplemented, "typical_p"},
      {ApiKind::kOllamaChat, R"({"options":{"mirostat":1}})", StatusCode::kUnimplemented, "mirostat"},
      {ApiKind::kOllamaChat, R"({"options":{"tfs_z":0.9}})", StatusCode::kUnimplemented, "tfs_z"},
      {ApiKind::kOllamaChat, R"({"options":{"no_such_option":1}})", StatusCode::kOk, ""},  // logged, as Ollama
      // think / reasoning_effort are checked against the model once it is loaded (a model thinks
      // when its own template has a thinking switch): generation_handler.cc.
      {ApiKind::kOllamaChat, R"({"think":true})", StatusCode::kOk, ""},
      {ApiKind::kOllamaChat, R"({"think":false})", StatusCode::kOk, ""},
      {ApiKind::kOpenAIChat, R"({"logit_bias":{}})", StatusCode::kOk, ""},
      {ApiKind::kOpenAIChat, R"({"logit_bias":{"50256":-100}})", StatusCode::kUnimplemented, "logit_bias"},
      {ApiKind::kOpenAIChat, R"({"modalities":["text"]})", StatusCode::kOk, ""},
      {ApiKind::kOpenAIChat, R"({"modalities":["text","audio"]})", StatusCode::kUnimplemented, "modalities"},
      {ApiKind::kOpenAIChat, R"({"audio":{"voice":"alloy"}})", StatusCode::kUnimplemented, "audio"},
      {ApiKind::kOpenAIChat, R"({"prediction":{"type":"content"}})", StatusCode::kUnimplemented, "prediction"},
      {ApiKind::kOpenAIChat, R"({"reasoning_effort":"low"})", StatusCode::kOk, ""},
      {ApiKind::kOpenAIChat, R"({"reasoning":{"effort":"low"}})", StatusCode::kInvalidArgument, "reasoning"},
      {ApiKind::kOpenAIChat, R"({"store":true,"metadata":{"a":"b"},"service_tier":"auto"})", StatusCode::kOk, ""},
      {ApiKind::kOpenAICompletion, R"({"best_of":1})", StatusCode::kOk, ""},
      {ApiKind::kOpenAICompletion, R"({"best_of":2})", StatusCode::kUnimplemented, "best_of"},
  };
  for (const Case& c : cases) {
    Status s = CheckUnsupportedFields(c.kind, json::parse(c.body), "m");
    EXPECT_EQ(s.code(), c.code) << c.body << " -> " << s.ToString();
    if (c.code != StatusCode::kOk) EXPECT_NE(s.message().find(c.needle), std::string::npos) << s.message();
  }
}

}  // namespace
}  // namespace swarmkv
