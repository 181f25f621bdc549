#include "cli/download_command.h"

#include "cli/report.h"
#include "core/environment.h"
#include "hub/hub.h"

#include <cstdio>
#include <memory>

namespace tllm {
namespace {

struct DownloadFlags {
    std::string model;
    std::string source = "modelscope";
    std::string revision;
    std::vector<std::string> include;
    std::string cache_dir;
    int connections = 8;
    int64_t chunk_bytes = 64ll << 20;
    int retry_delay_ms = 1000;
};

Status run_download(const DownloadFlags& flags) {
    Environment environment = Environment::from_process();
    hub::DownloadOptions options;
    options.source = flags.source == "huggingface" ? hub::Source::kHuggingFace : hub::Source::kModelScope;
    options.revision = flags.revision;
    options.include = flags.include;
    options.cache_dir = flags.cache_dir.empty() ? environment.cache_dir : flags.cache_dir;
    options.connections = flags.connections;
    options.chunk_bytes = flags.chunk_bytes;
    options.retry_delay = std::chrono::milliseconds(flags.retry_delay_ms);
    TLLM_ASSIGN_OR_RETURN(std::string path,
                          hub::ensure_model(flags.model, options, hub::HubEndpoints::from_environment(environment)));
    std::string line = path + "\n";
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);
    return {};
}

} // namespace

void register_download_command(CLI::App& app) {
    auto flags = std::make_shared<DownloadFlags>();
    CLI::App* download = app.add_subcommand(
        "download", "Download a model into the cache (once; resumable) and print its local directory on stdout");
    download->add_option("model", flags->model, "20b, 120b (their original/ checkpoint), or a repository id owner/name")
        ->required();
    download->add_option("--source", flags->source, "Hub to download from")
        ->check(CLI::IsMember({"modelscope", "huggingface"}))
        ->capture_default_str();
    download->add_option("--revision", flags->revision,
                         "Branch, tag or commit (default: master on ModelScope, main "
                         "on Hugging Face)");
    download->add_option("--include", flags->include,
                         "Only repository paths matching this glob (repeatable; default: all, or original/* for "
                         "20b/120b)");
    download->add_option("--cache-dir", flags->cache_dir,
                         "Cache directory (default: TRITONLLM_CACHE_DIR, else $XDG_CACHE_HOME/tritonllm, else "
                         "~/.cache/tritonllm)");
    download->add_option("--connections", flags->connections, "Parallel connections")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    // Tuning for tests and slow links; not part of the documented interface.
    download->add_option("--chunk-bytes", flags->chunk_bytes, "Bytes per ranged request")
        ->check(CLI::PositiveNumber)
        ->group("");
    download->add_option("--retry-delay-ms", flags->retry_delay_ms, "First retry delay")
        ->check(CLI::NonNegativeNumber)
        ->group("");
    download->callback([flags] { throw CLI::RuntimeError(report(run_download(*flags))); });
}

} // namespace tllm
