// `tritonllm serve [MODEL] [--demo] [--host H] [--port P] [--api-key KEY] [--max-concurrency N]
// [--max-output-tokens N]`: the OpenAI-compatible server (server/http_server.h) over the batched engine, until
// SIGINT or SIGTERM.
#pragma once

#include <CLI/CLI.hpp>

namespace tllm {

void register_serve_command(CLI::App& app);

} // namespace tllm
