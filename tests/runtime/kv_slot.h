// The runtime tests' model of KV memory: what a slot of a block holds is the (token, position) last computed
// into it, so a test can check that a sequence sees its own tokens wherever it attends.
#pragma once

#include <cstdint>

namespace tllm::test_util {

struct KvSlot {
    int32_t token = -1;
    int64_t position = -1;
    bool operator==(const KvSlot&) const = default;
};

} // namespace tllm::test_util
