// Downloads against a local stand-in for both hubs (fake_hub.h): ranges, resume, verification, the lock,
// the completion marker, auth across redirects, unreachable hosts, and the `tritonllm download` command.
#include "../common/files.h"
#include "../common/shell.h"
#include "../common/temp_dir.h"
#include "../common/tls_server.h"
#include "fake_hub.h"
#include "hub/hub.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>

namespace tllm::hub {
namespace {

using ::tllm::testing::read_file;

namespace fs = std::filesystem;
using testing::FakeHub;

constexpr int64_t kChunk = 256 << 10;
const std::string kWeights = "original/model.safetensors";

std::vector<std::string> files_under(const std::string& root) {
    std::vector<std::string> files;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
        if (it->is_regular_file()) {
            files.push_back(fs::relative(it->path(), root).string());
        }
    }
    std::sort(files.begin(), files.end());
    return files;
}

// A gpt-oss-like repository: the original/ checkpoint (one file big enough for four ranges) and files the
// engine never reads.
std::map<std::string, FakeHub::File> gpt_oss_files() {
    return {{"original/config.json", {R"({"num_hidden_layers": 2})", ""}},
            {"original/dtypes.json", {R"({"embedding.weight": "BF16"})", ""}},
            {kWeights, {testing::random_bytes(4 * kChunk - 1000, 1), ""}},
            {"README.md", {"# gpt-oss", ""}},
            {"model-00000-of-00001.safetensors", {testing::random_bytes(100000, 2), ""}}};
}

class Download : public ::testing::Test {
  protected:
    void SetUp() override {
        hub.add_repo("openai-mirror/gpt-oss-20b", gpt_oss_files());
        hub.add_repo("openai/gpt-oss-20b", gpt_oss_files());
    }

    DownloadOptions options(Source source = Source::kModelScope) const {
        DownloadOptions options;
        options.source = source;
        options.cache_dir = dir / "cache";
        options.connections = 4;
        options.chunk_bytes = kChunk;
        options.max_attempts = 1;
        options.retry_delay = std::chrono::milliseconds(1);
        options.progress = false;
        return options;
    }
    // Built the way the CLI builds them, from the variables the hubs' own clients read.
    HubEndpoints endpoints(const std::string& hf_token = "") const {
        Environment environment;
        environment.modelscope_domain = hub.url();
        environment.hf_endpoint = hub.url() + "/";
        environment.hf_token = hf_token;
        return HubEndpoints::from_environment(environment);
    }
    std::string modelscope_snapshot() const { return dir / "cache/models/modelscope/openai-mirror/gpt-oss-20b/master"; }
    void expect_original_folder(const std::string& path) {
        EXPECT_EQ(files_under(path), (std::vector<std::string>{"config.json", "dtypes.json", "model.safetensors"}));
        EXPECT_EQ(read_file(path + "/model.safetensors"), gpt_oss_files()[kWeights].content);
        EXPECT_EQ(read_file(path + "/config.json"), gpt_oss_files()["original/config.json"].content);
    }

    FakeHub hub;
    testing::TempDir dir;
};

TEST_F(Download, ModelScopeOriginalFolderInParallelRanges) {
    auto path = ensure_model("20b", options(), endpoints());
    ASSERT_TRUE(path.ok()) << path.error().to_string();
    EXPECT_EQ(*path, modelscope_snapshot() + "/original");
    expect_original_folder(*path);
    // Only original/ came down; nothing outside it, no partial files left in the snapshot.
    EXPECT_EQ(files_under(modelscope_snapshot()),
              (std::vector<std::string>{"original/config.json", "original/dtypes.json", kWeights}));
    EXPECT_EQ(hub.requested_bytes("README.md"), 0);
    // The big file in four ranges, each byte asked for once.
    int weight_requests = 0;
    for (const auto& download : hub.downloads()) {
        weight_requests += download.path == kWeights;
    }
    EXPECT_EQ(weight_requests, 4);
    EXPECT_EQ(hub.requested_bytes(kWeights), 4 * kChunk - 1000);
}

TEST_F(Download, CompletedDownloadSkipsTheNetwork) {
    auto first = ensure_model("20b", options(), endpoints());
    ASSERT_TRUE(first.ok()) << first.error().to_string();
    EXPECT_EQ(find_cached_model("20b", options()), *first);
    hub.stop();
    auto again = ensure_model("20b", options(), endpoints());
    ASSERT_TRUE(again.ok()) << again.error().to_string();
    EXPECT_EQ(*again, *first);
    // Another include set is another download: not complete, and the stopped server makes that visible.
    DownloadOptions json_only = options();
    json_only.include = {"*.json"};
    EXPECT_EQ(find_cached_model("20b", json_only), std::nullopt);
    EXPECT_FALSE(ensure_model("20b", json_only, endpoints()).ok());
    // A deleted file voids the marker.
    fs::remove(*first + "/config.json");
    EXPECT_EQ(find_cached_model("20b", options()), std::nullopt);
}

TEST_F(Download, ResumesAfterAConnectionCutWithoutRefetchingBytes) {
    const int64_t cut = kChunk + 40000; // inside the second range
    hub.cut_once(kWeights, cut);
    auto failed = ensure_model("20b", options(), endpoints());
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.error().code(), ErrorCode::kNetwork);
    EXPECT_NE(failed.error().message().find(kWeights), std::string::npos) << failed.error().message();
    EXPECT_TRUE(fs::exists(modelscope_snapshot() + "/" + kWeights + ".part"));
    EXPECT_FALSE(fs::exists(modelscope_snapshot() + "/" + kWeights));

    hub.reset_counters();
    auto resumed = ensure_model("20b", options(), endpoints());
    ASSERT_TRUE(resumed.ok()) << resumed.error().to_string();
    expect_original_folder(*resumed);
    // Exactly the rest of the cut range: one request starting at the cut.
    EXPECT_EQ(hub.requested_bytes(kWeights), 2 * kChunk - cut);
    auto downloads = hub.downloads();
    auto weights = std::count_if(downloads.begin(), downloads.end(), [](auto& d) { return d.path == kWeights; });
    EXPECT_EQ(weights, 1);
    for (const auto& download : downloads) {
        if (download.path == kWeights) {
            EXPECT_EQ(download.range_start, cut);
        }
    }
    EXPECT_FALSE(fs::exists(modelscope_snapshot() + "/" + kWeights + ".part"));
}

TEST_F(Download, RetriesACutConnectionAndA503InTheSameRun) {
    hub.cut_once(kWeights, 3 * kChunk + 123);
    hub.unavailable_downloads = 2;
    DownloadOptions retrying = options();
    retrying.max_attempts = 4;
    auto path = ensure_model("20b", retrying, endpoints());
    ASSERT_TRUE(path.ok()) << path.error().to_string();
    expect_original_folder(*path);
    // Every byte of the big file was sent once: the retry continued where the cut stopped.
    EXPECT_EQ(hub.served_bytes(kWeights), 4 * kChunk - 1000);
}

TEST_F(Download, RemoteFileChangedSinceThePartialDownloadStartsOver) {
    hub.cut_once(kWeights, kChunk + 10);
    ASSERT_FALSE(ensure_model("20b", options(), endpoints()).ok());
    std::string changed = testing::random_bytes(4 * kChunk - 1000, 99);
    hub.set_file("openai-mirror/gpt-oss-20b", kWeights, {changed, ""});
    hub.reset_counters();
    auto path = ensure_model("20b", options(), endpoints());
    ASSERT_TRUE(path.ok()) << path.error().to_string();
    EXPECT_EQ(read_file(*path + "/model.safetensors"), changed);
    EXPECT_EQ(hub.requested_bytes(kWeights), 4 * kChunk - 1000);
}

TEST_F(Download, ServerIgnoringRangesGetsTheFileAsOneStream) {
    hub.ignore_ranges = true;
    auto path = ensure_model("20b", options(), endpoints());
    ASSERT_TRUE(path.ok()) << path.error().to_string();
    expect_original_folder(*path);
}

TEST_F(Download, HashMismatchDeletesTheFileAndNamesIt) {
    auto files = gpt_oss_files();
    files[kWeights].listed_sha256 = std::string(64, '0');
    hub.add_repo("openai-mirror/gpt-oss-20b", files);
    auto result = ensure_model("20b", options(), endpoints());
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code(), ErrorCode::kCorruptFile);
    EXPECT_NE(result.error().message().find(kWeights), std::string::npos) << result.error().message();
    EXPECT_NE(result.error().message().find("SHA-256"), std::string::npos) << result.error().message();
    EXPECT_FALSE(fs::exists(modelscope_snapshot() + "/" + kWeights));
    EXPECT_FALSE(fs::exists(modelscope_snapshot() + "/" + kWeights + ".part"));
    EXPECT_EQ(find_cached_model("20b", options()), std::nullopt);
}

TEST_F(Download, HuggingFaceTokenStaysWithTheHubAcrossTheCdnRedirect) {
    hub.required_token = "hf_secret";
    auto path = ensure_model("20b", options(Source::kHuggingFace), endpoints("hf_secret"));
    ASSERT_TRUE(path.ok()) << path.error().to_string();
    EXPECT_EQ(*path, dir / "cache/models/huggingface/openai/gpt-oss-20b/main/original");
    expect_original_folder(*path);
    ASSERT_EQ(hub.listing_authorizations(), std::vector<std::string>{"Bearer hf_secret"});
    auto downloads = hub.downloads();
    ASSERT_FALSE(downloads.empty());
    for (const auto& download : downloads) {
        // Every file came through the redirect to the other host, which never saw the token.
        EXPECT_EQ(download.host.rfind("localhost:", 0), 0u) << download.host;
        EXPECT_EQ(download.authorization, "") << download.path;
    }
}

TEST_F(Download, HuggingFaceMissingOrWrongTokenIsAClearError) {
    hub.required_token = "hf_secret";
    auto anonymous = ensure_model("20b", options(Source::kHuggingFace), endpoints());
    ASSERT_FALSE(anonymous.ok());
    EXPECT_NE(anonymous.error().message().find("HTTP 401"), std::string::npos) << anonymous.error().message();
    EXPECT_NE(anonymous.error().message().find("set HF_TOKEN"), std::string::npos) << anonymous.error().message();
    auto wrong = ensure_model("20b", options(Source::kHuggingFace), endpoints("hf_wrong"));
    ASSERT_FALSE(wrong.ok());
    EXPECT_NE(wrong.error().message().find("HF_TOKEN was refused"), std::string::npos) << wrong.error().message();
    EXPECT_EQ(hub.listings(), 2); // a 401 is not retried
}

TEST_F(Download, NotFoundIsNotRetried) {
    DownloadOptions retrying = options(Source::kHuggingFace);
    retrying.max_attempts = 5;
    auto missing = ensure_model("nobody/nothing", retrying, endpoints());
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
    EXPECT_NE(missing.error().message().find("nobody/nothing"), std::string::npos) << missing.error().message();
    EXPECT_EQ(hub.listings(), 1);
    auto modelscope = ensure_model("nobody/nothing", options(), endpoints());
    ASSERT_FALSE(modelscope.ok());
    EXPECT_EQ(modelscope.error().code(), ErrorCode::kNotFound);
}

TEST_F(Download, UnreachableHostNamesItAndSuggestsAlternatives) {
    FakeHub closed;
    std::string url = closed.url();
    closed.stop(); // nothing listens on that port any more
    Environment environment;
    environment.modelscope_domain = url;
    auto result = ensure_model("20b", options(), HubEndpoints::from_environment(environment));
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code(), ErrorCode::kNetwork);
    const std::string& message = result.error().message();
    EXPECT_NE(message.find("cannot reach 127.0.0.1:" + std::to_string(closed.port())), std::string::npos) << message;
    EXPECT_NE(message.find("--source huggingface"), std::string::npos) << message;
    EXPECT_NE(message.find("MODELSCOPE_DOMAIN"), std::string::npos) << message;
    EXPECT_NE(message.find("local model directory"), std::string::npos) << message;
}

TEST_F(Download, RepoIdWithIncludeDownloadsTheMatchingFiles) {
    hub.add_repo("someone/tiny", {{"config.json", {"{}", ""}},
                                  {"model.safetensors", {testing::random_bytes(5000, 3), ""}},
                                  {"docs/notes.txt", {"n", ""}}});
    DownloadOptions include = options(Source::kHuggingFace);
    include.include = {"*.json", "*.safetensors"};
    auto path = ensure_model("someone/tiny", include, endpoints());
    ASSERT_TRUE(path.ok()) << path.error().to_string();
    EXPECT_EQ(*path, dir / "cache/models/huggingface/someone/tiny/main");
    EXPECT_EQ(files_under(*path), (std::vector<std::string>{"config.json", "model.safetensors"}));
    // Without --include: the whole repository.
    auto whole = ensure_model("someone/tiny", options(Source::kHuggingFace), endpoints());
    ASSERT_TRUE(whole.ok()) << whole.error().to_string();
    EXPECT_EQ(files_under(*whole), (std::vector<std::string>{"config.json", "docs/notes.txt", "model.safetensors"}));
}

// --- the command -------------------------------------------------------------------------------------------

using testing::CommandResult;

FILE* start(const std::string& environment, const std::string& arguments, const std::string& err_path) {
    std::string command = environment + " " + TLLM_BINARY + " " + arguments + " 2>" + err_path;
    return ::popen(command.c_str(), "r");
}

CommandResult finish(FILE* pipe, const std::string& err_path) {
    CommandResult result = testing::finish_command(pipe);
    result.errors = read_file(err_path);
    return result;
}

TEST_F(Download, CommandPrintsOnlyThePathOnStdout) {
    std::string arguments = "download 20b --cache-dir " + (dir / "cache") + " --chunk-bytes 65536";
    auto result = finish(start("MODELSCOPE_DOMAIN=" + hub.url(), arguments, dir / "err"), dir / "err");
    ASSERT_EQ(result.exit_code, 0) << result.errors;
    EXPECT_EQ(result.output, modelscope_snapshot() + "/original\n");
    expect_original_folder(modelscope_snapshot() + "/original");

    auto bad = finish(start("", "download not-a-model --cache-dir " + (dir / "cache"), dir / "err"), dir / "err");
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_TRUE(bad.output.empty());
    EXPECT_NE(bad.errors.find("owner/name"), std::string::npos) << bad.errors;
}

TEST_F(Download, TwoProcessesTakeTurnsAndDownloadOnce) {
    hub.delay_per_piece_ms = 10; // the first holder keeps the lock for a good half second
    std::string arguments = "download 20b --cache-dir " + (dir / "cache") + " --connections 2 --chunk-bytes 65536";
    std::string environment = "MODELSCOPE_DOMAIN=" + hub.url();
    FILE* first = start(environment, arguments, dir / "err1");
    FILE* second = start(environment, arguments, dir / "err2");
    ASSERT_NE(first, nullptr);
    ASSERT_NE(second, nullptr);
    auto a = finish(first, dir / "err1");
    auto b = finish(second, dir / "err2");
    ASSERT_EQ(a.exit_code, 0) << a.errors;
    ASSERT_EQ(b.exit_code, 0) << b.errors;
    EXPECT_EQ(a.output, modelscope_snapshot() + "/original\n");
    EXPECT_EQ(b.output, a.output);
    expect_original_folder(modelscope_snapshot() + "/original");
    // One of them waited and then found the download complete: the big file went over the wire once.
    bool waited = (a.errors + b.errors).find("waiting for it") != std::string::npos;
    EXPECT_TRUE(waited) << a.errors << "\n---\n" << b.errors;
    EXPECT_EQ(hub.served_bytes(kWeights), 4 * kChunk - 1000);
    EXPECT_EQ(hub.listings(), 1);
}

// The CA bundle from the environment (SSL_CERT_FILE, else the distribution's) reaches every request of a download:
// the listing, the resolve URLs and the CDN host they redirect to. A hub whose certificate is outside it is refused.
TEST(DownloadOverHttps, TheCaBundleFromTheEnvironmentIsTrustedAndNoOtherCertificate) {
    testing::TempDir dir;
    testing::write_self_signed_certificate(dir / "hub.pem", dir / "hub.key");
    testing::write_self_signed_certificate(dir / "other.pem", dir / "other.key");
    FakeHub hub(dir / "hub.pem", dir / "hub.key");
    hub.add_repo("openai/gpt-oss-20b", gpt_oss_files());
    DownloadOptions options;
    options.source = Source::kHuggingFace;
    options.cache_dir = dir / "cache";
    options.chunk_bytes = kChunk;
    options.max_attempts = 1;
    options.progress = false;
    Environment environment;
    environment.hf_endpoint = hub.url();
    environment.ca_bundle = dir / "other.pem";
    auto refused = ensure_model("20b", options, HubEndpoints::from_environment(environment));
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.error().message().find("certificate"), std::string::npos) << refused.error().to_string();

    environment.ca_bundle = dir / "hub.pem";
    auto path = ensure_model("20b", options, HubEndpoints::from_environment(environment));
    ASSERT_TRUE(path.ok()) << path.error().to_string();
    EXPECT_EQ(read_file(*path + "/model.safetensors"), gpt_oss_files()[kWeights].content);
    bool via_cdn = false;
    for (const auto& download : hub.downloads()) {
        via_cdn |= download.host.starts_with("localhost");
    }
    EXPECT_TRUE(via_cdn) << "the files should come from the CDN host the resolve URLs redirect to";
}

} // namespace
} // namespace tllm::hub
