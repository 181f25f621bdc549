#include "core/tensor.h"

#include <fmt/format.h>

namespace tllm {

std::string shape_to_string(const Shape& shape) {
    std::string text = "[";
    for (size_t i = 0; i < shape.size(); ++i) {
        text += (i ? ", " : "") + std::to_string(shape[i]);
    }
    return text + "]";
}

int64_t shape_numel(const Shape& shape) {
    int64_t n = 1;
    for (int64_t d : shape) {
        n *= d;
    }
    return n;
}

TensorView TensorView::slice0(int64_t index) const {
    TLLM_CHECK(!shape.empty() && index >= 0 && index < shape[0], "slice {} of {}", index, shape_to_string(shape));
    TensorView row;
    row.dtype = dtype;
    row.shape.assign(shape.begin() + 1, shape.end());
    row.data = static_cast<const uint8_t*>(data) + static_cast<size_t>(index) * row.n_bytes();
    return row;
}

} // namespace tllm
