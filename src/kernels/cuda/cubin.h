// CUBIN images (CUDA ELF files): what arch one was built for, and which embedded image a card loads.
#pragma once

#include "core/result.h"
#include "kernels/cuda/embedded_kernels.h"

#include <cstdint>
#include <span>

namespace tllm::cuda {

inline constexpr uint16_t kElfMachineCuda = 190; // EM_CUDA

// The SM number in a CUBIN's ELF header (e.g. 90), or kCorruptFile when the bytes are not a CUDA ELF file.
Result<int> cubin_sm_arch(std::span<const uint8_t> image);

// The image for a card of compute capability `card_arch` (major * 10 + minor): the exact arch, else the
// highest image of the same major whose minor is not above the card's (SASS runs on later minors of its
// major); else kUnsupported naming the card, the embedded archs, and the NVRTC backend.
Result<const EmbeddedImage*> select_cubin(const EmbeddedModule& module, int card_arch);

} // namespace tllm::cuda
