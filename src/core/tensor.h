// Non-owning views of contiguous (row-major) tensors.
#pragma once

#include "core/check.h"
#include "core/dtype.h"

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace tllm {

using Shape = std::vector<int64_t>;

std::string shape_to_string(const Shape& shape); // "[5120, 2880]"
int64_t shape_numel(const Shape& shape);

struct TensorView {
    const void* data = nullptr;
    DType dtype = DType::kF32;
    Shape shape;

    int64_t numel() const { return shape_numel(shape); }
    size_t n_bytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype); }
    int64_t dim(size_t axis) const {
        TLLM_CHECK(axis < shape.size(), "axis {} of {}", axis, shape_to_string(shape));
        return shape[axis];
    }
    template <typename T> const T* as() const { return static_cast<const T*>(data); }
    // Row `index` of the outermost dimension, as a view of the remaining dimensions.
    TensorView slice0(int64_t index) const;
};

} // namespace tllm
