// `swarmkv make-model`: writes the built-in synthetic model (random weights with real shapes and
// a byte-level BPE tokenizer; deterministic for a seed) as a GGUF file llama.cpp also loads.
//
//   swarmkv make-model --shape {tiny,smollm2-135m,qwen2.5-0.5b,smollm2-demo,...} --type {f32,f16,bf16,q8_0,q4_0,q5_0,q4_1,q5_1,q2_K..q6_K,iq4_nl,iq4_xs,mxfp4}
//                      --seed N -o FILE [--threads N]
#include <chrono>
#include <iostream>

#include "base/thread_pool.h"
#include "base/units.h"
#include "cli/command.h"
#include "model/synthetic_model.h"

namespace swarmkv::cli {
namespace {

struct MakeModelOptions {
  std::string shape = "tiny";
  std::string type = "f16";
  uint64_t seed = 0;
  std::string output;
  int threads = 0;
};

int RunMakeModel(const MakeModelOptions& o) {
  auto type = ParseTensorType(o.type);
  if (!type) {
    std::cerr << "swarmkv make-model: unknown --type '" << o.type << "' (see --help)\n";
    return 2;
  }
  if (o.threads > 0) ThreadPool::SetDefaultThreads(o.threads);
  SyntheticModelOptions opts;
  opts.shape = o.shape;
  opts.type = *type;
  opts.seed = o.seed;
  auto start = std::chrono::steady_clock::now();
  Status s = MakeSyntheticModel(opts, o.output);
  if (!s.ok()) {
    std::cerr << "swarmkv make-model: " << s.ToString() << "\n";
    return s.code() == StatusCode::kInvalidArgument ? 2 : 1;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto info = Env::Default()->Stat(o.output);
  std::cout << "wrote " << o.output << " (" << o.shape << ", " << o.type << ", seed " << o.seed << ", "
            << (info.ok() ? FormatBytes(info->size_bytes) : std::string("?")) << ") in " << secs << " s\n";
  return 0;
}

CommandRegistrar reg("make-model", "Write the built-in synthetic model (random weights, real shapes) as GGUF",
                     [](CLI::App& app) -> CommandRun {
                       auto o = std::make_shared<MakeModelOptions>();
                       app.add_option("--shape", o->shape, "Model shape")
                           ->check(CLI::IsMember(SyntheticShapeNames()))
                           ->capture_default_str();
                       app.add_option("--type", o->type, "Type of the 2-D weights (K-quants and iq4_xs on rows not a multiple of 256 fall back as llama-quantize does)")
                           ->check(CLI::IsMember({"f32", "f16", "bf16", "q8_0", "q4_0", "q5_0", "q4_1", "q5_1", "q2_K", "q3_K", "q4_K",
                                              "q5_K", "q6_K", "iq4_nl", "iq4_xs", "mxfp4"},
                                                             CLI::ignore_case))
                           ->capture_default_str();
                       app.add_option("--seed", o->seed, "Random seed (same seed, same file)")->capture_default_str();
                       app.add_option("-o,--output", o->output, "Output GGUF file")->required();
                       app.add_option("--threads", o->threads, "Worker threads (default: physical cores)");
                       return [o] { return RunMakeModel(*o); };
                     });

}  // namespace
}  // namespace swarmkv::cli
