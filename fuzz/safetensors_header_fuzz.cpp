// Fuzzes parse_safetensors_header: it must never crash, and whatever it accepts must be safe to use
// (tensors inside the file, sized as their shape says, tiling the data section without overlap).
//
// Input: the first byte picks a mode. Even: the rest is a whole safetensors file. Odd: the rest is
// the header JSON, and the harness adds the length field and (first byte >> 1) data bytes, so the
// fuzzer can explore the JSON validation without having to keep a length field consistent.
#include "core/check.h"
#include "model/safetensors.h"

#include <cstddef>
#include <cstdint>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) {
        return 0;
    }
    std::vector<uint8_t> file;
    if ((data[0] & 1) == 0) {
        file.assign(data + 1, data + size);
    } else {
        const uint64_t header_bytes = size - 1;
        for (int i = 0; i < 8; ++i) {
            file.push_back(static_cast<uint8_t>(header_bytes >> (8 * i)));
        }
        file.insert(file.end(), data + 1, data + size);
        file.resize(file.size() + (data[0] >> 1), 0);
    }

    auto parsed = tllm::parse_safetensors_header(file, "fuzz.safetensors");
    if (!parsed.ok()) {
        TLLM_CHECK(!parsed.error().message().empty());
        return 0;
    }
    const tllm::SafetensorsHeader& header = parsed.value();
    TLLM_CHECK(header.data_offset > 8 && header.data_offset <= file.size());
    const uint64_t data_bytes = file.size() - header.data_offset;
    uint64_t covered = 0;
    for (const tllm::SafetensorsTensorInfo& info : header.tensors) {
        TLLM_CHECK(info.begin == covered, "{} begins at {}, previous ends at {}", info.name, info.begin, covered);
        TLLM_CHECK(info.begin <= info.end && info.end <= data_bytes, "{} [{}, {}]", info.name, info.begin, info.end);
        int64_t numel = 1;
        for (int64_t dim : info.shape) {
            TLLM_CHECK(dim >= 0);
            TLLM_CHECK(dim == 0 || numel <= INT64_MAX / dim);
            numel *= dim;
        }
        TLLM_CHECK(info.end - info.begin == static_cast<uint64_t>(numel) * tllm::dtype_size(info.dtype));
        covered = info.end;
    }
    TLLM_CHECK(covered == data_bytes);
    return 0;
}
