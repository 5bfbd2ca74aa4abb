// `swarmkv make-model`: writes the built-in synthetic model (random weights with real shapes and
// a byte-level BPE tokenizer; deterministic for a seed) as a GGUF file llama.cpp also loads.
//
//   swarmkv make-model --shape {tiny,smollm2-135m,qwen2.5-0.5b,smollm2-demo,...} --type {f32,f16,bf16,q8_0,q4_0,q5_0,q4_1,q5_1,q2_K..q6_K,iq4_nl,iq4_xs,mxfp4}
//                      --seed N -o FILE [--threads N]
//   swarmkv make-model --arch {llama,qwen2,qwen3,granite,olmo2,phi3,gemma2,gemma3,mamba2,granitehybrid} [--layers N] ...
//     (--arch picks the family's real shape, e.g. gemma3 -> gemma3-1b; --layers cuts it short)
//   swarmkv make-model --arch qwen3moe --layers 2 --experts 32 ...
//     (--experts: fewer experts per MoE layer than the real 128; top-k and width unchanged)
#include <chrono>
#include <iostream>

#include "base/thread_pool.h"
#include "base/units.h"
#include "cli/command.h"
#include "model/synthetic_model.h"

namespace swarmkv::cli {
namespace {

struct MakeModelOptions {
  std::string shape;  // default: the --arch's shape, else "tiny"
  std::string arch;
  uint32_t layers = 0;
  uint32_t experts = 0;
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
  opts.shape = o.shape.empty() ? "tiny" : o.shape;
  if (!o.arch.empty()) {
    auto arch_shape = DefaultShapeForArch(o.arch);
    if (!arch_shape.ok()) {
      std::cerr << "swarmkv make-model: " << arch_shape.status().ToString() << "\n";
      return 2;
    }
    if (o.shape.empty()) opts.shape = *arch_shape;
    auto shape = FindSyntheticShape(opts.shape);
    if (shape.ok() && ModelArchName(shape->arch) != o.arch) {
      std::cerr << "swarmkv make-model: shape '" << opts.shape << "' is " << ModelArchName(shape->arch) << ", not "
                << o.arch << "\n";
      return 2;
    }
  }
  opts.n_layer = o.layers;
  opts.n_expert = o.experts;
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
  std::cout << "wrote " << o.output << " (" << opts.shape << (o.layers > 0 ? ", " + std::to_string(o.layers) + " layers" : "")
            << (o.experts > 0 ? ", " + std::to_string(o.experts) + " experts" : "") << ", " << o.type << ", seed " << o.seed << ", "
            << (info.ok() ? FormatBytes(info->size_bytes) : std::string("?")) << ") in " << secs << " s\n";
  return 0;
}

CommandRegistrar reg("make-model", "Write the built-in synthetic model (random weights, real shapes) as GGUF",
                     [](CLI::App& app) -> CommandRun {
                       auto o = std::make_shared<MakeModelOptions>();
                       app.add_option("--shape", o->shape, "Model shape (default: the --arch's real shape, else tiny)")
                           ->check(CLI::IsMember(SyntheticShapeNames()));
                       std::vector<std::string> archs;
                       for (ModelArch a : AllModelArchs()) archs.emplace_back(ModelArchName(a));
                       app.add_option("--arch", o->arch, "Architecture: writes its family's real shape")
                           ->check(CLI::IsMember(archs));
                       app.add_option("--layers", o->layers, "Number of layers (default: the shape's)")
                           ->check(CLI::Range(1u, 4096u));
                       app.add_option("--experts", o->experts,
                                      "Experts per MoE layer (default: the shape's; qwen3moe's real 128 make a 2-layer "
                                      "file of ~2.4 GB in f16)")
                           ->check(CLI::Range(1u, 512u));
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
