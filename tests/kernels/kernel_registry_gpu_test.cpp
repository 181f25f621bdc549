// The kernel registry on a real GPU: both backends load every module, the fill kernels match their host
// reference bit for bit, and the device objects (buffers, streams, events, graphs) work. Skips without a GPU.
#include "../common/temp_dir.h"
#include "core/environment.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/embedded_kernels.h"
#include "kernels/cuda/fill_random_reference.h"
#include "kernels/cuda/kernel_registry.h"

#include <algorithm>
#include <gtest/gtest.h>
#include <memory>
#include <vector>

namespace tllm::cuda {
namespace {

class GpuTest : public ::testing::Test {
  protected:
    void SetUp() override {
        auto count = cuda_device_count();
        ASSERT_TRUE(count.ok()) << count.error().to_string();
        if (*count == 0) {
            GTEST_SKIP() << "no CUDA device";
        }
        auto context = CudaContext::create(0);
        ASSERT_TRUE(context.ok()) << context.error().to_string();
        context_ = std::move(context).value();
    }

    std::unique_ptr<KernelRegistry> registry(JitBackend backend, const std::string& cache_dir = "") {
        JitOptions options;
        options.backend = backend;
        options.cache_dir = cache_dir;
        options.cuda_home = Environment::from_process().cuda_home;
        auto created = KernelRegistry::create(*context_, options);
        EXPECT_TRUE(created.ok()) << created.error().to_string();
        return created.ok() ? std::move(created).value() : nullptr;
    }

    Dim3 grid_for(uint64_t n) const {
        const uint64_t blocks = std::min<uint64_t>((n + 255) / 256, uint64_t(context_->info().sm_count) * 8);
        return {static_cast<unsigned>(std::max<uint64_t>(blocks, 1))};
    }

    // Runs both fill kernels from `registry` and compares them with the host reference.
    void check_fill(KernelRegistry& registry) {
        auto bf16_fill = registry.function("u8_bf16_fill_random", "bf16_fill_uniform");
        auto u8_fill = registry.function("u8_bf16_fill_random", "u8_fill_uniform");
        ASSERT_TRUE(bf16_fill.ok()) << bf16_fill.error().to_string();
        ASSERT_TRUE(u8_fill.ok()) << u8_fill.error().to_string();
        auto stream = Stream::create(*context_);
        ASSERT_TRUE(stream.ok()) << stream.error().to_string();
        const Driver& driver = context_->driver();
        for (uint64_t n : {uint64_t(1), uint64_t(31), uint64_t(1000003)}) {
            const uint64_t seed = 0x1234 + n;
            auto buffer = DeviceBuffer::allocate(*context_, n * 2);
            ASSERT_TRUE(buffer.ok()) << buffer.error().to_string();
            Status launched = launch(driver, *bf16_fill, grid_for(n), {256}, 0, stream->get(), buffer->as<uint16_t>(),
                                     n, seed, -0.5f, 2.0f);
            ASSERT_TRUE(launched.ok()) << launched.error().to_string();
            ASSERT_TRUE(stream->synchronize().ok());
            std::vector<uint16_t> bf16(n);
            ASSERT_TRUE(buffer->download(bf16.data(), n * 2).ok());
            for (uint64_t i = 0; i < n; ++i) {
                ASSERT_EQ(bf16[i], bf16_fill_uniform_at(seed, i, -0.5f, 2.0f)) << "n=" << n << " i=" << i;
            }

            launched = launch(driver, *u8_fill, grid_for(n), {256}, 0, stream->get(), buffer->as<uint8_t>(), n, seed,
                              uint32_t(3), uint32_t(250));
            ASSERT_TRUE(launched.ok()) << launched.error().to_string();
            ASSERT_TRUE(stream->synchronize().ok());
            std::vector<uint8_t> bytes(n);
            ASSERT_TRUE(buffer->download(bytes.data(), n).ok());
            for (uint64_t i = 0; i < n; ++i) {
                ASSERT_EQ(bytes[i], u8_fill_uniform_at(seed, i, 3, 250)) << "n=" << n << " i=" << i;
            }
        }
    }

    std::unique_ptr<CudaContext> context_;
};

TEST_F(GpuTest, DeviceInfo) {
    const DeviceInfo& info = context_->info();
    EXPECT_FALSE(info.name.empty());
    EXPECT_GE(info.cc_major, 7);
    EXPECT_GT(info.sm_count, 0);
    EXPECT_GT(info.total_memory, size_t(1) << 30);
    EXPECT_GT(info.l2_bytes, 0);
    EXPECT_GE(info.driver_version, 12000);
    auto memory = context_->memory_info();
    ASSERT_TRUE(memory.ok());
    EXPECT_LE(memory->first, memory->second);
}

TEST_F(GpuTest, CubinBackendLoadsEveryModuleAndFills) {
    auto cubin = registry(JitBackend::kCubin);
    ASSERT_NE(cubin, nullptr);
    for (const EmbeddedModule& module : embedded_modules()) {
        Status loaded = cubin->preload(module.name);
        EXPECT_TRUE(loaded.ok()) << module.name << ": " << loaded.error().to_string();
    }
    check_fill(*cubin);
    auto missing = cubin->function("u8_bf16_fill_random", "no_such_kernel");
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
    EXPECT_EQ(cubin->function("no_such_module", "k").error().code(), ErrorCode::kNotFound);
}

TEST_F(GpuTest, NvrtcBackendLoadsEveryModuleAndFills) {
    testing::TempDir cache;
    auto nvrtc = registry(JitBackend::kNvrtc, cache.path());
    ASSERT_NE(nvrtc, nullptr);
    for (const EmbeddedModule& module : embedded_modules()) {
        Status loaded = nvrtc->preload(module.name);
        EXPECT_TRUE(loaded.ok()) << module.name << ": " << loaded.error().to_string();
    }
    check_fill(*nvrtc);
    // A second registry reads the cache.
    auto cached = registry(JitBackend::kNvrtc, cache.path());
    ASSERT_NE(cached, nullptr);
    check_fill(*cached);
}

TEST_F(GpuTest, TritonBackendIsUnsupported) {
    JitOptions options;
    options.backend = JitBackend::kTriton;
    auto triton = KernelRegistry::create(*context_, options);
    ASSERT_FALSE(triton.ok());
    EXPECT_EQ(triton.error().code(), ErrorCode::kUnsupported);
    EXPECT_NE(triton.error().message().find("use cubin or nvrtc"), std::string::npos);
}

TEST_F(GpuTest, BuffersCopyAndReportOutOfMemory) {
    auto empty = DeviceBuffer::allocate(*context_, 0);
    ASSERT_TRUE(empty.ok());
    EXPECT_EQ(empty->ptr(), 0u);
    std::vector<uint32_t> values(1000);
    for (size_t i = 0; i < values.size(); ++i) {
        values[i] = static_cast<uint32_t>(i * 2654435761u);
    }
    auto buffer = DeviceBuffer::allocate(*context_, values.size() * 4);
    ASSERT_TRUE(buffer.ok());
    ASSERT_TRUE(buffer->upload(values.data(), values.size() * 4).ok());
    std::vector<uint32_t> back(10);
    ASSERT_TRUE(buffer->download(back.data(), 40, 400).ok());
    EXPECT_TRUE(std::equal(back.begin(), back.end(), values.begin() + 100));
    DeviceBuffer moved = std::move(*buffer);
    EXPECT_EQ(buffer->ptr(), 0u);
    EXPECT_NE(moved.ptr(), 0u);

    auto pinned = PinnedBuffer::allocate(*context_, 4096);
    ASSERT_TRUE(pinned.ok());
    EXPECT_NE(pinned->data(), nullptr);

    auto huge = DeviceBuffer::allocate(*context_, size_t(1) << 50);
    ASSERT_FALSE(huge.ok());
    EXPECT_EQ(huge.error().code(), ErrorCode::kOutOfMemory);
    EXPECT_NE(huge.error().message().find("free"), std::string::npos) << huge.error().message();
}

TEST_F(GpuTest, GraphReplaysACapturedLaunchAndEventsTime) {
    auto cubin = registry(JitBackend::kCubin);
    ASSERT_NE(cubin, nullptr);
    auto fill = cubin->function("u8_bf16_fill_random", "u8_fill_uniform");
    ASSERT_TRUE(fill.ok()) << fill.error().to_string();
    auto stream = Stream::create(*context_);
    auto start = Event::create(*context_);
    auto stop = Event::create(*context_);
    ASSERT_TRUE(stream.ok() && start.ok() && stop.ok());
    const uint64_t n = 4096;
    auto buffer = DeviceBuffer::allocate(*context_, n);
    ASSERT_TRUE(buffer.ok());

    ASSERT_TRUE(Graph::begin_capture(*stream).ok());
    Status launched = launch(context_->driver(), *fill, grid_for(n), {256}, 0, stream->get(), buffer->as<uint8_t>(), n,
                             uint64_t(99), uint32_t(0), uint32_t(255));
    ASSERT_TRUE(launched.ok()) << launched.error().to_string();
    auto graph = Graph::end_capture(*stream);
    ASSERT_TRUE(graph.ok()) << graph.error().to_string();

    ASSERT_TRUE(start->record(*stream).ok());
    ASSERT_TRUE(graph->launch(*stream).ok());
    ASSERT_TRUE(stop->record(*stream).ok());
    ASSERT_TRUE(stop->synchronize().ok());
    auto ms = stop->elapsed_ms_since(*start);
    ASSERT_TRUE(ms.ok()) << ms.error().to_string();
    EXPECT_GE(*ms, 0.0f);
    std::vector<uint8_t> bytes(n);
    ASSERT_TRUE(buffer->download(bytes.data(), n).ok());
    for (uint64_t i = 0; i < n; ++i) {
        ASSERT_EQ(bytes[i], u8_fill_uniform_at(99, i, 0, 255)) << i;
    }
}

} // namespace
} // namespace tllm::cuda
