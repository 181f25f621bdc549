#include "core/dtype.h"

#include "core/check.h"

namespace tllm {
namespace {
struct DTypeInfo {
    DType dtype;
    std::string_view name;
    size_t size;
};
constexpr DTypeInfo kDTypes[] = {
    {DType::kF32, "F32", 4}, {DType::kF16, "F16", 2}, {DType::kBF16, "BF16", 2},
    {DType::kU8, "U8", 1},   {DType::kI8, "I8", 1},   {DType::kI32, "I32", 4},
    {DType::kI64, "I64", 8}, {DType::kF64, "F64", 8}, {DType::kBool, "BOOL", 1},
};
} // namespace

std::string_view dtype_name(DType dtype) {
    for (const auto& info : kDTypes) {
        if (info.dtype == dtype) {
            return info.name;
        }
    }
    TLLM_UNREACHABLE("unknown dtype {}", static_cast<int>(dtype));
}

std::optional<DType> dtype_from_name(std::string_view name) {
    for (const auto& info : kDTypes) {
        if (info.name == name) {
            return info.dtype;
        }
    }
    return std::nullopt;
}

size_t dtype_size(DType dtype) {
    for (const auto& info : kDTypes) {
        if (info.dtype == dtype) {
            return info.size;
        }
    }
    TLLM_UNREACHABLE("unknown dtype {}", static_cast<int>(dtype));
}

} // namespace tllm
