// Resident memory of this process, from /proc/self/status (Linux).
#pragma once

#include <cstdint>

namespace tllm {

struct ProcessStats {
    uint64_t resident_bytes = 0;      // VmRSS
    uint64_t peak_resident_bytes = 0; // VmHWM
};

ProcessStats read_process_stats();

} // namespace tllm
