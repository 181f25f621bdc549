// safetensors: an 8-byte little-endian header length N, N bytes of JSON
// {"name": {"dtype": "BF16", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {str: str}},
// then the data section; offsets are relative to its start. Knows nothing about gpt-oss.
#pragma once

#include "core/buffer.h"
#include "core/result.h"
#include "core/tensor.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace tllm {

struct SafetensorsTensorInfo {
    std::string name;
    DType dtype = DType::kF32;
    Shape shape;
    uint64_t begin = 0; // offset into the data section
    uint64_t end = 0;
};

struct SafetensorsHeader {
    std::vector<SafetensorsTensorInfo> tensors; // sorted by begin offset
    std::map<std::string, std::string> metadata;
    uint64_t data_offset = 0; // 8 + header length: where the data section starts in the file
};

// Validates everything the header claims against the file's size: JSON well-formed and an object;
// header length within the file and at most 100 MB; every entry an object with a known dtype, a
// shape of non-negative integers, and data_offsets [begin, end] with begin <= end, end within the
// data section, end - begin == numel * dtype size (no overflow); no duplicate names (or keys); and,
// as the official Rust reader requires, the tensors tile the data section exactly: no overlaps,
// gaps or trailing bytes. The header must start with '{' and may be padded with trailing
// whitespace. Errors are kCorruptFile (or kUnsupported for unknown dtypes), naming `path` and the
// tensor.
Result<SafetensorsHeader> parse_safetensors_header(std::span<const uint8_t> file_bytes, const std::string& path);

// One memory-mapped safetensors file.
class SafetensorsFile {
  public:
    static Result<SafetensorsFile> open(const std::string& path);

    const std::string& path() const { return file_.path(); }
    const SafetensorsHeader& header() const { return header_; }
    const SafetensorsTensorInfo* find(const std::string& name) const;
    TensorView view(const SafetensorsTensorInfo& info) const;

  private:
    MappedFile file_;
    SafetensorsHeader header_;
    std::map<std::string, size_t> index_; // name -> position in header_.tensors
};

// Writes a safetensors file whose tensors are produced piecewise, so multi-gigabyte tensors never
// sit in memory whole. The header (with tensors laid out in the order added) is written first.
class SafetensorsWriter {
  public:
    // fill(offset_in_tensor_bytes, out) writes the tensor's bytes [offset, offset + out.size()).
    using FillFn = std::function<void(uint64_t offset, std::span<uint8_t> out)>;

    void add(std::string name, DType dtype, Shape shape, FillFn fill);
    void set_metadata(std::string key, std::string value);
    uint64_t data_bytes() const; // total size of the data section so far
    // Writes atomically (temporary file + rename).
    Status write(const std::string& path) const;

  private:
    struct Entry {
        std::string name;
        DType dtype;
        Shape shape;
        FillFn fill;
    };
    std::vector<Entry> entries_;
    std::map<std::string, std::string> metadata_;
};

// All tensors of a model directory: either the shards named by `model.safetensors.index.json`
// ({"weight_map": {tensor: file}}), checked against the shards' own headers, or else every
// `*.safetensors` file in the directory (a tensor in two files is an error).
class SafetensorsCheckpoint {
  public:
    static Result<SafetensorsCheckpoint> open_directory(const std::string& directory);

    // nullptr when absent.
    const SafetensorsTensorInfo* find(const std::string& name, const SafetensorsFile** file = nullptr) const;
    std::vector<std::string> tensor_names() const; // sorted
    const std::vector<std::unique_ptr<SafetensorsFile>>& files() const { return files_; }

  private:
    std::vector<std::unique_ptr<SafetensorsFile>> files_;
    std::map<std::string, std::pair<size_t, const SafetensorsTensorInfo*>> tensors_; // name -> (file, info)
};

} // namespace tllm
