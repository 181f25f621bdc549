#include "kernels/cuda/cubin.h"

#include <cstring>
#include <string>

namespace tllm::cuda {

Result<int> cubin_sm_arch(std::span<const uint8_t> image) {
    constexpr size_t kHeaderBytes = 64; // Elf64_Ehdr
    static constexpr uint8_t kMagic[4] = {0x7f, 'E', 'L', 'F'};
    if (image.size() < kHeaderBytes || std::memcmp(image.data(), kMagic, sizeof(kMagic)) != 0) {
        return make_error(ErrorCode::kCorruptFile, "not an ELF file ({} bytes)", image.size());
    }
    if (image[4] != 2 || image[5] != 1) {
        return make_error(ErrorCode::kCorruptFile, "not a 64-bit little-endian ELF file");
    }
    const uint16_t machine = static_cast<uint16_t>(image[18] | image[19] << 8);
    if (machine != kElfMachineCuda) {
        return make_error(ErrorCode::kCorruptFile, "ELF machine {} is not EM_CUDA ({})", machine, kElfMachineCuda);
    }
    uint32_t flags = 0;
    for (int i = 3; i >= 0; --i) {
        flags = flags << 8 | image[48 + i];
    }
    // ELF ABI version 8 (CUDA 12.8 and later) moved the SM from bits 0-7 of e_flags to bits 8-15.
    const int abi_version = image[8];
    const int sm = abi_version >= 8 ? static_cast<int>((flags >> 8) & 0xff) : static_cast<int>(flags & 0xff);
    if (sm == 0) {
        return make_error(ErrorCode::kCorruptFile, "CUDA ELF header names no SM (e_flags {:#x})", flags);
    }
    return sm;
}

Result<const EmbeddedImage*> select_cubin(const EmbeddedModule& module, int card_arch) {
    const EmbeddedImage* best = nullptr;
    for (const EmbeddedImage& image : module.images) {
        if (image.arch == card_arch) {
            return &image;
        }
        if (image.arch / 10 == card_arch / 10 && image.arch < card_arch &&
            (best == nullptr || image.arch > best->arch)) {
            best = &image;
        }
    }
    if (best != nullptr) {
        return best;
    }
    std::string archs;
    for (const EmbeddedImage& image : module.images) {
        archs += fmt::format("{}sm_{}", archs.empty() ? "" : ", ", image.arch);
    }
    return make_error(ErrorCode::kUnsupported,
                      "kernel module {}: no CUBIN for this card (sm_{}); this build embeds {} (TLLM_CUDA_ARCHS). "
                      "Set TRITONLLM_JIT_BACKEND=nvrtc to compile the kernels for the card at run time",
                      module.name, card_arch, archs.empty() ? "none" : archs);
}

const EmbeddedModule* find_embedded_module(std::string_view name) {
    for (const EmbeddedModule& module : embedded_modules()) {
        if (module.name == name) {
            return &module;
        }
    }
    return nullptr;
}

} // namespace tllm::cuda
