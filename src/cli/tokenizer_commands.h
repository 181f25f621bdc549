// `tritonllm tokenize`, `tritonllm detokenize` and `tritonllm render`: the o200k_harmony tokenizer and the
// Harmony prompt renderer from the command line. They need no model directory (the vocabulary is
// embedded); --model DIR uses DIR/tokenizer.json when present.
#pragma once

#include <CLI/CLI.hpp>

namespace tllm {

void register_tokenizer_commands(CLI::App& app);

} // namespace tllm
