// libFuzzer target: config.json parsing (both forms) must never crash, and anything it accepts must
// pass validation.
#include "core/check.h"
#include "model/config.h"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    auto config = tllm::parse_config_json(text, "fuzz/config.json");
    if (config.ok()) {
        TLLM_CHECK(config->validate().ok(), "accepted an invalid config");
        auto again = tllm::parse_config_json(config->to_json(tllm::ConfigForm::kOriginal), "roundtrip");
        TLLM_CHECK(again.ok(), "own output rejected: {}", again.error().to_string());
    }
    return 0;
}
