#include "cli/process_stats.h"

#include <fstream>
#include <sstream>
#include <string>

namespace tllm {

ProcessStats read_process_stats() {
    ProcessStats stats;
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        std::istringstream fields(line);
        std::string key;
        uint64_t kilobytes = 0;
        fields >> key >> kilobytes;
        if (key == "VmRSS:") {
            stats.resident_bytes = kilobytes * 1024;
        } else if (key == "VmHWM:") {
            stats.peak_resident_bytes = kilobytes * 1024;
        }
    }
    return stats;
}

} // namespace tllm
