#include "core/npy.h"

#include "core/buffer.h"

#include <cstdlib>
#include <cstring>
#include <fmt/format.h>

namespace tllm {

Status write_npy_f32(const std::string& path, const Shape& shape, std::span<const float> values) {
    TLLM_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "npy values do not match shape");
    std::string shape_text;
    for (int64_t d : shape) {
        shape_text += std::to_string(d) + ",";
    }
    if (shape.size() > 1) {
        shape_text.pop_back();
    }
    std::string header = fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}), }}", shape_text);
    // Header padded with spaces and a newline so that magic + lengths + header is a multiple of 64.
    size_t total = 10 + header.size() + 1;
    header.append((64 - total % 64) % 64, ' ');
    header += '\n';
    std::vector<uint8_t> bytes;
    bytes.reserve(10 + header.size() + values.size_bytes());
    const uint8_t magic[] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
    bytes.insert(bytes.end(), magic, magic + 8);
    bytes.push_back(static_cast<uint8_t>(header.size() & 0xff));
    bytes.push_back(static_cast<uint8_t>(header.size() >> 8));
    bytes.insert(bytes.end(), header.begin(), header.end());
    const auto* raw = reinterpret_cast<const uint8_t*>(values.data());
    bytes.insert(bytes.end(), raw, raw + values.size_bytes());
    return write_file_atomically(path, bytes);
}

Result<NpyArray> read_npy_f32(const std::string& path) {
    TLLM_ASSIGN_OR_RETURN(MappedFile file, MappedFile::open(path));
    const uint8_t* data = file.data();
    if (file.size() < 10 || std::memcmp(data, "\x93NUMPY", 6) != 0) {
        return make_error(ErrorCode::kCorruptFile, "{}: not a .npy file", path);
    }
    size_t header_length = 0;
    size_t header_start = 0;
    if (data[6] == 1) {
        header_length = data[8] | (static_cast<size_t>(data[9]) << 8);
        header_start = 10;
    } else if (data[6] == 2 || data[6] == 3) {
        if (file.size() < 12) {
            return make_error(ErrorCode::kCorruptFile, "{}: truncated .npy header", path);
        }
        header_length = data[8] | (data[9] << 8) | (data[10] << 16) | (static_cast<size_t>(data[11]) << 24);
        header_start = 12;
    } else {
        return make_error(ErrorCode::kUnsupported, "{}: .npy version {} not supported", path, data[6]);
    }
    if (header_start + header_length > file.size()) {
        return make_error(ErrorCode::kCorruptFile, "{}: truncated .npy header", path);
    }
    std::string header(reinterpret_cast<const char*>(data + header_start), header_length);
    if (header.find("'<f4'") == std::string::npos || header.find("'fortran_order': False") == std::string::npos) {
        return make_error(ErrorCode::kUnsupported, "{}: only C-order little-endian float32 .npy is supported", path);
    }
    size_t open = header.find('(');
    size_t close = header.find(')', open);
    if (open == std::string::npos || close == std::string::npos) {
        return make_error(ErrorCode::kCorruptFile, "{}: .npy header has no shape", path);
    }
    NpyArray array;
    std::string dims = header.substr(open + 1, close - open - 1);
    size_t position = 0;
    while (position < dims.size()) {
        size_t comma = dims.find(',', position);
        std::string item = dims.substr(position, comma == std::string::npos ? std::string::npos : comma - position);
        if (item.find_first_not_of(' ') != std::string::npos) {
            char* end = nullptr;
            long long dim = std::strtoll(item.c_str(), &end, 10);
            if (end == item.c_str() ||
                item.find_first_not_of(' ', static_cast<size_t>(end - item.c_str())) != std::string::npos || dim < 0 ||
                dim > (int64_t{1} << 40)) {
                return make_error(ErrorCode::kCorruptFile, "{}: bad dimension \"{}\" in the .npy shape", path, item);
            }
            array.shape.push_back(dim);
        }
        if (comma == std::string::npos) {
            break;
        }
        position = comma + 1;
    }
    size_t n = static_cast<size_t>(shape_numel(array.shape));
    size_t payload = header_start + header_length;
    if (file.size() - payload != n * sizeof(float)) {
        return make_error(ErrorCode::kCorruptFile, "{}: payload of {} bytes does not match shape {}", path,
                          file.size() - payload, shape_to_string(array.shape));
    }
    array.values.resize(n);
    if (n > 0) {
        std::memcpy(array.values.data(), data + payload, n * sizeof(float));
    }
    return array;
}

} // namespace tllm
