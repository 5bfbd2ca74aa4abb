// libFuzzer target for the pin registry file (server/pin_registry.h), which anyone with access to
// the disk tier's directory could have written: any bytes must give records or a Corruption error
// — never a crash, an abort or unbounded work. Records that parse serialise and parse back equal.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/pin_registry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace swarmkv;
  PinRegistryOptions limits;
  limits.max_file_bytes = 1 << 20;
  auto records = PinRegistry::Parse(std::string_view(reinterpret_cast<const char*>(data), size), limits);
  if (!records.ok()) return 0;
  auto again = PinRegistry::Parse(PinRegistry::Serialize(*records), limits);
  if (!again.ok() || again->size() != records->size()) std::abort();
  for (size_t i = 0; i < records->size(); ++i)
    if ((*again)[i].tokens != (*records)[i].tokens || (*again)[i].name != (*records)[i].name) std::abort();
  return 0;
}
