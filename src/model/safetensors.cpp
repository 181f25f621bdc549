#include "model/safetensors.h"

#include "core/check.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string_view>
#include <tuple>
#include <unistd.h>
#include <utility>

namespace tllm {
namespace {

namespace fs = std::filesystem;

// The official reader's limit; a larger header is far more likely garbage than a real model.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
// Large enough that write() syscalls are cheap, small enough that a writer never holds a whole
// multi-gigabyte tensor in memory.
constexpr uint64_t kWriteChunkBytes = 64ull << 20;
constexpr const char* kMetadataKey = "__metadata__";
constexpr const char* kIndexFileName = "model.safetensors.index.json";

struct DuplicateKey {
    std::string key;
    std::string within; // the top-level key whose value holds the duplicate; "" if it is top-level
};

struct ParsedJson {
    nlohmann::json value;
    std::optional<DuplicateKey> duplicate; // the first one found
};

// nlohmann::json silently keeps the last of duplicate keys, which would let a file show one reader a
// different tensor than another; the parse callback sees every key, so duplicates are caught there.
Result<ParsedJson> parse_json(std::string_view text, const std::string& path, const char* what) {
    std::vector<std::set<std::string>> open_objects; // keys seen so far in each enclosing object
    std::string top_key;
    std::optional<DuplicateKey> duplicate;
    auto callback = [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        switch (event) {
        case nlohmann::json::parse_event_t::object_start:
            open_objects.emplace_back();
            break;
        case nlohmann::json::parse_event_t::object_end:
            if (!open_objects.empty()) {
                open_objects.pop_back();
            }
            break;
        case nlohmann::json::parse_event_t::key:
            if (const auto* key = parsed.get_ptr<const std::string*>(); key != nullptr && !open_objects.empty()) {
                const bool top_level = open_objects.size() == 1;
                if (top_level) {
                    top_key = *key;
                }
                if (!open_objects.back().insert(*key).second && !duplicate) {
                    duplicate = DuplicateKey{*key, top_level ? std::string() : top_key};
                }
            }
            break;
        default:
            break;
        }
        return true;
    };
    // nlohmann treats a NUL byte as the end of input and would ignore whatever follows it; raw NULs
    // are never valid JSON anyway.
    if (size_t nul = text.find('\0'); nul != std::string_view::npos) {
        return make_error(ErrorCode::kCorruptFile, "{}: {} is not valid JSON: NUL byte at offset {}", path, what, nul);
    }
    ParsedJson result;
    try {
        result.value = nlohmann::json::parse(text.begin(), text.end(), callback);
    } catch (const nlohmann::json::exception& error) {
        return make_error(ErrorCode::kCorruptFile, "{}: {} is not valid JSON: {}", path, what, error.what());
    } catch (const std::bad_alloc&) {
        return make_error(ErrorCode::kOutOfMemory, "{}: out of memory parsing the {}", path, what);
    }
    result.duplicate = std::move(duplicate);
    return result;
}

// Non-negative JSON integers come back from nlohmann as number_unsigned; negatives, fractions and
// exponents do not, and are all invalid as sizes or offsets.
std::optional<uint64_t> as_unsigned(const nlohmann::json& value) {
    if (!value.is_number_unsigned()) {
        return std::nullopt;
    }
    return value.get<uint64_t>();
}

// numel * element size, or nullopt when a dimension is negative or any partial product overflows:
// shape_numel() multiplies in int64 in order, so every prefix product must fit too.
std::optional<uint64_t> checked_tensor_bytes(const Shape& shape, DType dtype) {
    constexpr uint64_t kMaxNumel = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    uint64_t numel = 1;
    for (int64_t dim : shape) {
        if (dim < 0) {
            return std::nullopt;
        }
        uint64_t d = static_cast<uint64_t>(dim);
        if (d != 0 && numel > kMaxNumel / d) {
            return std::nullopt;
        }
        numel *= d;
    }
    uint64_t size = dtype_size(dtype);
    if (numel > std::numeric_limits<uint64_t>::max() / size) {
        return std::nullopt;
    }
    return numel * size;
}

uint64_t read_u64_le(const uint8_t* bytes) {
    uint64_t value = 0;
    for (int i = 7; i >= 0; --i) {
        value = (value << 8) | bytes[i];
    }
    return value;
}

Result<SafetensorsTensorInfo>
parse_tensor_entry(const std::string& name, const nlohmann::json& entry, uint64_t data_bytes, const std::string& path) {
    if (!entry.is_object()) {
        return make_error(ErrorCode::kCorruptFile, "{}: tensor \"{}\": entry is a JSON {}, not an object", path, name,
                          entry.type_name());
    }
    for (const auto& [key, value] : entry.items()) {
        if (key != "dtype" && key != "shape" && key != "data_offsets") {
            return make_error(ErrorCode::kCorruptFile, "{}: tensor \"{}\": unexpected key \"{}\"", path, name, key);
        }
    }
    for (const char* key : {"dtype", "shape", "data_offsets"}) {
        if (!entry.contains(key)) {
            return make_error(ErrorCode::kCorruptFile, "{}: tensor \"{}\": missing key \"{}\"", path, name, key);
        }
    }
    SafetensorsTensorInfo info;
    info.name = name;

    const nlohmann::json& dtype = entry["dtype"];
    const auto* dtype_text = dtype.get_ptr<const std::string*>();
    if (dtype_text == nullptr) {
        return make_error(ErrorCode::kCorruptFile, "{}: tensor \"{}\": dtype is a JSON {}, not a string", path, name,
                          dtype.type_name());
    }
    std::optional<DType> parsed_dtype = dtype_from_name(*dtype_text);
    if (!parsed_dtype) {
        return make_error(ErrorCode::kUnsupported, "{}: tensor \"{}\": unsupported dtype \"{}\"", path, name,
                          *dtype_text);
    }
    info.dtype = *parsed_dtype;

    const nlohmann::json& shape = entry["shape"];
    if (!shape.is_array()) {
        return make_error(ErrorCode::kCorruptFile, "{}: tensor \"{}\": shape is a JSON {}, not an array", path, name,
                          shape.type_name());
    }
    for (const nlohmann::json& dim : shape) {
        std::optional<uint64_t> value = as_unsigned(dim);
        if (!value || *value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
            return make_error(ErrorCode::kCorruptFile,
                              "{}: tensor \"{}\": shape {} has a dimension that is not a "
                              "non-negative 64-bit integer",
                              path, name, shape.dump());
        }
        info.shape.push_back(static_cast<int64_t>(*value));
    }
    std::optional<uint64_t> expected_bytes = checked_tensor_bytes(info.shape, info.dtype);
    if (!expected_bytes) {
        return make_error(ErrorCode::kCorruptFile, "{}: tensor \"{}\": shape {} of {} overflows 64-bit sizes", path,
                          name, shape_to_string(info.shape), *dtype_text);
    }

    const nlohmann::json& offsets = entry["data_offsets"];
    std::optional<uint64_t> begin;
    std::optional<uint64_t> end;
    if (offsets.is_array() && offsets.size() == 2) {
        begin = as_unsigned(offsets[0]);
        end = as_unsigned(offsets[1]);
    }
    if (!begin || !end) {
        return make_error(ErrorCode::kCorruptFile,
                          "{}: tensor \"{}\": data_offsets {} is not two non-negative integers [begin, end]", path,
                          name, offsets.dump());
    }
    info.begin = *begin;
    info.end = *end;
    if (info.begin > info.end) {
        return make_error(ErrorCode::kCorruptFile, "{}: tensor \"{}\": data_offsets [{}, {}]: begin is after end", path,
                          name, info.begin, info.end);
    }
    if (info.end > data_bytes) {
        return make_error(ErrorCode::kCorruptFile,
                          "{}: tensor \"{}\": data_offsets [{}, {}] run past the end of the {}-byte data section "
                          "(file truncated?)",
                          path, name, info.begin, info.end, data_bytes);
    }
    if (info.end - info.begin != *expected_bytes) {
        return make_error(ErrorCode::kCorruptFile,
                          "{}: tensor \"{}\": data_offsets [{}, {}] span {} bytes, but {} {} needs {} bytes", path,
                          name, info.begin, info.end, info.end - info.begin, *dtype_text, shape_to_string(info.shape),
                          *expected_bytes);
    }
    return info;
}

Result<std::map<std::string, std::string>> parse_metadata(const nlohmann::json& value, const std::string& path) {
    if (!value.is_object()) {
        return make_error(ErrorCode::kCorruptFile, "{}: \"{}\" is a JSON {}, not an object of strings", path,
                          kMetadataKey, value.type_name());
    }
    std::map<std::string, std::string> metadata;
    for (const auto& [key, item] : value.items()) {
        const auto* text = item.get_ptr<const std::string*>();
        if (text == nullptr) {
            return make_error(ErrorCode::kCorruptFile, "{}: \"{}\" entry \"{}\" is a JSON {}, not a string", path,
                              kMetadataKey, key, item.type_name());
        }
        metadata.emplace(key, *text);
    }
    return metadata;
}

Status write_tensors(int fd,
                     const std::string& temporary,
                     const std::string& header,
                     const std::vector<uint64_t>& sizes,
                     const std::vector<const SafetensorsWriter::FillFn*>& fills) {
    uint8_t length[8];
    for (int i = 0; i < 8; ++i) {
        length[i] = static_cast<uint8_t>(static_cast<uint64_t>(header.size()) >> (8 * i));
    }
    TLLM_RETURN_IF_ERROR(write_all(fd, length, sizeof(length), temporary));
    TLLM_RETURN_IF_ERROR(write_all(fd, header.data(), header.size(), temporary));
    uint64_t largest = 0;
    for (uint64_t size : sizes) {
        largest = std::max(largest, size);
    }
    HostBuffer chunk(static_cast<size_t>(std::min(largest, kWriteChunkBytes)));
    for (size_t i = 0; i < sizes.size(); ++i) {
        for (uint64_t offset = 0; offset < sizes[i]; offset += kWriteChunkBytes) {
            size_t n = static_cast<size_t>(std::min(kWriteChunkBytes, sizes[i] - offset));
            (*fills[i])(offset, std::span<uint8_t>(chunk.data(), n));
            TLLM_RETURN_IF_ERROR(write_all(fd, chunk.data(), n, temporary));
        }
    }
    if (::fsync(fd) != 0) {
        return make_error(ErrorCode::kIoError, "{}: fsync failed: {}", temporary, std::strerror(errno));
    }
    return {};
}

// A file name from an index, which must stay inside the checkpoint directory.
bool is_plain_file_name(const std::string& name) {
    return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
           name.find('\0') == std::string::npos;
}

} // namespace

Result<SafetensorsHeader> parse_safetensors_header(std::span<const uint8_t> file_bytes, const std::string& path) {
    if (file_bytes.size() < 8) {
        return make_error(ErrorCode::kCorruptFile,
                          "{}: {} bytes is too short for a safetensors file (needs an 8-byte header length)", path,
                          file_bytes.size());
    }
    const uint64_t header_bytes = read_u64_le(file_bytes.data());
    const uint64_t available = file_bytes.size() - 8;
    if (header_bytes == 0) {
        return make_error(ErrorCode::kCorruptFile, "{}: header length is 0", path);
    }
    if (header_bytes > kMaxHeaderBytes) {
        return make_error(ErrorCode::kCorruptFile, "{}: header length {} exceeds the {}-byte limit", path, header_bytes,
                          kMaxHeaderBytes);
    }
    if (header_bytes > available) {
        return make_error(ErrorCode::kCorruptFile,
                          "{}: header length {} runs past the end of the file ({} bytes after the length field)", path,
                          header_bytes, available);
    }
    SafetensorsHeader header;
    header.data_offset = 8 + header_bytes;
    const uint64_t data_bytes = file_bytes.size() - header.data_offset;

    std::string_view text(reinterpret_cast<const char*>(file_bytes.data() + 8), static_cast<size_t>(header_bytes));
    TLLM_ASSIGN_OR_RETURN(ParsedJson parsed, parse_json(text, path, "header"));
    if (!parsed.value.is_object()) {
        return make_error(ErrorCode::kCorruptFile, "{}: header is a JSON {}, not an object", path,
                          parsed.value.type_name());
    }
    // The format requires the object to start the header; only trailing padding is allowed.
    if (text.front() != '{') {
        return make_error(ErrorCode::kCorruptFile, "{}: header does not start with '{{'", path);
    }
    if (parsed.duplicate) {
        const DuplicateKey& dup = *parsed.duplicate;
        const std::string_view kind = (dup.within.empty() ? dup.key : dup.within) == kMetadataKey ? "" : "tensor ";
        if (dup.within.empty()) {
            return make_error(ErrorCode::kCorruptFile, "{}: {}\"{}\" appears twice in the header", path, kind, dup.key);
        }
        return make_error(ErrorCode::kCorruptFile, "{}: {}\"{}\": key \"{}\" appears twice", path, kind, dup.within,
                          dup.key);
    }

    for (const auto& [name, entry] : parsed.value.items()) {
        if (name == kMetadataKey) {
            TLLM_ASSIGN_OR_RETURN(header.metadata, parse_metadata(entry, path));
            continue;
        }
        TLLM_ASSIGN_OR_RETURN(SafetensorsTensorInfo info, parse_tensor_entry(name, entry, data_bytes, path));
        header.tensors.push_back(std::move(info));
    }

    // Like the official reader, require the tensors to tile the data section exactly: a gap or
    // trailing bytes mean the header and the data disagree, and other readers would reject the file.
    std::sort(header.tensors.begin(), header.tensors.end(), [](const auto& a, const auto& b) {
        return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
    });
    uint64_t covered = 0;
    const SafetensorsTensorInfo* previous = nullptr;
    for (const SafetensorsTensorInfo& info : header.tensors) {
        if (info.begin < covered) {
            return make_error(ErrorCode::kCorruptFile,
                              "{}: tensor \"{}\" at [{}, {}] overlaps tensor \"{}\" at [{}, {}]", path, info.name,
                              info.begin, info.end, previous->name, previous->begin, previous->end);
        }
        if (info.begin > covered) {
            return make_error(ErrorCode::kCorruptFile,
                              "{}: tensor \"{}\" starts at data offset {}, leaving bytes [{}, {}) unused by any tensor",
                              path, info.name, info.begin, covered, info.begin);
        }
        covered = info.end;
        previous = &info;
    }
    if (previous == nullptr && data_bytes != 0) {
        return make_error(ErrorCode::kCorruptFile, "{}: header lists no tensors but the data section is {} bytes", path,
                          data_bytes);
    }
    if (covered != data_bytes) {
        return make_error(ErrorCode::kCorruptFile,
                          "{}: data section is {} bytes but its tensors cover only {} (last tensor: \"{}\")", path,
                          data_bytes, covered, previous->name);
    }
    return header;
}

Result<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
    SafetensorsFile file;
    TLLM_ASSIGN_OR_RETURN(file.file_, MappedFile::open(path));
    TLLM_ASSIGN_OR_RETURN(file.header_, parse_safetensors_header(file.file_.bytes(), path));
    for (size_t i = 0; i < file.header_.tensors.size(); ++i) {
        file.index_.emplace(file.header_.tensors[i].name, i);
    }
    return file;
}

const SafetensorsTensorInfo* SafetensorsFile::find(const std::string& name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &header_.tensors[it->second];
}

TensorView SafetensorsFile::view(const SafetensorsTensorInfo& info) const {
    TLLM_CHECK(info.begin <= info.end && header_.data_offset + info.end <= file_.size(), "{}: tensor {} out of bounds",
               path(), info.name);
    TensorView view;
    view.data = file_.data() + header_.data_offset + info.begin;
    view.dtype = info.dtype;
    view.shape = info.shape;
    return view;
}

void SafetensorsWriter::add(std::string name, DType dtype, Shape shape, FillFn fill) {
    entries_.push_back({std::move(name), dtype, std::move(shape), std::move(fill)});
}

void SafetensorsWriter::set_metadata(std::string key, std::string value) {
    metadata_[std::move(key)] = std::move(value);
}

uint64_t SafetensorsWriter::data_bytes() const {
    uint64_t total = 0;
    for (const Entry& entry : entries_) {
        total += checked_tensor_bytes(entry.shape, entry.dtype).value_or(0);
    }
    return total;
}

Status SafetensorsWriter::write(const std::string& path) const {
    // Built entry by entry rather than as one ordered_json object, whose key lookups are linear.
    std::string header = "{";
    std::set<std::string_view> names;
    std::vector<uint64_t> sizes;
    std::vector<const FillFn*> fills;
    uint64_t offset = 0;
    try {
        if (!metadata_.empty()) {
            header += nlohmann::json(kMetadataKey).dump() + ":" + nlohmann::json(metadata_).dump();
        }
        for (const Entry& entry : entries_) {
            std::optional<uint64_t> size = checked_tensor_bytes(entry.shape, entry.dtype);
            if (!size || offset > std::numeric_limits<uint64_t>::max() - *size) {
                return make_error(ErrorCode::kInvalidArgument, "{}: tensor \"{}\": invalid shape {}", path, entry.name,
                                  shape_to_string(entry.shape));
            }
            if (entry.name == kMetadataKey || !names.insert(entry.name).second) {
                return make_error(ErrorCode::kInvalidArgument, "{}: tensor \"{}\": name is reserved or added twice",
                                  path, entry.name);
            }
            if (!entry.fill && *size > 0) {
                return make_error(ErrorCode::kInvalidArgument, "{}: tensor \"{}\": no fill function", path, entry.name);
            }
            nlohmann::ordered_json info = {{"dtype", std::string(dtype_name(entry.dtype))},
                                           {"shape", entry.shape},
                                           {"data_offsets", nlohmann::json::array({offset, offset + *size})}};
            header += (header.size() > 1 ? "," : "") + nlohmann::json(entry.name).dump() + ":" + info.dump();
            offset += *size;
            sizes.push_back(*size);
            fills.push_back(&entry.fill);
        }
    } catch (const nlohmann::json::exception& error) {
        return make_error(ErrorCode::kInvalidArgument, "{}: tensor names and metadata must be UTF-8: {}", path,
                          error.what());
    }
    header += "}";
    // Padding keeps the data section 8-byte aligned, as the reference writer does.
    header.append((8 - header.size() % 8) % 8, ' ');

    const std::string temporary = path + ".tmp";
    Status status;
    {
        FileDescriptor fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        if (fd.get() < 0) {
            return make_error(ErrorCode::kIoError, "{}: cannot create: {}", temporary, std::strerror(errno));
        }
        status = write_tensors(fd.get(), temporary, header, sizes, fills);
    }
    if (status.ok() && ::rename(temporary.c_str(), path.c_str()) != 0) {
        status = make_error(ErrorCode::kIoError, "{}: cannot rename into place: {}", path, std::strerror(errno));
    }
    if (!status.ok()) {
        ::unlink(temporary.c_str());
    }
    return status;
}

Result<SafetensorsCheckpoint> SafetensorsCheckpoint::open_directory(const std::string& directory) {
    std::error_code ec;
    if (!fs::is_directory(directory, ec)) {
        return make_error(ErrorCode::kNotFound, "{}: not a directory", directory);
    }
    SafetensorsCheckpoint checkpoint;
    const std::string index_path = (fs::path(directory) / kIndexFileName).string();
    if (fs::exists(index_path, ec)) {
        TLLM_ASSIGN_OR_RETURN(std::string text, read_text_file(index_path));
        TLLM_ASSIGN_OR_RETURN(ParsedJson parsed, parse_json(text, index_path, "index"));
        if (parsed.duplicate) {
            const DuplicateKey& dup = *parsed.duplicate;
            return make_error(ErrorCode::kCorruptFile, "{}: key \"{}\" appears twice{}", index_path, dup.key,
                              dup.within.empty() ? std::string() : fmt::format(" in \"{}\"", dup.within));
        }
        const nlohmann::json& index = parsed.value;
        if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
            return make_error(ErrorCode::kCorruptFile, "{}: expected an object with a \"weight_map\" object",
                              index_path);
        }
        if (index.contains("metadata") && !index["metadata"].is_object()) {
            return make_error(ErrorCode::kCorruptFile, "{}: \"metadata\" is not an object", index_path);
        }
        std::map<std::string, std::vector<std::string>> shard_tensors;
        std::map<std::string, std::string> tensor_shard;
        for (const auto& [name, shard] : index["weight_map"].items()) {
            const auto* shard_name = shard.get_ptr<const std::string*>();
            if (shard_name == nullptr || !is_plain_file_name(*shard_name)) {
                return make_error(ErrorCode::kCorruptFile,
                                  "{}: tensor \"{}\": shard must be a file name in the same directory, got {}",
                                  index_path, name, shard.dump());
            }
            shard_tensors[*shard_name].push_back(name);
            tensor_shard.emplace(name, *shard_name);
        }
        if (tensor_shard.empty()) {
            return make_error(ErrorCode::kNotFound, "{}: weight_map lists no tensors", index_path);
        }
        for (const auto& [shard_name, names] : shard_tensors) {
            const std::string shard_path = (fs::path(directory) / shard_name).string();
            Result<SafetensorsFile> shard = SafetensorsFile::open(shard_path);
            if (!shard.ok()) {
                return shard.error().with_context(fmt::format("{}: shard of tensor \"{}\"", index_path, names.front()));
            }
            const size_t file_index = checkpoint.files_.size();
            checkpoint.files_.push_back(std::make_unique<SafetensorsFile>(std::move(shard).value()));
            const SafetensorsFile& file = *checkpoint.files_.back();
            for (const std::string& name : names) {
                const SafetensorsTensorInfo* info = file.find(name);
                if (info == nullptr) {
                    return make_error(ErrorCode::kCorruptFile, "{}: index places tensor \"{}\" in {}, which lacks it",
                                      index_path, name, shard_path);
                }
                checkpoint.tensors_.emplace(name, std::make_pair(file_index, info));
            }
            for (const SafetensorsTensorInfo& info : file.header().tensors) {
                auto it = tensor_shard.find(info.name);
                if (it == tensor_shard.end() || it->second != shard_name) {
                    return make_error(ErrorCode::kCorruptFile, "{}: holds tensor \"{}\", which {} places {}",
                                      shard_path, info.name, index_path,
                                      it == tensor_shard.end() ? std::string("nowhere") : "in " + it->second);
                }
            }
        }
        return checkpoint;
    }

    std::vector<std::string> paths;
    fs::directory_iterator it(directory, ec);
    for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
        std::error_code type_ec;
        if (it->path().extension() == ".safetensors" && it->is_regular_file(type_ec)) {
            paths.push_back(it->path().string());
        }
    }
    if (ec) {
        return make_error(ErrorCode::kIoError, "{}: cannot list directory: {}", directory, ec.message());
    }
    if (paths.empty()) {
        return make_error(ErrorCode::kNotFound, "{}: no *.safetensors files and no {}", directory, kIndexFileName);
    }
    std::sort(paths.begin(), paths.end());
    for (const std::string& path : paths) {
        TLLM_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::open(path));
        const size_t file_index = checkpoint.files_.size();
        checkpoint.files_.push_back(std::make_unique<SafetensorsFile>(std::move(file)));
        for (const SafetensorsTensorInfo& info : checkpoint.files_.back()->header().tensors) {
            auto [existing, inserted] = checkpoint.tensors_.emplace(info.name, std::make_pair(file_index, &info));
            if (!inserted) {
                return make_error(ErrorCode::kCorruptFile, "{}: tensor \"{}\" is also in {}", path, info.name,
                                  checkpoint.files_[existing->second.first]->path());
            }
        }
    }
    return checkpoint;
}

const SafetensorsTensorInfo* SafetensorsCheckpoint::find(const std::string& name, const SafetensorsFile** file) const {
    auto it = tensors_.find(name);
    if (it == tensors_.end()) {
        return nullptr;
    }
    if (file != nullptr) {
        *file = files_[it->second.first].get();
    }
    return it->second.second;
}

std::vector<std::string> SafetensorsCheckpoint::tensor_names() const {
    std::vector<std::string> names;
    names.reserve(tensors_.size());
    for (const auto& [name, location] : tensors_) {
        names.push_back(name);
    }
    return names;
}

} // namespace tllm
