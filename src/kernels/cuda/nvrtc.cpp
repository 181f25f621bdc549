#include "kernels/cuda/nvrtc.h"

#include "core/buffer.h"
#include "core/hash.h"
#include "core/log.h"
#include "kernels/cuda/cubin.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <filesystem>

namespace tllm::cuda {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

Status nvrtc_status(const Nvrtc& nvrtc, nvrtcResult result, std::string_view what) {
    if (result == NVRTC_SUCCESS) {
        return {};
    }
    return make_error(result == NVRTC_ERROR_OUT_OF_MEMORY ? ErrorCode::kOutOfMemory : ErrorCode::kInternal,
                      "{} failed: {}", what, nvrtc.nvrtcGetErrorString(result));
}

#define TLLM_NVRTC_RETURN(nvrtc, call) TLLM_RETURN_IF_ERROR(nvrtc_status((nvrtc), (nvrtc).call, #call))

// nvrtcProgram RAII.
class Program {
  public:
    explicit Program(const Nvrtc& nvrtc) : nvrtc_(nvrtc) {}
    ~Program() {
        if (program_ != nullptr) {
            nvrtcResult result = nvrtc_.nvrtcDestroyProgram(&program_);
            if (result != NVRTC_SUCCESS) {
                TLLM_LOG_ERROR("nvrtcDestroyProgram failed: {}", nvrtc_.nvrtcGetErrorString(result));
            }
        }
    }
    Program(const Program&) = delete;
    Program& operator=(const Program&) = delete;
    nvrtcProgram* out() { return &program_; }
    nvrtcProgram get() const { return program_; }

  private:
    const Nvrtc& nvrtc_;
    nvrtcProgram program_ = nullptr;
};

// What NVRTC is asked to build: a CUBIN for the card, or, when NVRTC does not know the card, PTX for the
// newest arch it knows below it (the driver compiles that PTX for the card at load time).
struct Target {
    bool ptx = false;
    int arch = 0;
};

Result<Target> choose_target(const Nvrtc& nvrtc, int arch) {
    const std::vector<int>& archs = nvrtc.supported_archs();
    if (std::find(archs.begin(), archs.end(), arch) != archs.end()) {
        return Target{false, arch};
    }
    auto below = std::upper_bound(archs.begin(), archs.end(), arch);
    if (below == archs.begin()) {
        return make_error(ErrorCode::kUnsupported, "NVRTC {} cannot compile for sm_{} (it supports sm_{}..sm_{})",
                          nvrtc.version(), arch, archs.empty() ? 0 : archs.front(), archs.empty() ? 0 : archs.back());
    }
    return Target{true, *(below - 1)};
}

bool is_identifier(const std::string& name) {
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) {
        return false;
    }
    return std::all_of(name.begin(), name.end(),
                       [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

Result<std::vector<std::string>> compile_options(const Target& target, const JitDefines& defines) {
    std::vector<std::string> options = {
        fmt::format("--gpu-architecture={}_{}", target.ptx ? "compute" : "sm", target.arch), "-std=c++17",
        "-DTLLM_JIT=1"};
    for (const auto& [name, value] : defines) {
        if (!is_identifier(name)) {
            return make_error(ErrorCode::kInvalidArgument, "JIT define \"{}\" is not a C identifier", name);
        }
        options.push_back(fmt::format("-D{}={}", name, value));
    }
    return options;
}

// Cache files are the image followed by this trailer, so truncation or damage anywhere is detected.
constexpr char kTrailerMagic[8] = {'T', 'L', 'L', 'M', 'N', 'V', 'C', '1'};
constexpr size_t kTrailerBytes = 32; // magic, payload length, 128-bit payload hash

Hash128 payload_hash(std::span<const uint8_t> payload) { return Hasher128().add_bytes(payload).finish(); }

void put_u64(std::vector<uint8_t>& out, uint64_t value) {
    for (int i = 0; i < 8; ++i) {
        out.push_back(static_cast<uint8_t>(value >> (8 * i)));
    }
}

uint64_t get_u64(const uint8_t* in) {
    uint64_t value = 0;
    for (int i = 7; i >= 0; --i) {
        value = value << 8 | in[i];
    }
    return value;
}

std::vector<uint8_t> with_trailer(std::span<const uint8_t> payload) {
    std::vector<uint8_t> file(payload.begin(), payload.end());
    file.insert(file.end(), std::begin(kTrailerMagic), std::end(kTrailerMagic));
    put_u64(file, payload.size());
    const Hash128 hash = payload_hash(payload);
    put_u64(file, hash.high);
    put_u64(file, hash.low);
    return file;
}

// The payload of a cache file, or why the file is unusable.
Result<std::vector<uint8_t>> read_cache_file(const std::string& path, const Target& target) {
    TLLM_ASSIGN_OR_RETURN(MappedFile file, MappedFile::open(path));
    std::span<const uint8_t> bytes = file.bytes();
    if (bytes.size() < kTrailerBytes) {
        return make_error(ErrorCode::kCorruptFile, "{} bytes, shorter than its trailer", bytes.size());
    }
    const uint8_t* trailer = bytes.data() + bytes.size() - kTrailerBytes;
    std::span<const uint8_t> payload = bytes.first(bytes.size() - kTrailerBytes);
    if (std::memcmp(trailer, kTrailerMagic, sizeof(kTrailerMagic)) != 0 || get_u64(trailer + 8) != payload.size()) {
        return make_error(ErrorCode::kCorruptFile, "no valid trailer");
    }
    if (Hash128{get_u64(trailer + 16), get_u64(trailer + 24)} != payload_hash(payload)) {
        return make_error(ErrorCode::kCorruptFile, "checksum mismatch");
    }
    if (target.ptx) {
        if (payload.empty() || payload.back() != 0) {
            return make_error(ErrorCode::kCorruptFile, "PTX text is not NUL-terminated");
        }
    } else {
        TLLM_ASSIGN_OR_RETURN(int sm, cubin_sm_arch(payload));
        if (sm != target.arch) {
            return make_error(ErrorCode::kCorruptFile, "CUBIN is for sm_{}, expected sm_{}", sm, target.arch);
        }
    }
    return std::vector<uint8_t>(payload.begin(), payload.end());
}

Result<std::string> cache_path_for(const Nvrtc& nvrtc,
                                   const EmbeddedModule& module,
                                   const Target& target,
                                   int arch,
                                   const JitDefines& defines,
                                   const std::string& cache_dir) {
    TLLM_ASSIGN_OR_RETURN(std::vector<std::string> options, compile_options(target, defines));
    Hasher128 key;
    key.add(std::string_view("tritonllm nvrtc cache 1")).add(nvrtc.version()).add(module.name).add(module.source);
    for (const EmbeddedFile& header : embedded_headers()) {
        key.add(header.name).add(header.text);
    }
    key.add(static_cast<uint64_t>(options.size()));
    for (const std::string& option : options) {
        key.add(option);
    }
    key.add(static_cast<uint64_t>(target.ptx)).add(static_cast<uint64_t>(target.arch));
    return fmt::format("{}/nvrtc/{}.sm_{}.{}.{}", cache_dir, module.name, arch, key.finish().hex(),
                       target.ptx ? "ptx" : "cubin");
}

Result<NvrtcImage>
compile(const Nvrtc& nvrtc, const EmbeddedModule& module, int arch, const Target& target, const JitDefines& defines) {
    const Clock::time_point start = Clock::now();
    TLLM_ASSIGN_OR_RETURN(std::vector<std::string> options, compile_options(target, defines));
    std::vector<const char*> option_pointers;
    for (const std::string& option : options) {
        option_pointers.push_back(option.c_str());
    }
    std::vector<const char*> header_names;
    std::vector<const char*> header_texts;
    for (const EmbeddedFile& header : embedded_headers()) {
        header_names.push_back(header.name.data());
        header_texts.push_back(header.text.data());
    }
    const std::string file_name = fmt::format("{}.cu", module.name);
    Program program(nvrtc);
    TLLM_NVRTC_RETURN(nvrtc, nvrtcCreateProgram(program.out(), module.source.data(), file_name.c_str(),
                                                static_cast<int>(header_texts.size()), header_texts.data(),
                                                header_names.data()));
    const nvrtcResult compiled =
        nvrtc.nvrtcCompileProgram(program.get(), static_cast<int>(option_pointers.size()), option_pointers.data());
    size_t log_size = 0;
    std::string log;
    if (nvrtc.nvrtcGetProgramLogSize(program.get(), &log_size) == NVRTC_SUCCESS && log_size > 1) {
        log.resize(log_size);
        if (nvrtc.nvrtcGetProgramLog(program.get(), log.data()) != NVRTC_SUCCESS) {
            log.clear();
        }
        log.resize(std::strlen(log.c_str()));
    }
    if (compiled != NVRTC_SUCCESS) {
        return make_error(ErrorCode::kInternal, "NVRTC {} could not compile kernel module {} for {}_{}: {}\n{}",
                          nvrtc.version(), module.name, target.ptx ? "compute" : "sm", target.arch,
                          nvrtc.nvrtcGetErrorString(compiled), log);
    }
    if (!log.empty()) {
        TLLM_LOG_DEBUG("NVRTC log for {}: {}", module.name, log);
    }
    NvrtcImage image;
    image.ptx = target.ptx;
    image.arch = arch;
    image.target = target.arch;
    image.compiled = true;
    size_t size = 0;
    if (target.ptx) {
        TLLM_NVRTC_RETURN(nvrtc, nvrtcGetPTXSize(program.get(), &size));
        image.bytes.resize(size);
        TLLM_NVRTC_RETURN(nvrtc, nvrtcGetPTX(program.get(), reinterpret_cast<char*>(image.bytes.data())));
    } else {
        TLLM_NVRTC_RETURN(nvrtc, nvrtcGetCUBINSize(program.get(), &size));
        image.bytes.resize(size);
        TLLM_NVRTC_RETURN(nvrtc, nvrtcGetCUBIN(program.get(), reinterpret_cast<char*>(image.bytes.data())));
    }
    image.seconds = seconds_since(start);
    return image;
}

} // namespace

Result<std::unique_ptr<Nvrtc>> Nvrtc::load(const std::string& cuda_home) {
    std::vector<std::string> candidates = {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"};
    if (!cuda_home.empty()) {
        candidates.push_back(cuda_home + "/lib64/libnvrtc.so.13");
    }
    candidates.push_back("/usr/local/cuda/lib64/libnvrtc.so.13");
    auto library = SharedLibrary::open_first(candidates);
    if (!library.ok()) {
        return make_error(ErrorCode::kNotFound, "NVRTC not found (install the CUDA toolkit or set CUDA_HOME): {}",
                          library.error().message());
    }
    auto nvrtc = std::make_unique<Nvrtc>();
#define TLLM_NVRTC_RESOLVE(fn)                                                                                         \
    nvrtc->fn = reinterpret_cast<decltype(&::fn)>(library->symbol(#fn));                                               \
    if (nvrtc->fn == nullptr) {                                                                                        \
        return make_error(ErrorCode::kUnsupported, "{} has no {}: NVRTC older than CUDA 11.2", library->name(), #fn);  \
    }
    TLLM_NVRTC_FUNCTIONS(TLLM_NVRTC_RESOLVE)
#undef TLLM_NVRTC_RESOLVE
    TLLM_NVRTC_RETURN(*nvrtc, nvrtcVersion(&nvrtc->major_, &nvrtc->minor_));
    int n_archs = 0;
    TLLM_NVRTC_RETURN(*nvrtc, nvrtcGetNumSupportedArchs(&n_archs));
    nvrtc->supported_archs_.resize(static_cast<size_t>(std::max(n_archs, 0)));
    TLLM_NVRTC_RETURN(*nvrtc, nvrtcGetSupportedArchs(nvrtc->supported_archs_.data()));
    std::sort(nvrtc->supported_archs_.begin(), nvrtc->supported_archs_.end());
    nvrtc->library_ = std::move(library).value();
    return nvrtc;
}

Result<NvrtcImage>
nvrtc_compile(const Nvrtc& nvrtc, const EmbeddedModule& module, int arch, const JitDefines& defines) {
    TLLM_ASSIGN_OR_RETURN(Target target, choose_target(nvrtc, arch));
    if (target.ptx) {
        TLLM_LOG_WARN("NVRTC {} does not know sm_{}: compiling {} to compute_{} PTX for the driver to finish",
                      nvrtc.version(), arch, module.name, target.arch);
    }
    return compile(nvrtc, module, arch, target, defines);
}

Result<std::string> nvrtc_cache_path(const Nvrtc& nvrtc,
                                     const EmbeddedModule& module,
                                     int arch,
                                     const JitDefines& defines,
                                     const std::string& cache_dir) {
    TLLM_ASSIGN_OR_RETURN(Target target, choose_target(nvrtc, arch));
    return cache_path_for(nvrtc, module, target, arch, defines, cache_dir);
}

Result<NvrtcImage> nvrtc_compile_cached(const Nvrtc& nvrtc,
                                        const EmbeddedModule& module,
                                        int arch,
                                        const JitDefines& defines,
                                        const std::string& cache_dir,
                                        CacheUse use) {
    if (cache_dir.empty()) {
        return nvrtc_compile(nvrtc, module, arch, defines);
    }
    const Clock::time_point start = Clock::now();
    TLLM_ASSIGN_OR_RETURN(Target target, choose_target(nvrtc, arch));
    TLLM_ASSIGN_OR_RETURN(std::string path, cache_path_for(nvrtc, module, target, arch, defines, cache_dir));
    std::error_code exists_error;
    if (use == CacheUse::kReadWrite && std::filesystem::exists(path, exists_error)) {
        auto payload = read_cache_file(path, target);
        if (payload.ok()) {
            NvrtcImage image;
            image.bytes = std::move(payload).value();
            image.ptx = target.ptx;
            image.arch = arch;
            image.target = target.arch;
            image.cache_path = path;
            image.seconds = seconds_since(start);
            return image;
        }
        TLLM_LOG_WARN("JIT cache file {} is unusable ({}); recompiling", path, payload.error().message());
    }
    TLLM_ASSIGN_OR_RETURN(NvrtcImage image, nvrtc_compile(nvrtc, module, arch, defines));
    image.cache_path = path;
    const std::filesystem::path directory = std::filesystem::path(path).parent_path();
    std::error_code error;
    std::filesystem::create_directories(directory, error);
    if (error) {
        return make_error(ErrorCode::kIoError,
                          "cannot create the JIT cache directory {}: {} (set TRITONLLM_CACHE_DIR to a writable folder)",
                          directory.string(), error.message());
    }
    TLLM_RETURN_IF_ERROR(write_file_atomically(path, with_trailer(image.bytes)));
    TLLM_LOG_DEBUG("NVRTC: compiled {} for {}_{} in {:.2f} s, cached in {}", module.name, target.ptx ? "compute" : "sm",
                   target.arch, image.seconds, path);
    return image;
}

} // namespace tllm::cuda
