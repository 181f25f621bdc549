// The safetensors reader, writer and checkpoint directory loader: round trips, and every kind of
// malformed file giving a precise error instead of a crash or a silently wrong tensor.
#include "../common/temp_dir.h"
#include "model/safetensors.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace tllm {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

std::vector<uint8_t> read_bytes(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

void write_text(const std::string& path, const std::string& text) {
    write_bytes(path, std::vector<uint8_t>(text.begin(), text.end()));
}

// An 8-byte little-endian length, the header text, then `data_bytes` bytes of data.
std::vector<uint8_t> make_file(const std::string& header, size_t data_bytes, uint64_t length = UINT64_MAX) {
    if (length == UINT64_MAX) {
        length = header.size();
    }
    std::vector<uint8_t> bytes(8);
    for (int i = 0; i < 8; ++i) {
        bytes[static_cast<size_t>(i)] = static_cast<uint8_t>(length >> (8 * i));
    }
    bytes.insert(bytes.end(), header.begin(), header.end());
    bytes.resize(bytes.size() + data_bytes, 0xab);
    return bytes;
}

// A fill function producing a byte pattern unique to `seed`, so misplaced bytes are noticed.
SafetensorsWriter::FillFn pattern(uint8_t seed) {
    return [seed](uint64_t offset, std::span<uint8_t> out) {
        for (size_t i = 0; i < out.size(); ++i) {
            out[i] = static_cast<uint8_t>((offset + i) * 31 + seed);
        }
    };
}

bool has_pattern(const TensorView& view, uint8_t seed) {
    const auto* bytes = static_cast<const uint8_t*>(view.data);
    for (size_t i = 0; i < view.n_bytes(); ++i) {
        if (bytes[i] != static_cast<uint8_t>(i * 31 + seed)) {
            return false;
        }
    }
    return true;
}

template <typename T>
void expect_error(const Result<T>& result, ErrorCode code, const std::vector<std::string>& mentions) {
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code(), code) << result.error().to_string();
    for (const std::string& text : mentions) {
        EXPECT_NE(result.error().message().find(text), std::string::npos)
            << "\"" << result.error().message() << "\" does not mention \"" << text << "\"";
    }
}

TEST(Safetensors, RoundTripsDtypesShapesAndMetadata) {
    TempDir dir;
    struct Spec {
        std::string name;
        DType dtype;
        Shape shape;
    };
    // Deliberately not in name order: the writer must keep insertion order.
    const std::vector<Spec> specs = {
        {"z.weight", DType::kBF16, {3, 5}}, {"a.bias", DType::kF32, {7}},   {"empty", DType::kU8, {0}},
        {"scalar", DType::kF16, {}},        {"m.ids", DType::kI64, {2, 2}}, {"flags", DType::kBool, {3}},
        {"empty2", DType::kI8, {4, 0, 9}},  {"q", DType::kI32, {1, 1, 3}},  {"d", DType::kF64, {2}},
    };
    SafetensorsWriter writer;
    for (size_t i = 0; i < specs.size(); ++i) {
        writer.add(specs[i].name, specs[i].dtype, specs[i].shape, pattern(static_cast<uint8_t>(i)));
    }
    writer.set_metadata("format", "pt");
    writer.set_metadata("note", "ünïcode \"quoted\"");
    EXPECT_EQ(writer.data_bytes(), 30u + 28 + 0 + 2 + 32 + 3 + 0 + 12 + 16);
    const std::string path = dir / "model.safetensors";
    auto status = writer.write(path);
    ASSERT_TRUE(status.ok()) << status.error().to_string();
    EXPECT_FALSE(fs::exists(path + ".tmp"));

    auto file = SafetensorsFile::open(path);
    ASSERT_TRUE(file.ok()) << file.error().to_string();
    EXPECT_EQ(file->path(), path);
    const SafetensorsHeader& header = file->header();
    EXPECT_EQ(header.data_offset % 8, 0u);
    EXPECT_EQ(header.data_offset + writer.data_bytes(), fs::file_size(path));
    EXPECT_EQ(header.metadata, (std::map<std::string, std::string>{{"format", "pt"}, {"note", "ünïcode \"quoted\""}}));
    ASSERT_EQ(header.tensors.size(), specs.size());
    for (size_t i = 1; i < header.tensors.size(); ++i) {
        EXPECT_LE(header.tensors[i - 1].begin, header.tensors[i].begin);
    }
    for (size_t i = 0; i < specs.size(); ++i) {
        const SafetensorsTensorInfo* info = file->find(specs[i].name);
        ASSERT_NE(info, nullptr) << specs[i].name;
        EXPECT_EQ(info->dtype, specs[i].dtype);
        EXPECT_EQ(info->shape, specs[i].shape);
        TensorView view = file->view(*info);
        EXPECT_EQ(view.n_bytes(), info->end - info->begin);
        EXPECT_TRUE(has_pattern(view, static_cast<uint8_t>(i))) << specs[i].name;
    }
    EXPECT_EQ(file->find("missing"), nullptr);

    // Offsets follow insertion order, and the header text lists tensors in that order too.
    std::vector<uint8_t> bytes = read_bytes(path);
    std::string text(bytes.begin() + 8, bytes.begin() + static_cast<std::ptrdiff_t>(header.data_offset));
    size_t previous = 0;
    uint64_t expected_begin = 0;
    for (const Spec& spec : specs) {
        size_t position = text.find("\"" + spec.name + "\"");
        ASSERT_NE(position, std::string::npos);
        EXPECT_GT(position, previous) << spec.name;
        previous = position;
        EXPECT_EQ(file->find(spec.name)->begin, expected_begin) << spec.name;
        expected_begin = file->find(spec.name)->end;
    }
    EXPECT_EQ(text.find_first_not_of(' ', text.rfind('}') + 1), std::string::npos);
}

TEST(Safetensors, WritesLargeTensorsInChunksOfAtMost64MiB) {
    TempDir dir;
    constexpr uint64_t kChunk = 64ull << 20;
    std::vector<std::pair<uint64_t, size_t>> calls;
    SafetensorsWriter writer;
    writer.add("small", DType::kU8, {5}, pattern(1));
    writer.add("big", DType::kU8, {static_cast<int64_t>(kChunk + 100)},
               [&calls](uint64_t offset, std::span<uint8_t> out) {
                   calls.emplace_back(offset, out.size());
                   pattern(2)(offset, out);
               });
    const std::string path = dir / "big.safetensors";
    ASSERT_TRUE(writer.write(path).ok());
    EXPECT_EQ(calls, (std::vector<std::pair<uint64_t, size_t>>{{0, kChunk}, {kChunk, 100}}));
    auto file = SafetensorsFile::open(path);
    ASSERT_TRUE(file.ok()) << file.error().to_string();
    EXPECT_TRUE(has_pattern(file->view(*file->find("big")), 2));
    EXPECT_TRUE(has_pattern(file->view(*file->find("small")), 1));
}

TEST(Safetensors, WritesAndReadsAFileWithoutTensors) {
    TempDir dir;
    SafetensorsWriter writer;
    ASSERT_TRUE(writer.write(dir / "none.safetensors").ok());
    auto file = SafetensorsFile::open(dir / "none.safetensors");
    ASSERT_TRUE(file.ok()) << file.error().to_string();
    EXPECT_TRUE(file->header().tensors.empty());
    EXPECT_TRUE(file->header().metadata.empty());
}

TEST(Safetensors, WriterRejectsBadTensorsWithoutLeavingFiles) {
    TempDir dir;
    const std::string path = dir / "bad.safetensors";
    {
        SafetensorsWriter writer;
        writer.add("w", DType::kF32, {2}, pattern(0));
        writer.add("w", DType::kF32, {2}, pattern(0));
        expect_error(writer.write(path), ErrorCode::kInvalidArgument, {path, "\"w\""});
    }
    {
        SafetensorsWriter writer;
        writer.add("__metadata__", DType::kF32, {2}, pattern(0));
        expect_error(writer.write(path), ErrorCode::kInvalidArgument, {path, "__metadata__"});
    }
    {
        SafetensorsWriter writer;
        writer.add("neg", DType::kF32, {2, -3}, pattern(0));
        expect_error(writer.write(path), ErrorCode::kInvalidArgument, {path, "\"neg\""});
    }
    {
        SafetensorsWriter writer;
        writer.add("bad\xff", DType::kF32, {1}, pattern(0));
        expect_error(writer.write(path), ErrorCode::kInvalidArgument, {path});
    }
    EXPECT_FALSE(fs::exists(path));
    EXPECT_FALSE(fs::exists(path + ".tmp"));
    SafetensorsWriter writer;
    writer.add("w", DType::kF32, {1}, pattern(0));
    expect_error(writer.write(dir / "no-such-dir/x.safetensors"), ErrorCode::kIoError, {"no-such-dir"});
}

TEST(Safetensors, AcceptsHeaderPaddingAndEmptyData) {
    const std::string header = R"({"__metadata__": {"a": "b"}, "t": {"dtype": "F32", "shape": [1], )"
                               R"("data_offsets": [0, 4]}})";
    auto parsed = parse_safetensors_header(make_file(header + "       ", 4), "padded.safetensors");
    ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();
    EXPECT_EQ(parsed->data_offset, 8 + header.size() + 7);
    EXPECT_EQ(parsed->metadata.at("a"), "b");
    ASSERT_EQ(parsed->tensors.size(), 1u);
    EXPECT_EQ(parsed->tensors[0].end, 4u);

    auto empty = parse_safetensors_header(make_file("{}", 0), "empty.safetensors");
    ASSERT_TRUE(empty.ok()) << empty.error().to_string();
    EXPECT_TRUE(empty->tensors.empty());
}

struct BadCase {
    std::string label;
    std::vector<uint8_t> bytes;
    ErrorCode code;
    std::string tensor;  // the tensor (or key) the message must name; "" if none
    std::string message; // a fragment the message must contain
};

std::string
entry(const std::string& name, const std::string& dtype, const std::string& shape, const std::string& offsets) {
    return "\"" + name + "\": {\"dtype\": " + dtype + ", \"shape\": " + shape + ", \"data_offsets\": " + offsets + "}";
}

std::vector<BadCase> bad_cases() {
    const ErrorCode kCorrupt = ErrorCode::kCorruptFile;
    auto file = [](const std::string& body, size_t data) { return make_file("{" + body + "}", data); };
    const std::string good_w = entry("w", "\"F32\"", "[2]", "[0, 8]");
    return {
        {"too short", {1, 2, 3, 4, 5}, kCorrupt, "", "too short"},
        {"zero header length", make_file("", 4), kCorrupt, "", "header length is 0"},
        {"header past end", make_file("{}", 0, 3), kCorrupt, "", "past the end"},
        {"header over 100 MB", make_file("{}", 0, 200'000'000), kCorrupt, "", "limit"},
        {"huge header length", make_file("{}", 0, UINT64_MAX - 1), kCorrupt, "", "limit"},
        {"invalid JSON", make_file("{\"w\": ", 0), kCorrupt, "", "not valid JSON"},
        {"invalid UTF-8", make_file("{\"w\xff\": {}}", 0), kCorrupt, "", "not valid JSON"},
        {"trailing garbage", make_file("{}  x", 0), kCorrupt, "", "not valid JSON"},
        {"NUL padding", make_file(std::string("{}\0\0", 4), 0), kCorrupt, "", "not valid JSON"},
        {"NUL then junk", make_file(std::string("{}\0junk", 7), 0), kCorrupt, "", "NUL byte at offset 2"},
        {"byte order mark", make_file("\xef\xbb\xbf{}", 0), kCorrupt, "", "start with"},
        {"not an object", make_file("[1, 2]", 0), kCorrupt, "", "not an object"},
        {"leading whitespace", make_file(" {}", 0), kCorrupt, "", "start with"},
        {"entry not an object", file("\"w\": [1]", 0), kCorrupt, "\"w\"", "not an object"},
        {"missing dtype", file("\"w\": {\"shape\": [1], \"data_offsets\": [0, 4]}", 4), kCorrupt, "\"w\"",
         "missing key \"dtype\""},
        {"missing data_offsets", file("\"w\": {\"shape\": [1], \"dtype\": \"F32\"}", 4), kCorrupt, "\"w\"",
         "missing key \"data_offsets\""},
        {"extra key", file("\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4], \"x\": 1}", 4),
         kCorrupt, "\"w\"", "unexpected key \"x\""},
        {"unknown dtype", file(entry("w", "\"F8_E4M3\"", "[2]", "[0, 2]"), 2), ErrorCode::kUnsupported, "\"w\"",
         "F8_E4M3"},
        {"dtype not a string", file(entry("w", "4", "[2]", "[0, 8]"), 8), kCorrupt, "\"w\"", "not a string"},
        {"shape not an array", file(entry("w", "\"F32\"", "2", "[0, 8]"), 8), kCorrupt, "\"w\"", "not an array"},
        {"negative dimension", file(entry("w", "\"F32\"", "[-2]", "[0, 8]"), 8), kCorrupt, "\"w\"", "non-negative"},
        {"fractional dimension", file(entry("w", "\"F32\"", "[2.0]", "[0, 8]"), 8), kCorrupt, "\"w\"", "non-negative"},
        {"string dimension", file(entry("w", "\"F32\"", "[\"2\"]", "[0, 8]"), 8), kCorrupt, "\"w\"", "non-negative"},
        {"dimension over int64", file(entry("w", "\"U8\"", "[9223372036854775808]", "[0, 8]"), 8), kCorrupt, "\"w\"",
         "non-negative"},
        {"numel overflow", file(entry("w", "\"U8\"", "[4294967296, 4294967296]", "[0, 0]"), 0), kCorrupt, "\"w\"",
         "overflows"},
        {"numel overflow before a zero", file(entry("w", "\"U8\"", "[9223372036854775807, 2, 0]", "[0, 0]"), 0),
         kCorrupt, "\"w\"", "overflows"},
        {"bytes overflow", file(entry("w", "\"F64\"", "[4611686018427387904]", "[0, 0]"), 0), kCorrupt, "\"w\"",
         "overflows"},
        {"offsets not an array", file(entry("w", "\"F32\"", "[2]", "8"), 8), kCorrupt, "\"w\"", "data_offsets"},
        {"one offset", file(entry("w", "\"F32\"", "[2]", "[8]"), 8), kCorrupt, "\"w\"", "data_offsets"},
        {"three offsets", file(entry("w", "\"F32\"", "[2]", "[0, 8, 8]"), 8), kCorrupt, "\"w\"", "data_offsets"},
        {"negative offset", file(entry("w", "\"F32\"", "[2]", "[-8, 0]"), 8), kCorrupt, "\"w\"", "data_offsets"},
        {"string offset", file(entry("w", "\"F32\"", "[2]", "[\"0\", 8]"), 8), kCorrupt, "\"w\"", "data_offsets"},
        {"begin after end", file(entry("w", "\"F32\"", "[2]", "[8, 0]"), 8), kCorrupt, "\"w\"", "begin is after end"},
        {"end past data", file(entry("w", "\"F32\"", "[2]", "[0, 8]"), 4), kCorrupt, "\"w\"", "past the end"},
        {"huge end", file(entry("w", "\"F32\"", "[2]", "[0, 18446744073709551615]"), 8), kCorrupt, "\"w\"",
         "past the end"},
        {"size mismatch", file(entry("w", "\"F32\"", "[2]", "[0, 4]"), 4), kCorrupt, "\"w\"", "needs 8 bytes"},
        {"overlap", file(good_w + ", " + entry("v", "\"F32\"", "[2]", "[4, 12]"), 12), kCorrupt, "\"v\"",
         "overlaps tensor \"w\""},
        {"same range twice", file(good_w + ", " + entry("v", "\"U8\"", "[8]", "[0, 8]"), 8), kCorrupt, "\"w\"",
         "overlaps tensor \"v\""},
        {"gap", file(good_w + ", " + entry("v", "\"F32\"", "[1]", "[12, 16]"), 16), kCorrupt, "\"v\"", "unused"},
        {"gap before first", file(entry("w", "\"F32\"", "[1]", "[4, 8]"), 8), kCorrupt, "\"w\"", "unused"},
        {"trailing data", file(good_w, 12), kCorrupt, "\"w\"", "cover only 8"},
        {"data without tensors", make_file("{}", 3), kCorrupt, "", "no tensors"},
        {"duplicate tensor", file(good_w + ", " + good_w, 8), kCorrupt, "\"w\"", "appears twice"},
        {"duplicate key in entry",
         file("\"w\": {\"dtype\": \"F32\", \"dtype\": \"U8\", \"shape\": [8], \"data_offsets\": [0, 8]}", 8), kCorrupt,
         "\"w\"", "key \"dtype\" appears twice"},
        {"metadata not an object", file("\"__metadata__\": [\"a\"]", 0), kCorrupt, "__metadata__", "not an object"},
        {"metadata value not a string", file("\"__metadata__\": {\"k\": 1}", 0), kCorrupt, "\"k\"", "not a string"},
        {"metadata nested", file("\"__metadata__\": {\"k\": {}}", 0), kCorrupt, "\"k\"", "not a string"},
        {"metadata twice", file("\"__metadata__\": {}, \"__metadata__\": {}", 0), kCorrupt, "__metadata__",
         "appears twice"},
        {"metadata key twice", file("\"__metadata__\": {\"k\": \"a\", \"k\": \"b\"}", 0), kCorrupt, "\"k\"",
         "appears twice"},
        {"duplicate key nested in shape",
         file("\"w\": {\"dtype\": \"U8\", \"shape\": [{\"a\": 1, \"a\": 2}], \"data_offsets\": [0, 0]}", 0), kCorrupt,
         "\"w\"", "key \"a\" appears twice"},
    };
}

TEST(Safetensors, RejectsEveryKindOfMalformedHeader) {
    TempDir dir;
    for (const BadCase& bad : bad_cases()) {
        SCOPED_TRACE(bad.label);
        const std::string path = dir / "bad.safetensors";
        std::vector<std::string> mentions = {path, bad.message};
        if (!bad.tensor.empty()) {
            mentions.push_back(bad.tensor);
        }
        expect_error(parse_safetensors_header(bad.bytes, path), bad.code, mentions);
        write_bytes(path, bad.bytes);
        expect_error(SafetensorsFile::open(path), bad.code, mentions);
    }
}

TEST(Safetensors, EveryTruncationIsAnErrorNeverACrash) {
    TempDir dir;
    SafetensorsWriter writer;
    writer.add("a", DType::kBF16, {3, 4}, pattern(1));
    writer.add("empty", DType::kF32, {0, 3}, pattern(2));
    writer.add("b", DType::kU8, {5}, pattern(3));
    writer.set_metadata("format", "pt");
    const std::string path = dir / "full.safetensors";
    ASSERT_TRUE(writer.write(path).ok());
    const std::vector<uint8_t> bytes = read_bytes(path);
    ASSERT_TRUE(SafetensorsFile::open(path).ok());
    const std::string cut = dir / "cut.safetensors";
    for (size_t length = 0; length < bytes.size(); ++length) {
        SCOPED_TRACE(length);
        std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(length));
        auto parsed = parse_safetensors_header(prefix, cut);
        ASSERT_FALSE(parsed.ok());
        EXPECT_EQ(parsed.error().code(), ErrorCode::kCorruptFile) << parsed.error().to_string();
        write_bytes(cut, prefix);
        auto opened = SafetensorsFile::open(cut);
        ASSERT_FALSE(opened.ok());
        EXPECT_NE(opened.error().message().find(cut), std::string::npos);
    }
}

TEST(Safetensors, MissingFileIsNotFound) {
    TempDir dir;
    expect_error(SafetensorsFile::open(dir / "absent.safetensors"), ErrorCode::kNotFound, {"absent.safetensors"});
}

// Writes one shard holding `names` (each a 2-element F32 tensor).
void write_shard(const std::string& path, const std::vector<std::string>& names) {
    SafetensorsWriter writer;
    for (size_t i = 0; i < names.size(); ++i) {
        writer.add(names[i], DType::kF32, {2}, pattern(static_cast<uint8_t>(names[i].size() + i)));
    }
    auto status = writer.write(path);
    ASSERT_TRUE(status.ok()) << status.error().to_string();
}

std::string index_json(const std::vector<std::pair<std::string, std::string>>& weight_map) {
    std::string text = "{\"metadata\": {\"total_size\": 0}, \"weight_map\": {";
    for (size_t i = 0; i < weight_map.size(); ++i) {
        text += (i ? ", \"" : "\"") + weight_map[i].first + "\": \"" + weight_map[i].second + "\"";
    }
    return text + "}}";
}

TEST(SafetensorsCheckpoint, OpensEveryFileOfAnUnindexedDirectory) {
    TempDir dir;
    write_shard(dir / "b.safetensors", {"x", "y"});
    write_shard(dir / "a.safetensors", {"z"});
    write_text(dir / "config.json", "{}");
    auto checkpoint = SafetensorsCheckpoint::open_directory(dir.path());
    ASSERT_TRUE(checkpoint.ok()) << checkpoint.error().to_string();
    EXPECT_EQ(checkpoint->tensor_names(), (std::vector<std::string>{"x", "y", "z"}));
    ASSERT_EQ(checkpoint->files().size(), 2u);
    EXPECT_EQ(checkpoint->files()[0]->path(), dir / "a.safetensors");
    const SafetensorsFile* file = nullptr;
    const SafetensorsTensorInfo* info = checkpoint->find("y", &file);
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(file->path(), dir / "b.safetensors");
    EXPECT_EQ(info->name, "y");
    EXPECT_EQ(checkpoint->find("nope"), nullptr);
    // Moving the checkpoint must keep its pointers valid.
    SafetensorsCheckpoint moved = std::move(checkpoint).value();
    EXPECT_EQ(moved.find("x")->name, "x");
}

TEST(SafetensorsCheckpoint, RejectsATensorInTwoFiles) {
    TempDir dir;
    write_shard(dir / "a.safetensors", {"x", "shared"});
    write_shard(dir / "b.safetensors", {"shared"});
    expect_error(SafetensorsCheckpoint::open_directory(dir.path()), ErrorCode::kCorruptFile,
                 {"\"shared\"", dir / "a.safetensors", dir / "b.safetensors"});
}

TEST(SafetensorsCheckpoint, DirectoriesWithoutSafetensorsAreNotFound) {
    TempDir dir;
    expect_error(SafetensorsCheckpoint::open_directory(dir.path()), ErrorCode::kNotFound, {dir.path()});
    write_text(dir / "config.json", "{}");
    fs::create_directory(dir / "sub.safetensors");
    expect_error(SafetensorsCheckpoint::open_directory(dir.path()), ErrorCode::kNotFound, {dir.path()});
    expect_error(SafetensorsCheckpoint::open_directory(dir / "absent"), ErrorCode::kNotFound, {"absent"});
}

TEST(SafetensorsCheckpoint, PropagatesACorruptFile) {
    TempDir dir;
    write_shard(dir / "a.safetensors", {"x"});
    write_bytes(dir / "b.safetensors", make_file("{\"w\": 1}", 0));
    expect_error(SafetensorsCheckpoint::open_directory(dir.path()), ErrorCode::kCorruptFile,
                 {dir / "b.safetensors", "\"w\""});
}

TEST(SafetensorsCheckpoint, FollowsTheIndexOfAShardedCheckpoint) {
    TempDir dir;
    write_shard(dir / "model-00001-of-00002.safetensors", {"a", "b"});
    write_shard(dir / "model-00002-of-00002.safetensors", {"c"});
    write_shard(dir / "stray.safetensors", {"a"}); // not in the index, so never opened
    write_text(dir / "model.safetensors.index.json", index_json({{"a", "model-00001-of-00002.safetensors"},
                                                                 {"c", "model-00002-of-00002.safetensors"},
                                                                 {"b", "model-00001-of-00002.safetensors"}}));
    auto checkpoint = SafetensorsCheckpoint::open_directory(dir.path());
    ASSERT_TRUE(checkpoint.ok()) << checkpoint.error().to_string();
    EXPECT_EQ(checkpoint->files().size(), 2u);
    EXPECT_EQ(checkpoint->tensor_names(), (std::vector<std::string>{"a", "b", "c"}));
    const SafetensorsFile* file = nullptr;
    ASSERT_NE(checkpoint->find("c", &file), nullptr);
    EXPECT_EQ(file->path(), dir / "model-00002-of-00002.safetensors");
    EXPECT_TRUE(has_pattern(file->view(*checkpoint->find("c")), 1));
}

TEST(SafetensorsCheckpoint, RejectsAnIndexThatDisagreesWithItsShards) {
    TempDir dir;
    const std::string one = "one.safetensors";
    const std::string two = "two.safetensors";
    write_shard(dir / one, {"a", "b"});
    write_shard(dir / two, {"c"});
    const std::string index = dir / "model.safetensors.index.json";
    struct Case {
        std::string label;
        std::string text;
        ErrorCode code;
        std::vector<std::string> mentions;
    };
    const std::vector<Case> cases = {
        {"tensor missing from its shard",
         index_json({{"a", one}, {"b", one}, {"c", one}}),
         ErrorCode::kCorruptFile,
         {index, "\"c\"", dir / one}},
        {"shard holds an unlisted tensor",
         index_json({{"a", one}, {"c", two}}),
         ErrorCode::kCorruptFile,
         {index, "\"b\"", dir / one}},
        {"missing shard",
         index_json({{"a", one}, {"b", one}, {"c", "three.safetensors"}}),
         ErrorCode::kNotFound,
         {index, "\"c\"", "three.safetensors"}},
        {"shard outside the directory",
         index_json({{"a", "../one.safetensors"}}),
         ErrorCode::kCorruptFile,
         {index, "\"a\""}},
        {"shard not a string", "{\"weight_map\": {\"a\": 1}}", ErrorCode::kCorruptFile, {index, "\"a\""}},
        {"duplicate tensor",
         index_json({{"a", one}, {"b", one}, {"c", two}, {"a", two}}),
         ErrorCode::kCorruptFile,
         {index, "\"a\"", "appears twice"}},
        {"no weight_map", "{\"metadata\": {}}", ErrorCode::kCorruptFile, {index, "weight_map"}},
        {"metadata not an object",
         "{\"metadata\": 1, \"weight_map\": {}}",
         ErrorCode::kCorruptFile,
         {index, "metadata"}},
        {"empty weight_map", "{\"weight_map\": {}}", ErrorCode::kNotFound, {index}},
        {"invalid JSON", "{\"weight_map\": {", ErrorCode::kCorruptFile, {index, "not valid JSON"}},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.label);
        write_text(index, c.text);
        expect_error(SafetensorsCheckpoint::open_directory(dir.path()), c.code, c.mentions);
    }
}

} // namespace
} // namespace tllm
