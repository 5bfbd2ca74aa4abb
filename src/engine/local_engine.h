// LocalEngine: everything `swarmkv run` / `swarmkv bench` need to generate from one GGUF file
// in-process — Model, Tokenizer, a KvMemory, the LlamaRunner and its Scheduler — behind a
// small interface (this header includes no model/tokenizer headers).
//
// Invariant: the scheduler is destroyed first (its thread joined), then runner, memory, model —
// no engine thread ever touches freed weights or KV.
// Thread-safety: service() is a thread-safe GenerationService; the rest is const after Create.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/generation.h"
#include "engine/scheduler.h"
#include "gguf/tensor_type.h"

namespace swarmkv {

struct LocalEngineOptions {
  std::string model_path;
  TensorType kv_type = TensorType::kF16;
  int threads = 0;                        // 0: physical cores
  uint64_t kv_budget_bytes = 2ull << 30;  // the KvMemory budget
  int64_t kv_hot_window_tokens = 0;       // > 0: context beyond RAM (engine/cold_kv.h), files in cold_dir
  std::string cold_dir;
  SchedulerOptions scheduler;
};

class LocalEngine {
 public:
  static Result<std::unique_ptr<LocalEngine>> Create(const LocalEngineOptions& options);
  virtual ~LocalEngine() = default;

  virtual GenerationService* service() = 0;
  virtual Result<std::vector<int32_t>> Tokenize(std::string_view text, bool add_special) const = 0;
  // The model's chat template around one user message, ready for generation.
  virtual Result<std::string> RenderUserTurn(std::string_view user_message) const = 0;
  virtual int32_t context_length() const = 0;
  virtual int32_t vocab_size() const = 0;
  virtual int32_t bos() const = 0;  // -1 when none
  virtual std::string Describe() const = 0;  // "llama 2L/128d Q8_0, 0.7 MiB"
};

}  // namespace swarmkv
