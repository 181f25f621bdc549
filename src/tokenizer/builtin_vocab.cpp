#include "tokenizer/builtin_vocab.h"

#ifndef TLLM_O200K_BASE_PATH
#error "TLLM_O200K_BASE_PATH must name o200k_base.tiktoken (set by src/tokenizer/CMakeLists.txt)"
#endif

// .incbin copies the file into .rodata at assembly time; the symbols are hidden so references need no GOT.
__asm__(".pushsection .rodata\n"
        ".balign 16\n"
        ".globl tllm_o200k_base_begin\n"
        ".hidden tllm_o200k_base_begin\n"
        "tllm_o200k_base_begin:\n"
        ".incbin \"" TLLM_O200K_BASE_PATH "\"\n"
        ".globl tllm_o200k_base_end\n"
        ".hidden tllm_o200k_base_end\n"
        "tllm_o200k_base_end:\n"
        ".byte 0\n"
        ".popsection\n");

extern "C" {
extern const char tllm_o200k_base_begin[];
extern const char tllm_o200k_base_end[];
}

namespace tllm {

std::string_view builtin_o200k_base_tiktoken() {
    return std::string_view(tllm_o200k_base_begin, static_cast<size_t>(tllm_o200k_base_end - tllm_o200k_base_begin));
}

} // namespace tllm
