#include "core/result.h"

namespace tllm {

const char* error_code_name(ErrorCode code) {
    switch (code) {
    case ErrorCode::kInvalidArgument:
        return "invalid_argument";
    case ErrorCode::kNotFound:
        return "not_found";
    case ErrorCode::kIoError:
        return "io_error";
    case ErrorCode::kCorruptFile:
        return "corrupt_file";
    case ErrorCode::kShapeMismatch:
        return "shape_mismatch";
    case ErrorCode::kDtypeMismatch:
        return "dtype_mismatch";
    case ErrorCode::kUnsupported:
        return "unsupported";
    case ErrorCode::kOutOfMemory:
        return "out_of_memory";
    case ErrorCode::kContextOverflow:
        return "context_overflow";
    case ErrorCode::kDevice:
        return "device_error";
    case ErrorCode::kNetwork:
        return "network_error";
    case ErrorCode::kInternal:
        return "internal";
    }
    return "unknown";
}

} // namespace tllm
