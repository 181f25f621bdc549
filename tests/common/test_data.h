// The repository's test data (tests/data/, described in its README.md).
#pragma once

#include "core/buffer.h"

#include <filesystem>
#include <stdexcept>
#include <string>

namespace tllm::testing {

inline std::filesystem::path test_data_path(const std::string& relative) {
    return std::filesystem::path(TLLM_TEST_DATA_DIR) / relative;
}

// The bytes of tests/data/<relative>. A missing file fails the calling test (an exception, which gtest reports)
// with the path it looked for, rather than passing vacuously or aborting the whole executable.
inline std::string read_test_data(const std::string& relative) {
    const std::filesystem::path path = test_data_path(relative);
    auto text = read_text_file(path.string());
    if (!text.ok()) {
        throw std::runtime_error("test data " + path.string() + " cannot be read (" + text.error().to_string() +
                                 "); tests/data/README.md lists what belongs there");
    }
    return *std::move(text);
}

} // namespace tllm::testing
