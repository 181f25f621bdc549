// `tritonllm chat [MODEL] [options]`, also run as plain `tritonllm [MODEL] [options]`: an interactive chat
// with a gpt-oss model (TritonLLM's command line), or with a small random-weights model (--demo).
#pragma once

#include "core/result.h"

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace tllm {

void register_chat_command(CLI::App& app);

// The command line without the program name, with "chat" inserted where a subcommand was expected but
// the first argument after the global options is none: `tritonllm 20b -r low` runs `chat 20b -r low`,
// `tritonllm` alone runs `chat`. Help requests and real subcommands are left as they are.
std::vector<std::string> route_to_chat(const CLI::App& app, std::vector<std::string> args);

// The one place a MODEL argument becomes a local model directory. A directory is used as it is. The
// released models' names ("20b", "120b") stand for weights fetched from `source` (modelscope or
// huggingface); until the download module is wired in here, they give an error saying how to get them.
Result<std::string> resolve_model(const std::string& model, const std::string& source);

// The model directory a command runs on: the demo model (the real vocabulary around a tiny random network, written
// under the cache directory on first use) when `demo`, else resolve_model(model, source).
Result<std::string> model_directory(bool demo, const std::string& model, const std::string& source);

// Today's date in local time, "YYYY-MM-DD", for the system message.
std::string today();

// The longest context whose KV cache fits in the memory that is free now, capped at 131,072 tokens: for one
// conversation (`one_sequence`, the chat: a paged cache whose sliding-window layers keep only their window), or for
// a pool that many share (the server: every layer's K and V for each position).
class Engine;
int64_t default_context(const Engine& engine, bool one_sequence);

} // namespace tllm
