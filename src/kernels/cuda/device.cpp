#include "kernels/cuda/device.h"

#include "core/log.h"

#include <array>

namespace tllm::cuda {

Result<int> cuda_device_count() {
    auto driver = Driver::load();
    if (!driver.ok()) {
        TLLM_LOG_DEBUG("no CUDA devices: {}", driver.error().message());
        return 0;
    }
    const Driver& d = **driver;
    CUresult result = d.cuInit(0);
    // A stub libcuda (toolkit without a driver) and a driver without a card both mean: no GPU here.
    if (result == CUDA_ERROR_NO_DEVICE || result == CUDA_ERROR_STUB_LIBRARY) {
        TLLM_LOG_DEBUG("no CUDA devices: cuInit: {}", d.error_text(result));
        return 0;
    }
    TLLM_RETURN_IF_ERROR(cu_status(d, result, "cuInit(0)"));
    int count = 0;
    TLLM_CU_RETURN(d, cuDeviceGetCount(&count));
    return count;
}

Result<std::unique_ptr<CudaContext>> CudaContext::create(int ordinal) {
    TLLM_ASSIGN_OR_RETURN(const Driver* driver, Driver::load());
    const Driver& d = *driver;
    TLLM_CU_RETURN(d, cuInit(0));
    int count = 0;
    TLLM_CU_RETURN(d, cuDeviceGetCount(&count));
    if (ordinal < 0 || ordinal >= count) {
        return make_error(ErrorCode::kInvalidArgument, "CUDA device {} does not exist: this machine has {}", ordinal,
                          count);
    }
    CUdevice device = 0;
    TLLM_CU_RETURN(d, cuDeviceGet(&device, ordinal));
    CUcontext primary = nullptr;
    TLLM_CU_RETURN(d, cuDevicePrimaryCtxRetain(&primary, device));
    // Owned from here, so every later failure releases the retain.
    std::unique_ptr<CudaContext> context(new CudaContext(d, device, primary));
    TLLM_RETURN_IF_ERROR(context->make_current());

    DeviceInfo& info = context->info_;
    info.ordinal = ordinal;
    std::array<char, 256> name{};
    TLLM_CU_RETURN(d, cuDeviceGetName(name.data(), static_cast<int>(name.size()) - 1, device));
    info.name = name.data();
    auto attribute = [&](CUdevice_attribute which, int& out) {
        return cu_status(d, d.cuDeviceGetAttribute(&out, which, device), "cuDeviceGetAttribute");
    };
    TLLM_RETURN_IF_ERROR(attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, info.cc_major));
    TLLM_RETURN_IF_ERROR(attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, info.cc_minor));
    TLLM_RETURN_IF_ERROR(attribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, info.sm_count));
    TLLM_RETURN_IF_ERROR(attribute(CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, info.l2_bytes));
    TLLM_RETURN_IF_ERROR(
        attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, info.max_shared_per_block_optin));
    TLLM_CU_RETURN(d, cuDeviceTotalMem(&info.total_memory, device));
    TLLM_CU_RETURN(d, cuDriverGetVersion(&info.driver_version));
    return context;
}

CudaContext::~CudaContext() { TLLM_CU_LOG(*driver_, cuDevicePrimaryCtxRelease(device_)); }

Status CudaContext::make_current() const {
    TLLM_CU_RETURN(*driver_, cuCtxSetCurrent(context_));
    return {};
}

Result<std::pair<size_t, size_t>> CudaContext::memory_info() const {
    size_t free = 0;
    size_t total = 0;
    TLLM_CU_RETURN(*driver_, cuMemGetInfo(&free, &total));
    return std::pair<size_t, size_t>(free, total);
}

// --- DeviceBuffer ---------------------------------------------------------------------------------

Result<DeviceBuffer> DeviceBuffer::allocate(const CudaContext& context, size_t bytes) {
    DeviceBuffer buffer;
    buffer.driver_ = &context.driver();
    if (bytes == 0) {
        return buffer;
    }
    CUresult result = context.driver().cuMemAlloc(&buffer.ptr_, bytes);
    if (result == CUDA_ERROR_OUT_OF_MEMORY) {
        auto memory = context.memory_info();
        return make_error(ErrorCode::kOutOfMemory, "cuMemAlloc of {} bytes ({:.2f} GiB) on {}: out of memory ({})",
                          bytes, bytes / 1073741824.0, context.info().name,
                          memory.ok() ? fmt::format("{:.2f} GiB of {:.2f} GiB free", memory->first / 1073741824.0,
                                                    memory->second / 1073741824.0)
                                      : "free memory unknown");
    }
    TLLM_RETURN_IF_ERROR(cu_status(context.driver(), result, fmt::format("cuMemAlloc({} bytes)", bytes)));
    buffer.bytes_ = bytes;
    return buffer;
}

void DeviceBuffer::release() {
    if (ptr_ != 0) {
        TLLM_CU_LOG(*driver_, cuMemFree(ptr_));
    }
    ptr_ = 0;
    bytes_ = 0;
}

DeviceBuffer::~DeviceBuffer() { release(); }

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : driver_(other.driver_), ptr_(std::exchange(other.ptr_, 0)), bytes_(std::exchange(other.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
    if (this != &other) {
        release();
        driver_ = other.driver_;
        ptr_ = std::exchange(other.ptr_, 0);
        bytes_ = std::exchange(other.bytes_, 0);
    }
    return *this;
}

Status DeviceBuffer::upload(const void* host, size_t bytes, size_t offset) {
    TLLM_CHECK(offset <= bytes_ && bytes <= bytes_ - offset, "upload of {} bytes at {} into a {}-byte buffer", bytes,
               offset, bytes_);
    if (bytes == 0) {
        return {};
    }
    TLLM_CU_RETURN(*driver_, cuMemcpyHtoD(ptr_ + offset, host, bytes));
    return {};
}

Status DeviceBuffer::download(void* host, size_t bytes, size_t offset) const {
    TLLM_CHECK(offset <= bytes_ && bytes <= bytes_ - offset, "download of {} bytes at {} from a {}-byte buffer", bytes,
               offset, bytes_);
    if (bytes == 0) {
        return {};
    }
    TLLM_CU_RETURN(*driver_, cuMemcpyDtoH(host, ptr_ + offset, bytes));
    return {};
}

// --- PinnedBuffer ---------------------------------------------------------------------------------

Result<PinnedBuffer> PinnedBuffer::allocate(const CudaContext& context, size_t bytes) {
    PinnedBuffer buffer;
    buffer.driver_ = &context.driver();
    if (bytes == 0) {
        return buffer;
    }
    CUresult result = context.driver().cuMemAllocHost(&buffer.data_, bytes);
    if (result == CUDA_ERROR_OUT_OF_MEMORY) {
        return make_error(ErrorCode::kOutOfMemory, "cuMemAllocHost of {} bytes: out of page-locked host memory", bytes);
    }
    TLLM_RETURN_IF_ERROR(cu_status(context.driver(), result, fmt::format("cuMemAllocHost({} bytes)", bytes)));
    buffer.bytes_ = bytes;
    return buffer;
}

void PinnedBuffer::release() {
    if (data_ != nullptr) {
        TLLM_CU_LOG(*driver_, cuMemFreeHost(data_));
    }
    data_ = nullptr;
    bytes_ = 0;
}

PinnedBuffer::~PinnedBuffer() { release(); }

PinnedBuffer::PinnedBuffer(PinnedBuffer&& other) noexcept
    : driver_(other.driver_), data_(std::exchange(other.data_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& other) noexcept {
    if (this != &other) {
        release();
        driver_ = other.driver_;
        data_ = std::exchange(other.data_, nullptr);
        bytes_ = std::exchange(other.bytes_, 0);
    }
    return *this;
}

// --- Stream ---------------------------------------------------------------------------------------

Result<Stream> Stream::create(const CudaContext& context) {
    Stream stream;
    stream.driver_ = &context.driver();
    TLLM_CU_RETURN(context.driver(), cuStreamCreate(&stream.stream_, CU_STREAM_NON_BLOCKING));
    return stream;
}

void Stream::release() {
    if (stream_ != nullptr) {
        TLLM_CU_LOG(*driver_, cuStreamDestroy(stream_));
    }
    stream_ = nullptr;
}

Stream::~Stream() { release(); }

Stream::Stream(Stream&& other) noexcept : driver_(other.driver_), stream_(std::exchange(other.stream_, nullptr)) {}

Stream& Stream::operator=(Stream&& other) noexcept {
    if (this != &other) {
        release();
        driver_ = other.driver_;
        stream_ = std::exchange(other.stream_, nullptr);
    }
    return *this;
}

Status Stream::synchronize() const {
    TLLM_CU_RETURN(driver(), cuStreamSynchronize(stream_));
    return {};
}

// --- Event ----------------------------------------------------------------------------------------

Result<Event> Event::create(const CudaContext& context) {
    Event event;
    event.driver_ = &context.driver();
    TLLM_CU_RETURN(context.driver(), cuEventCreate(&event.event_, CU_EVENT_DEFAULT));
    return event;
}

void Event::release() {
    if (event_ != nullptr) {
        TLLM_CU_LOG(*driver_, cuEventDestroy(event_));
    }
    event_ = nullptr;
}

Event::~Event() { release(); }

Event::Event(Event&& other) noexcept : driver_(other.driver_), event_(std::exchange(other.event_, nullptr)) {}

Event& Event::operator=(Event&& other) noexcept {
    if (this != &other) {
        release();
        driver_ = other.driver_;
        event_ = std::exchange(other.event_, nullptr);
    }
    return *this;
}

Status Event::record(const Stream& stream) {
    TLLM_CHECK(event_ != nullptr, "record of an empty Event");
    TLLM_CU_RETURN(*driver_, cuEventRecord(event_, stream.get()));
    return {};
}

Status Event::synchronize() {
    TLLM_CHECK(event_ != nullptr, "synchronize of an empty Event");
    TLLM_CU_RETURN(*driver_, cuEventSynchronize(event_));
    return {};
}

Result<float> Event::elapsed_ms_since(const Event& start) const {
    TLLM_CHECK(event_ != nullptr && start.event_ != nullptr, "elapsed time of an empty Event");
    float ms = 0.0f;
    TLLM_CU_RETURN(*driver_, cuEventElapsedTime(&ms, start.event_, event_));
    return ms;
}

// --- Graph ----------------------------------------------------------------------------------------

Status Graph::begin_capture(const Stream& stream) {
    TLLM_CU_RETURN(stream.driver(), cuStreamBeginCapture(stream.get(), CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
    return {};
}

Result<Graph> Graph::end_capture(const Stream& stream) {
    Graph graph;
    graph.driver_ = &stream.driver();
    TLLM_CU_RETURN(stream.driver(), cuStreamEndCapture(stream.get(), &graph.graph_));
    TLLM_CU_RETURN(stream.driver(), cuGraphInstantiateWithFlags(&graph.exec_, graph.graph_, 0));
    return graph;
}

void Graph::release() {
    if (exec_ != nullptr) {
        TLLM_CU_LOG(*driver_, cuGraphExecDestroy(exec_));
    }
    if (graph_ != nullptr) {
        TLLM_CU_LOG(*driver_, cuGraphDestroy(graph_));
    }
    exec_ = nullptr;
    graph_ = nullptr;
}

Graph::~Graph() { release(); }

Graph::Graph(Graph&& other) noexcept
    : driver_(other.driver_), graph_(std::exchange(other.graph_, nullptr)), exec_(std::exchange(other.exec_, nullptr)) {
}

Graph& Graph::operator=(Graph&& other) noexcept {
    if (this != &other) {
        release();
        driver_ = other.driver_;
        graph_ = std::exchange(other.graph_, nullptr);
        exec_ = std::exchange(other.exec_, nullptr);
    }
    return *this;
}

Status Graph::launch(const Stream& stream) const {
    TLLM_CHECK(exec_ != nullptr, "launch of an empty Graph");
    TLLM_CU_RETURN(*driver_, cuGraphLaunch(exec_, stream.get()));
    return {};
}

} // namespace tllm::cuda
