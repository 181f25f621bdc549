// `tritonllm download 20b|120b|REPO_ID`: fetches a model into the cache and prints its local directory on
// stdout (the only output there, for scripts); progress and messages go to stderr.
#pragma once

#include <CLI/CLI.hpp>

namespace tllm {

void register_download_command(CLI::App& app);

} // namespace tllm
