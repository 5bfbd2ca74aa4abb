// libFuzzer target for the GGUF reader: any bytes must give a GgufFile or a Status error — never a
// crash, an abort or an out-of-bounds read (ASan/UBSan watch). When a file parses, every value
// and tensor is walked, and the model layer (hparams + weight binding) runs on it too.
#include <cstddef>
#include <cstdint>
#include <span>

#include "gguf/gguf_file.h"
#include "model/hparams.h"
#include "model/weights.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace swarmkv;
  auto file = GgufFile::FromBuffer(std::span<const uint8_t>(data, size));
  if (!file.ok()) return 0;
  const GgufFile& f = **file;
  size_t sink = 0;
  for (const auto& [key, value] : f.metadata()) {
    sink += value.DebugString(4).size();
    if (value.is_array()) {
      for (const GgufValue& e : value.ArrayElements()) sink += e.DebugString(2).size();
      (void)f.GetStringArray(key);
      (void)f.GetI32Array(key);
      (void)f.GetF32Array(key);
    }
    (void)f.GetU32(key);
    (void)f.GetString(key);
    (void)f.GetF32(key);
  }
  for (const auto& t : f.tensors()) {
    if (t.size_bytes > 0) sink += t.data[0] + t.data[t.size_bytes - 1];  // first and last byte in bounds
  }
  auto hp = ModelHParams::FromGguf(f);
  if (hp.ok()) (void)ModelWeights::Bind(f, *hp);
  return sink == 0xFFFFFFFF ? 1 : 0;
}
