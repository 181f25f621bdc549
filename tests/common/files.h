// Whole files for tests: write one (making its folders) and read one back, bytes as they are.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace tllm::testing {

inline void write_file(const std::filesystem::path& path, const std::string& content) {
    if (path.has_parent_path()) {
        std::filesystem::create_directories(path.parent_path());
    }
    std::ofstream(path, std::ios::binary) << content;
}

// "" when the file cannot be read.
inline std::string read_file(const std::filesystem::path& path) {
    std::ifstream stream(path, std::ios::binary);
    std::ostringstream content;
    content << stream.rdbuf();
    return content.str();
}

} // namespace tllm::testing
