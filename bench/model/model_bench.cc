// model_bench: prints one JSON object.
//
//   model_bench [--shape smollm2-135m] [--type f16] [--dir /tmp] [--repeats 3]
//
// Generates the synthetic model (timed), then measures over the same mapped file:
//   read_gbps        one thread summing every 8-byte word (memory-read baseline)
//   xxh3_1t_gbps     one thread XXH3-128 over all tensor bytes (hash baseline)
//   fingerprint_gbps ComputeWeightsFingerprint (the real thing, parallel over ThreadPool::Default)
//   load_*_ms        Model::Load with an empty fingerprint cache, then with a cache hit
// Best of --repeats, warm page cache (the file was just written).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "base/hash.h"
#include "base/thread_pool.h"
#include "model/fingerprint.h"
#include "model/model.h"
#include "model/synthetic_model.h"

using namespace swarmkv;

namespace {
double Now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

template <typename Fn>
double Best(int repeats, Fn&& fn) {
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) {
    double t0 = Now();
    fn();
    best = std::min(best, Now() - t0);
  }
  return best;
}
}  // namespace

int main(int argc, char** argv) {
  std::string shape = "smollm2-135m", type = "f16", dir = "/tmp";
  int repeats = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--shape") shape = argv[i + 1];
    else if (a == "--type") type = argv[i + 1];
    else if (a == "--dir") dir = argv[i + 1];
    else if (a == "--repeats") repeats = std::atoi(argv[i + 1]);
  }
  std::string path = dir + "/swarmkv-model-bench-" + shape + "-" + type + ".gguf";
  SyntheticModelOptions o;
  o.shape = shape;
  o.type = *ParseTensorType(type);
  o.seed = 1;
  double t0 = Now();
  Status s = MakeSyntheticModel(o, path);
  double make_s = Now() - t0;
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  auto file = GgufFile::Open(path).value();
  uint64_t bytes = 0;
  for (const auto& t : file->tensors()) bytes += t.size_bytes;

  volatile uint64_t sink = 0;
  double read_s = Best(repeats, [&] {
    uint64_t acc = 0;
    for (const auto& t : file->tensors()) {
      const uint8_t* p = t.data;
      for (uint64_t i = 0; i + 8 <= t.size_bytes; i += 8) {
        uint64_t w;
        std::memcpy(&w, p + i, 8);
        acc += w;
      }
    }
    sink = sink + acc;
  });
  double xxh_s = Best(repeats, [&] {
    Hasher128 h;
    for (const auto& t : file->tensors()) h.Update(t.data, t.size_bytes);
    sink = sink + h.Digest().lo;
  });
  Hash128 fp;
  double fp_s = Best(repeats, [&] { fp = ComputeWeightsFingerprint(*file); });

  std::string cache = dir + "/swarmkv-model-bench-fingerprints";
  Env::Default()->DeleteFile(cache).IgnoreError();
  ModelLoadOptions lo;
  lo.fingerprint.cache_path = cache;
  double load_miss_s = Best(1, [&] { (void)Model::Load(path, lo).value(); });
  double load_hit_s = Best(repeats, [&] { (void)Model::Load(path, lo).value(); });
  ModelLoadOptions nofp;
  nofp.compute_fingerprint = false;
  double load_nofp_s = Best(repeats, [&] { (void)Model::Load(path, nofp).value(); });

  const double gb = bytes / 1e9;
  std::printf(
      "{\"shape\": \"%s\", \"type\": \"%s\", \"tensor_bytes\": %llu, \"threads\": %d,\n"
      " \"make_model_s\": %.3f,\n"
      " \"read_gbps\": %.2f, \"xxh3_1t_gbps\": %.2f, \"fingerprint_gbps\": %.2f,\n"
      " \"load_no_fingerprint_ms\": %.2f, \"load_cache_miss_ms\": %.2f, \"load_cache_hit_ms\": %.2f,\n"
      " \"fingerprint\": \"%s\"}\n",
      shape.c_str(), type.c_str(), static_cast<unsigned long long>(bytes), ThreadPool::Default().num_threads(),
      make_s, gb / read_s, gb / xxh_s, gb / fp_s, load_nofp_s * 1e3, load_miss_s * 1e3, load_hit_s * 1e3,
      fp.ToHex().c_str());
  Env::Default()->DeleteFile(path).IgnoreError();
  Env::Default()->DeleteFile(cache).IgnoreError();
  return 0;
}
