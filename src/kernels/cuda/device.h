// Device-side objects: a device's primary context, memory, streams, events and CUDA graphs, each an RAII
// owner of its driver handle. Objects are used from a thread on which their context is current
// (CudaContext::create makes it current on the creating thread; make_current() on others).
#pragma once

#include "core/check.h"
#include "core/result.h"
#include "kernels/cuda/driver.h"

#include <cstddef>
#include <memory>
#include <string>
#include <utility>

namespace tllm::cuda {

struct DeviceInfo {
    int ordinal = 0;
    std::string name;
    int cc_major = 0;
    int cc_minor = 0;
    int sm_count = 0;
    size_t total_memory = 0;
    int l2_bytes = 0;
    int max_shared_per_block_optin = 0;
    int driver_version = 0; // e.g. 13000 for CUDA 13.0
    int arch() const { return cc_major * 10 + cc_minor; }
};

// The number of CUDA devices; 0 (not an error) when there is no usable driver: libcuda.so.1 missing, a stub
// library, or cuInit reporting no device.
Result<int> cuda_device_count();

// Retains the primary context of one device and makes it current. Not copyable or movable: objects keep
// pointers to it.
class CudaContext {
  public:
    static Result<std::unique_ptr<CudaContext>> create(int ordinal = 0);
    ~CudaContext();
    CudaContext(const CudaContext&) = delete;
    CudaContext& operator=(const CudaContext&) = delete;

    const Driver& driver() const { return *driver_; }
    const DeviceInfo& info() const { return info_; }
    CUcontext get() const { return context_; }
    Status make_current() const;
    Result<std::pair<size_t, size_t>> memory_info() const; // free, total bytes

  private:
    CudaContext(const Driver& driver, CUdevice device, CUcontext context)
        : driver_(&driver), device_(device), context_(context) {}
    const Driver* driver_;
    CUdevice device_;
    CUcontext context_;
    DeviceInfo info_;
};

// Device memory (cuMemAlloc). Move-only; allocate() of 0 bytes gives an empty buffer (ptr() == 0).
class DeviceBuffer {
  public:
    static Result<DeviceBuffer> allocate(const CudaContext& context, size_t bytes);
    DeviceBuffer() = default;
    ~DeviceBuffer();
    DeviceBuffer(DeviceBuffer&& other) noexcept;
    DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;

    CUdeviceptr ptr() const { return ptr_; }
    size_t bytes() const { return bytes_; }
    // The device address as a typed pointer, for kernel arguments; never dereference it on the host.
    template <typename T> T* as() const { return reinterpret_cast<T*>(static_cast<uintptr_t>(ptr_)); }

    // Synchronous copies of `bytes` at `offset`; a range past the end is a bug (checked).
    Status upload(const void* host, size_t bytes, size_t offset = 0);
    Status download(void* host, size_t bytes, size_t offset = 0) const;

  private:
    void release();
    const Driver* driver_ = nullptr;
    CUdeviceptr ptr_ = 0;
    size_t bytes_ = 0;
};

// Page-locked host memory (cuMemAllocHost), for asynchronous copies. Move-only.
class PinnedBuffer {
  public:
    static Result<PinnedBuffer> allocate(const CudaContext& context, size_t bytes);
    PinnedBuffer() = default;
    ~PinnedBuffer();
    PinnedBuffer(PinnedBuffer&& other) noexcept;
    PinnedBuffer& operator=(PinnedBuffer&& other) noexcept;
    PinnedBuffer(const PinnedBuffer&) = delete;
    PinnedBuffer& operator=(const PinnedBuffer&) = delete;

    void* data() const { return data_; }
    size_t bytes() const { return bytes_; }
    template <typename T> T* as() const { return static_cast<T*>(data_); }

  private:
    void release();
    const Driver* driver_ = nullptr;
    void* data_ = nullptr;
    size_t bytes_ = 0;
};

// A non-blocking stream (no implicit synchronisation with the legacy default stream). Move-only.
class Stream {
  public:
    static Result<Stream> create(const CudaContext& context);
    Stream() = default;
    ~Stream();
    Stream(Stream&& other) noexcept;
    Stream& operator=(Stream&& other) noexcept;
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;

    CUstream get() const { return stream_; }
    const Driver& driver() const {
        TLLM_CHECK(driver_ != nullptr, "use of an empty Stream");
        return *driver_;
    }
    Status synchronize() const;

  private:
    void release();
    const Driver* driver_ = nullptr;
    CUstream stream_ = nullptr;
};

// A timing event. Move-only.
class Event {
  public:
    static Result<Event> create(const CudaContext& context);
    Event() = default;
    ~Event();
    Event(Event&& other) noexcept;
    Event& operator=(Event&& other) noexcept;
    Event(const Event&) = delete;
    Event& operator=(const Event&) = delete;

    CUevent get() const { return event_; }
    Status record(const Stream& stream);
    Status synchronize();
    // Milliseconds from `start` to this event; both must have completed.
    Result<float> elapsed_ms_since(const Event& start) const;

  private:
    void release();
    const Driver* driver_ = nullptr;
    CUevent event_ = nullptr;
};

// A graph captured from a stream and instantiated, ready to replay. Move-only.
class Graph {
  public:
    // Starts capture in CU_STREAM_CAPTURE_MODE_THREAD_LOCAL: only this thread's unsafe calls are refused.
    static Status begin_capture(const Stream& stream);
    static Result<Graph> end_capture(const Stream& stream);
    Graph() = default;
    ~Graph();
    Graph(Graph&& other) noexcept;
    Graph& operator=(Graph&& other) noexcept;
    Graph(const Graph&) = delete;
    Graph& operator=(const Graph&) = delete;

    Status launch(const Stream& stream) const;

  private:
    void release();
    const Driver* driver_ = nullptr;
    CUgraph graph_ = nullptr;
    CUgraphExec exec_ = nullptr;
};

} // namespace tllm::cuda
