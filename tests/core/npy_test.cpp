#include "../common/temp_dir.h"
#include "core/npy.h"

#include <fstream>
#include <gtest/gtest.h>

namespace tllm {
namespace {

TEST(Npy, RoundTripsShapesAndValues) {
    testing::TempDir dir;
    for (const Shape& shape : {Shape{3}, Shape{2, 5}, Shape{1, 1, 7}, Shape{0, 4}}) {
        std::vector<float> values(static_cast<size_t>(shape_numel(shape)));
        for (size_t i = 0; i < values.size(); ++i) {
            values[i] = static_cast<float>(i) * 0.25f - 1.0f;
        }
        ASSERT_TRUE(write_npy_f32(dir / "a.npy", shape, values).ok());
        auto read = read_npy_f32(dir / "a.npy");
        ASSERT_TRUE(read.ok()) << read.error().to_string();
        EXPECT_EQ(read->shape, shape);
        EXPECT_EQ(read->values, values);
        // numpy requires the data to start at a multiple of 64 bytes.
        std::ifstream file(dir / "a.npy", std::ios::binary);
        unsigned char head[10];
        file.read(reinterpret_cast<char*>(head), 10);
        EXPECT_EQ((10 + (head[8] | head[9] << 8)) % 64, 0);
    }
}

TEST(Npy, RejectsTruncatedAndForeignFiles) {
    testing::TempDir dir;
    std::vector<float> values(12, 1.0f);
    ASSERT_TRUE(write_npy_f32(dir / "a.npy", {3, 4}, values).ok());
    std::ifstream in(dir / "a.npy", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(dir / "short.npy", std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size() - 4));
    auto result = read_npy_f32(dir / "short.npy");
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code(), ErrorCode::kCorruptFile);
    std::ofstream(dir / "text.npy") << "hello world, not numpy";
    EXPECT_FALSE(read_npy_f32(dir / "text.npy").ok());
    EXPECT_EQ(read_npy_f32(dir / "missing.npy").error().code(), ErrorCode::kNotFound);
    // A header whose shape is not numbers.
    std::string bad = bytes;
    size_t open = bad.find('(');
    bad.replace(open + 1, 1, "x");
    std::ofstream(dir / "bad_shape.npy", std::ios::binary).write(bad.data(), static_cast<std::streamsize>(bad.size()));
    auto bad_shape = read_npy_f32(dir / "bad_shape.npy");
    ASSERT_FALSE(bad_shape.ok());
    EXPECT_NE(bad_shape.error().message().find("bad dimension"), std::string::npos) << bad_shape.error().message();
}

} // namespace
} // namespace tllm
