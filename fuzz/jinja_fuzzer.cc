// libFuzzer target for the chat-template Jinja interpreter: any template text and any JSON context
// must give a rendered string or a Status error — never a crash, a hang, unbounded memory or an
// out-of-bounds read (ASan/UBSan watch). Input: template text, then optionally a NUL byte and a
// JSON object used as the context (a small chat conversation when absent or not valid JSON).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tokenizer/jinja_template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace swarmkv;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t nul = in.find('\0');
  std::string_view source = in.substr(0, nul);
  nlohmann::ordered_json ctx;
  if (nul != std::string_view::npos) {
    ctx = nlohmann::ordered_json::parse(in.substr(nul + 1), nullptr, /*allow_exceptions=*/false);
  }
  if (!ctx.is_object()) {
    ctx = nlohmann::ordered_json::parse(R"({"messages": [{"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi <b>"}, {"role": "assistant", "content": "",
         "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": {"x": 1}}}]},
        {"role": "tool", "content": "{\"ok\": true}"}],
      "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
      "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>", "enable_thinking": false})");
  }
  auto t = JinjaTemplate::Parse(source);
  if (!t.ok()) return 0;
  JinjaLimits limits;  // tighter than serving so each input stays fast
  limits.max_loop_iterations = 20'000;
  limits.max_steps = 200'000;
  limits.max_output_bytes = 1 << 20;
  auto r = (*t)->Render(ctx, limits);
  return r.ok() && r->size() == 0xFFFFFFFF ? 1 : 0;
}
