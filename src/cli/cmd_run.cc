// `swarmkv run`: generate from a GGUF model in-process. Only the generated text goes to stdout
// (so scripts can use it); prefill progress and prompt/generation speed go to stderr.
//
// `swarmkv run NAME [PROMPT]` where NAME is not a file: the model NAME of a running server
// ($SWARMKV_HOST), as `ollama run` — one answer for PROMPT (or piped stdin), else an interactive
// chat (client/chat_repl.h).
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <string>

#include "base/sysinfo.h"
#include "cli/client/chat_repl.h"
#include "cli/command.h"
#include "base/env.h"
#include "engine/local_engine.h"
#include "engine/wait_observer.h"

namespace swarmkv::cli {
namespace {

struct RunOptions {
  std::string model;
  std::string name;         // positional NAME (a file runs locally; else a served model)
  std::vector<std::string> positional_prompt;  // `run NAME why is the sky blue`
  bool verbose = false;
  std::string keep_alive;
  std::string prompt;
  bool chat = false;
  int n_predict = 128;
  float temperature = 0.8f;
  int64_t seed = -1;
  int top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
  int repeat_last_n = 64;
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  std::vector<std::string> stop;
  bool ignore_eos = false;
  int threads = 0;
  std::string kv_type = "f16";
  int ctx = 0;
  int batch = 512;
};

class StdoutObserver : public WaitObserver {
 public:
  bool OnToken(int32_t, std::string_view text) override {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return true;
  }
};

Result<TensorType> ParseKvType(const std::string& s) {
  if (s == "f16") return TensorType::kF16;
  if (s == "bf16") return TensorType::kBF16;
  if (s == "q8_0") return TensorType::kQ8_0;
  if (s == "q4_0") return TensorType::kQ4_0;
  return InvalidArgumentError("--kv-type '" + s + "': expected f16, bf16, q8_0 or q4_0");
}

bool IsFile(const std::string& path) {
  auto st = Env::Default()->Stat(path);
  return st.ok() && !st->is_dir;
}

int RunRemote(const RunOptions& o, const std::string& name, const std::string& prompt, const CLI::App& app) {
  auto address = ServerAddressFromEnv();
  if (!address.ok()) {
    std::cerr << "swarmkv run: " << address.status().message() << "\n";
    return 2;
  }
  ChatReplOptions co;
  co.model = name;
  co.prompt = prompt;
  co.verbose = o.verbose;
  co.keep_alive = o.keep_alive;
  // Only the sampling flags the user typed become request options; the server's defaults (Ollama's) apply otherwise.
  auto given = [&](const char* flag) { return app.count(flag) > 0; };
  if (given("--n-predict")) co.options["num_predict"] = o.n_predict;
  if (given("--temperature")) co.options["temperature"] = o.temperature;
  if (given("--seed")) co.options["seed"] = o.seed;
  if (given("--top-k")) co.options["top_k"] = o.top_k;
  if (given("--top-p")) co.options["top_p"] = o.top_p;
  if (given("--min-p")) co.options["min_p"] = o.min_p;
  if (given("--repeat-penalty")) co.options["repeat_penalty"] = o.repeat_penalty;
  if (given("--repeat-last-n")) co.options["repeat_last_n"] = o.repeat_last_n;
  if (given("--stop")) co.options["stop"] = o.stop;
  if (given("--ctx-size")) co.options["num_ctx"] = o.ctx;
  return RunRemoteChat(ApiClient(*address), co);
}

int Run(RunOptions o, const CLI::App& app) {
  // NAME may be a file (run here) or a model name (ask the server); -m works for both.
  std::string name = o.model.empty() ? o.name : o.model;
  std::string prompt = o.prompt;
  std::vector<std::string> words = o.positional_prompt;
  if (!o.model.empty() && !o.name.empty()) words.insert(words.begin(), o.name);  // -m FILE then a prompt
  for (const auto& w : words) prompt += (prompt.empty() ? "" : " ") + w;
  if (name.empty()) {
    std::cerr << "swarmkv run: give a model: a name the server knows (see `swarmkv list`) or a GGUF file\n";
    return 2;
  }
  if (!IsFile(name)) return RunRemote(o, name, prompt, app);
  o.model = name;
  o.prompt = prompt;
  if (o.prompt.empty() && !o.chat) {
    std::cerr << "swarmkv run: give a prompt with -p (or --chat to read one message from stdin)\n";
    return 2;
  }
  auto kv = ParseKvType(o.kv_type);
  if (!kv.ok()) {
    std::cerr << "swarmkv run: " << kv.status().message() << "\n";
    return 2;
  }
  LocalEngineOptions eo;
  eo.model_path = o.model;
  eo.kv_type = *kv;
  eo.threads = o.threads;
  eo.scheduler.max_step_tokens = o.batch;
  eo.scheduler.max_running = 1;
  auto engine = LocalEngine::Create(eo);
  if (!engine.ok()) {
    std::cerr << "swarmkv run: " << engine.status().ToString() << "\n";
    return 1;
  }
  std::string text = o.prompt;
  if (o.chat) {
    if (text.empty()) {
      std::string line;
      while (std::getline(std::cin, line)) text += line + "\n";
    }
    auto rendered = (*engine)->RenderUserTurn(text);
    if (!rendered.ok()) {
      std::cerr << "swarmkv run: " << rendered.status().ToString() << "\n";
      return 1;
    }
    text = *rendered;
  }
  auto tokens = (*engine)->Tokenize(text, true);
  if (!tokens.ok()) {
    std::cerr << "swarmkv run: " << tokens.status().ToString() << "\n";
    return 1;
  }
  GenerationRequest req;
  req.prompt_tokens = std::move(*tokens);
  req.max_new_tokens = o.n_predict;
  req.num_ctx = o.ctx;
  req.stop = o.stop;
  req.ignore_eos = o.ignore_eos;
  SamplingParams& sp = req.sampling;
  sp.temperature = o.temperature;
  sp.top_k = o.top_k;
  sp.top_p = o.top_p;
  sp.min_p = o.min_p;
  sp.repeat_penalty = o.repeat_penalty;
  sp.repeat_last_n = o.repeat_last_n;
  sp.presence_penalty = o.presence_penalty;
  sp.frequency_penalty = o.frequency_penalty;
  if (o.seed >= 0) {
    sp.seed = static_cast<uint64_t>(o.seed);
    sp.has_seed = true;
  }
  const size_t n_prompt = req.prompt_tokens.size();
  std::cerr << "swarmkv run: " << (*engine)->Describe() << "; prefilling " << n_prompt << " prompt tokens...\n";
  auto observer = std::make_shared<StdoutObserver>();
  auto id = (*engine)->service()->Submit(std::move(req), observer);
  if (!id.ok()) {
    std::cerr << "swarmkv run: " << id.status().ToString() << "\n";
    return 1;
  }
  observer->Wait();
  std::fputc('\n', stdout);
  std::fflush(stdout);
  const GenerationStats& st = observer->stats;
  const double pp_s = st.prefill_ns / 1e9, tg_s = st.decode_ns / 1e9;
  const int computed = st.prompt_tokens - st.prompt_tokens_reused;
  std::fprintf(stderr, "\nprompt: %d tokens (%d reused) in %.3f s = %.1f t/s | generation: %d tokens in %.3f s = %.1f t/s | %s, seed %llu\n",
               st.prompt_tokens, st.prompt_tokens_reused, pp_s, pp_s > 0 ? computed / pp_s : 0.0, st.generated_tokens, tg_s,
               tg_s > 0 && st.generated_tokens > 1 ? (st.generated_tokens - 1) / tg_s : 0.0, st.finish_reason.c_str(),
               static_cast<unsigned long long>(st.seed));
  if (!observer->status.ok()) {
    std::cerr << "swarmkv run: " << observer->status.ToString() << "\n";
    return 1;
  }
  return 0;
}

CommandRegistrar reg("run",
                     "Chat with a model of a running server (NAME), or generate from a GGUF file in-process "
                     "(PATH; streams only the generated text to stdout)",
                     [](CLI::App& app) -> CommandRun {
  auto o = std::make_shared<RunOptions>();
  app.add_option("NAME", o->name, "A model name of the running server ($SWARMKV_HOST), or a GGUF file");
  app.add_option("PROMPT", o->positional_prompt, "Prompt (none: an interactive chat, or stdin when piped)");
  app.add_option("-m,--model", o->model, "GGUF model file, or a served model name");
  app.add_option("-p,--prompt", o->prompt, "prompt text");
  app.add_flag("--chat", o->chat, "wrap the prompt (or stdin) in the model's chat template");
  app.add_option("-n,--n-predict", o->n_predict, "tokens to generate (-1: until EOS or the context is full)");
  app.add_option("--temperature,--temp", o->temperature, "0 = greedy")->check(CLI::NonNegativeNumber);
  app.add_option("-s,--seed", o->seed, "RNG seed (default: random, printed at the end)");
  app.add_option("--top-k", o->top_k, "0 = off");
  app.add_option("--top-p", o->top_p, "1 = off");
  app.add_option("--min-p", o->min_p, "0 = off");
  app.add_option("--repeat-penalty", o->repeat_penalty, "1 = off");
  app.add_option("--repeat-last-n", o->repeat_last_n, "tokens the penalties look back (-1 = all)");
  app.add_option("--presence-penalty", o->presence_penalty);
  app.add_option("--frequency-penalty", o->frequency_penalty);
  app.add_option("--stop", o->stop, "stop string (repeatable)");
  app.add_flag("--ignore-eos", o->ignore_eos, "keep generating after end-of-generation tokens");
  app.add_option("-t,--threads", o->threads, "threads (default: physical cores)");
  app.add_option("--kv-type", o->kv_type, "KV cache dtype: f16, bf16, q8_0, q4_0");
  app.add_option("-c,--ctx-size", o->ctx, "context length (default: the model's)");
  app.add_option("-b,--batch-size", o->batch, "prefill tokens per step")->check(CLI::PositiveNumber);
  app.add_flag("--verbose", o->verbose, "served models: print timings after each answer, as `ollama run --verbose`");
  app.add_option("--keepalive", o->keep_alive, "served models: how long the model stays loaded (e.g. 5m)");
  CLI::App* self = &app;
  return [o, self] { return Run(*o, *self); };
});

}  // namespace
}  // namespace swarmkv::cli
