// How a subcommand ends: an error is logged once, as "code: message", and becomes exit status 1.
#pragma once

#include "core/log.h"
#include "core/result.h"

namespace tllm {

inline int report(const Status& status) {
    if (!status.ok()) {
        TLLM_LOG_ERROR("{}", status.error().to_string());
        return 1;
    }
    return 0;
}

} // namespace tllm
