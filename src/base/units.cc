#include "base/units.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace swarmkv {

Result<uint64_t> ParseByteSize(std::string_view text, uint64_t percent_of_bytes) {
  std::string s(text);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t start = 0;
  while (start < s.size() && std::isspace(static_cast<unsigned char>(s[start]))) ++start;
  s = s.substr(start);
  if (s.empty()) return InvalidArgumentError("empty byte size");
  char* end = nullptr;
  double value = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || !std::isfinite(value) || value < 0)
    return InvalidArgumentError("bad byte size '" + std::string(text) + "'");
  std::string suffix(end);
  while (!suffix.empty() && suffix.front() == ' ') suffix.erase(suffix.begin());
  for (char& c : suffix) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  double mult = 1;
  if (suffix == "%") {
    if (percent_of_bytes == 0) return InvalidArgumentError("a percentage is not allowed here: '" + std::string(text) + "'");
    if (value > 100) return InvalidArgumentError("percentage over 100: '" + std::string(text) + "'");
    return static_cast<uint64_t>(static_cast<double>(percent_of_bytes) * value / 100.0);
  }
  if (suffix.empty() || suffix == "b") mult = 1;
  else if (suffix == "k" || suffix == "kib") mult = 1024.0;
  else if (suffix == "m" || suffix == "mib") mult = 1024.0 * 1024;
  else if (suffix == "g" || suffix == "gib") mult = 1024.0 * 1024 * 1024;
  else if (suffix == "t" || suffix == "tib") mult = 1024.0 * 1024 * 1024 * 1024;
  else if (suffix == "kb") mult = 1e3;
  else if (suffix == "mb") mult = 1e6;
  else if (suffix == "gb") mult = 1e9;
  else if (suffix == "tb") mult = 1e12;
  else return InvalidArgumentError("unknown byte-size suffix '" + suffix + "' in '" + std::string(text) + "'");
  double bytes = value * mult;
  if (bytes > 1.8e19) return InvalidArgumentError("byte size too large: '" + std::string(text) + "'");
  return static_cast<uint64_t>(bytes);
}

std::string FormatBytes(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  else std::snprintf(buf, sizeof buf, "%.2f %s", v, kUnits[u]);
  return buf;
}

}  // namespace swarmkv
