// What the scheduler tests over a real model share (beyond_ram_test, memory_pressure_test): the
// engine stack — model, tokenizer, KvMemory, LlamaRunner, Scheduler — built from the caller's
// options, a reply that collects tokens and text, random prompts and sampled requests.
//
// Invariant: SchedulerEngine tears the scheduler down before the runner, the runner before the
// memory (the order their threads need). Thread-safety: CollectingReply is fed by the scheduler's
// thread and read after Wait(); the rest is used from the test's thread.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model_runner.h"
#include "engine/scheduler.h"
#include "engine/wait_observer.h"
#include "memory/kv_memory.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace swarmkv::testing {

class CollectingReply : public WaitObserver {
 public:
  bool OnToken(int32_t token, std::string_view text) override {
    tokens.push_back(token);
    this->text += text;
    return true;
  }
  std::vector<int32_t> tokens;
  std::string text;
};

struct SchedulerEngine {
  std::shared_ptr<const Model> model;
  std::shared_ptr<const Tokenizer> tokenizer;
  std::unique_ptr<KvMemory> memory;
  std::shared_ptr<LlamaRunner> runner;
  std::unique_ptr<Scheduler> scheduler;

  ~SchedulerEngine() {
    scheduler.reset();
    runner.reset();
  }
};

// The model at `path` behind a scheduler, its KV in a memory of `budget_bytes`.
inline std::unique_ptr<SchedulerEngine> MakeSchedulerEngine(const std::string& path, uint64_t budget_bytes,
                                                            const LlamaRunnerOptions& runner_options,
                                                            SchedulerOptions scheduler_options) {
  auto e = std::make_unique<SchedulerEngine>();
  e->model = Model::Load(path).value();
  e->tokenizer = Tokenizer::Load(path).value();
  KvMemoryOptions mo;
  mo.budget_bytes = budget_bytes;
  e->memory = KvMemory::Create(mo).value();
  e->runner = LlamaRunner::Create(e->model, e->tokenizer, e->memory.get(), runner_options).value();
  e->scheduler = Scheduler::Create(e->runner, std::move(scheduler_options)).value();
  return e;
}

// BOS (1), then random ids in [3, vocab) from `seed`: distinct contexts per seed.
inline std::vector<int32_t> RandomPrompt(uint32_t seed, int tokens, int32_t vocab) {
  std::mt19937 rng(seed);
  std::vector<int32_t> p{1};
  while (static_cast<int>(p.size()) < tokens) p.push_back(static_cast<int32_t>(3 + rng() % (vocab - 3)));
  return p;
}

// Sampled at temperature 0.8 with a fixed seed; ignore_eos, so every answer has its full length
// (the tests' budget arithmetic).
inline GenerationRequest SampledRequest(const std::vector<int32_t>& prompt, int max_new, uint64_t seed) {
  GenerationRequest r;
  r.prompt_tokens = prompt;
  r.max_new_tokens = max_new;
  r.ignore_eos = true;
  r.sampling.temperature = 0.8f;
  r.sampling.seed = seed;
  r.sampling.has_seed = true;
  return r;
}

}  // namespace swarmkv::testing
