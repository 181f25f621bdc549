// Small synthetic checkpoints for tests, from the committed golden configs.
#pragma once

#include "../common/temp_dir.h"
#include "../common/test_data.h"
#include "model/config.h"
#include "model/synth.h"

#include <gtest/gtest.h>
#include <string>

namespace tllm::testing {

inline std::string golden_dir() { return test_data_path("golden").string(); }

inline GptOssConfig golden_config(const std::string& name) {
    auto config = load_config_file(golden_dir() + "/" + name + ".json");
    if (!config.ok()) {
        ADD_FAILURE() << config.error().to_string();
        return {};
    }
    return *config;
}

inline void write_synthetic(const GptOssConfig& config,
                            CheckpointLayout layout,
                            uint64_t seed,
                            const std::string& directory,
                            uint64_t max_shard_bytes = 0) {
    SynthOptions options;
    options.layout = layout;
    options.seed = seed;
    options.max_shard_bytes = max_shard_bytes;
    Status status = write_synthetic_checkpoint(config, options, directory);
    ASSERT_TRUE(status.ok()) << status.error().to_string();
}

} // namespace tllm::testing
