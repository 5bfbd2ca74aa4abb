// Facts about this machine and process read from the OS: RAM, cores, resident set size.
// Thread-safety: pure reads of /proc and sysconf.
#pragma once

#include <cstdint>

namespace swarmkv {

uint64_t TotalRamBytes();
// Physical cores (not hyper-threads) this process may run on; at least 1.
int PhysicalCoreCount();
// Current and peak resident set size of this process (VmRSS, VmHWM), 0 if unknown.
uint64_t CurrentRssBytes();
uint64_t PeakRssBytes();
// Monotonic clock in nanoseconds.
int64_t MonotonicNanos();

}  // namespace swarmkv
