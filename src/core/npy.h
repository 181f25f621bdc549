// NumPy .npy files (format version 1.0), little-endian float32 only: what `tritonllm logits` writes
// and what golden files hold.
#pragma once

#include "core/result.h"
#include "core/tensor.h"

#include <span>
#include <string>
#include <vector>

namespace tllm {

struct NpyArray {
    Shape shape;
    std::vector<float> values;
};

Status write_npy_f32(const std::string& path, const Shape& shape, std::span<const float> values);
Result<NpyArray> read_npy_f32(const std::string& path);

} // namespace tllm
