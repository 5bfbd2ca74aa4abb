// Byte sizes in human form: "8GiB", "512MiB", "1.5GB", "4096", "50%" (of a given total).
// Binary (KiB, MiB, GiB, TiB; also K, M, G, T) and decimal (KB, MB, GB, TB) suffixes, any case.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace swarmkv {

// Parses a byte size. A trailing '%' is a share of `percent_of_bytes` (an error when that is 0).
Result<uint64_t> ParseByteSize(std::string_view text, uint64_t percent_of_bytes = 0);

// "1.50 GiB", "512 B".
std::string FormatBytes(uint64_t bytes);

}  // namespace swarmkv
