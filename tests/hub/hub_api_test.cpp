// The hubs' APIs as data: endpoints from the environment, URLs, listing parsers, name resolution, paths.
#include "../common/temp_dir.h"
#include "hub/http.h"
#include "hub/hub.h"
#include "hub/hub_api.h"
#include "hub/progress.h"

#include <fstream>
#include <gtest/gtest.h>

namespace tllm::hub {
namespace {

TEST(HubEndpoints, Defaults) {
    HubEndpoints endpoints = HubEndpoints::from_environment(Environment{});
    EXPECT_EQ(endpoints.huggingface, "https://huggingface.co");
    EXPECT_EQ(endpoints.modelscope, "https://www.modelscope.cn");
    EXPECT_EQ(endpoints.huggingface_token, "");
}

TEST(HubEndpoints, ModelScopeDomainWithSchemeIsUsedAsGiven) {
    Environment environment;
    environment.modelscope_domain = "http://127.0.0.1:8080";
    EXPECT_EQ(HubEndpoints::from_environment(environment).modelscope, "http://127.0.0.1:8080");
    environment.modelscope_domain = "modelscope.example.cn/";
    EXPECT_EQ(HubEndpoints::from_environment(environment).modelscope, "https://modelscope.example.cn");
}

TEST(HubEndpoints, HfEndpointAndToken) {
    Environment environment;
    environment.hf_endpoint = "https://hf-mirror.com/";
    environment.hf_token = "hf_secret";
    HubEndpoints endpoints = HubEndpoints::from_environment(environment);
    EXPECT_EQ(endpoints.huggingface, "https://hf-mirror.com");
    EXPECT_EQ(endpoints.huggingface_token, "hf_secret");
}

TEST(HubEndpoints, TokenFileUnderHfHomeWhenHfTokenIsUnset) {
    testing::TempDir dir;
    std::ofstream(dir / "token") << "hf_from_file\n";
    Environment environment;
    environment.hf_home = dir.path();
    EXPECT_EQ(HubEndpoints::from_environment(environment).huggingface_token, "hf_from_file");
    environment.hf_token = "hf_from_env";
    EXPECT_EQ(HubEndpoints::from_environment(environment).huggingface_token, "hf_from_env");
}

TEST(HubApi, Urls) {
    HubEndpoints endpoints;
    endpoints.huggingface = "https://hf.example";
    endpoints.modelscope = "http://ms.example:81";
    EXPECT_EQ(listing_url(Source::kHuggingFace, endpoints, "openai/gpt-oss-20b", "main"),
              "https://hf.example/api/models/openai/gpt-oss-20b/revision/main?blobs=true");
    EXPECT_EQ(listing_url(Source::kModelScope, endpoints, "openai-mirror/gpt-oss-20b", "master"),
              "http://ms.example:81/api/v1/models/openai-mirror/gpt-oss-20b/repo/files?Revision=master&Recursive=True");
    EXPECT_EQ(file_url(Source::kHuggingFace, endpoints, "openai/gpt-oss-20b", "refs/pr/1", "original/a b.json"),
              "https://hf.example/openai/gpt-oss-20b/resolve/refs%2Fpr%2F1/original/a%20b.json");
    EXPECT_EQ(file_url(Source::kModelScope, endpoints, "o/n", "master", "original/config.json"),
              "http://ms.example:81/api/v1/models/o/n/repo?Revision=master&FilePath=original%2Fconfig.json");
}

TEST(HubApi, ParsesAHuggingFaceListing) {
    std::string sha(64, 'a');
    auto listing = parse_huggingface_listing(R"({"sha":"abc","siblings":[
        {"rfilename":"README.md","size":10,"blobId":"b1"},
        {"rfilename":"original/model.safetensors","size":5,"blobId":"b2",
         "lfs":{"sha256":")" + std::string(64, 'A') +
                                             R"(","size":12345,"pointerSize":134}}]})");
    ASSERT_TRUE(listing.ok()) << listing.error().to_string();
    EXPECT_EQ(listing->commit, "abc");
    ASSERT_EQ(listing->files.size(), 2u);
    EXPECT_EQ(listing->files[0].path, "README.md");
    EXPECT_EQ(listing->files[0].size, 10);
    EXPECT_EQ(listing->files[0].sha256, "");
    EXPECT_EQ(listing->files[0].version, "b1");
    EXPECT_EQ(listing->files[1].size, 12345); // lfs.size is the content the hash covers
    EXPECT_EQ(listing->files[1].sha256, sha); // normalised to lower case
}

TEST(HubApi, ParsesAModelScopeListingAndSkipsDirectories) {
    auto listing = parse_modelscope_listing(R"({"Code":200,"Data":{"Files":[
        {"Name":"original","Path":"original","Type":"tree","Size":0},
        {"Name":"config.json","Path":"original/config.json","Type":"blob","Size":42,
         "Sha256":")" + std::string(64, 'b') +
                                            R"(","Revision":"r1"},
        {"Name":"x","Path":"x","Type":"blob","Size":1,"Sha256":"not-a-hash"}]},"Success":true})");
    ASSERT_TRUE(listing.ok()) << listing.error().to_string();
    ASSERT_EQ(listing->files.size(), 2u);
    EXPECT_EQ(listing->files[0].path, "original/config.json");
    EXPECT_EQ(listing->files[0].size, 42);
    EXPECT_EQ(listing->files[0].sha256, std::string(64, 'b'));
    EXPECT_EQ(listing->files[0].version, "r1");
    EXPECT_EQ(listing->files[1].sha256, ""); // a malformed hash is no hash
}

TEST(HubApi, RejectsBadListings) {
    EXPECT_FALSE(parse_huggingface_listing("not json").ok());
    EXPECT_FALSE(parse_huggingface_listing(R"({"siblings":[{"size":1}]})").ok());
    EXPECT_FALSE(parse_huggingface_listing(R"({"siblings":[{"rfilename":"../etc/passwd"}]})").ok());
    EXPECT_FALSE(parse_huggingface_listing(R"({"siblings":[{"rfilename":"a"},{"rfilename":"a"}]})").ok());
    EXPECT_FALSE(parse_modelscope_listing(R"({"Code":200,"Data":{"Files":[{"Path":"/abs","Type":"blob"}]}})").ok());
    auto error = parse_modelscope_listing(R"({"Code":10010205,"Message":"model not found"})");
    ASSERT_FALSE(error.ok());
    EXPECT_NE(error.error().message().find("model not found"), std::string::npos);
}

TEST(HubApi, SafePathsAndRepoIds) {
    EXPECT_TRUE(is_safe_relative_path("original/model.safetensors"));
    for (const char* bad : {"", "/etc/passwd", "a/../b", "..", "a//b", "a/", "./a", "a\\b", "a\nb"}) {
        EXPECT_FALSE(is_safe_relative_path(bad)) << bad;
    }
    EXPECT_TRUE(is_valid_repo_id("openai-mirror/gpt-oss-20b"));
    for (const char* bad : {"gpt-oss", "a/b/c", "../x", "a/..", "a b/c", "/x", "x/"}) {
        EXPECT_FALSE(is_valid_repo_id(bad)) << bad;
    }
}

TEST(HubApi, GlobsMatchAcrossSlashesLikeHuggingFaceHub) {
    EXPECT_TRUE(glob_match("original/*", "original/config.json"));
    EXPECT_TRUE(glob_match("original/*", "original/sub/x.bin"));
    EXPECT_FALSE(glob_match("original/*", "config.json"));
    EXPECT_TRUE(glob_match("*.json", "original/config.json"));
}

TEST(HubApi, ResolvesModelNames) {
    DownloadOptions options;
    auto request = resolve_model_name("20b", options);
    ASSERT_TRUE(request.ok());
    EXPECT_EQ(request->repo, "openai-mirror/gpt-oss-20b");
    EXPECT_EQ(request->include, std::vector<std::string>{"original/*"});
    EXPECT_EQ(request->model_subdir, "original");
    options.source = Source::kHuggingFace;
    EXPECT_EQ(resolve_model_name("120b", options)->repo, "openai/gpt-oss-120b");
    EXPECT_EQ(resolve_model_name("gpt-oss-20b", options)->repo, "openai/gpt-oss-20b");
    auto repo = resolve_model_name("someone/model", options);
    ASSERT_TRUE(repo.ok());
    EXPECT_TRUE(repo->include.empty());
    options.include = {"*.json"};
    EXPECT_EQ(resolve_model_name("20b", options)->include, std::vector<std::string>{"*.json"});
    auto bad = resolve_model_name("30b", options);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
}

TEST(HubHttp, RedirectResolutionAndOrigins) {
    EXPECT_EQ(resolve_redirect("http://a.example/x/y?z=1", "/cdn/f"), "http://a.example/cdn/f");
    EXPECT_EQ(resolve_redirect("http://a.example/x/y", "https://b.example/f"), "https://b.example/f");
    EXPECT_EQ(url_origin("https://A.example/x"), "https://a.example:443");
    EXPECT_NE(url_origin("http://127.0.0.1:80/x"), url_origin("http://localhost:80/x"));
    EXPECT_NE(url_origin("http://h:80/x"), url_origin("http://h:81/x"));
}

TEST(HubProgress, Formatting) {
    EXPECT_EQ(format_bytes(512), "512 B");
    EXPECT_EQ(format_bytes(1.5 * 1024 * 1024 * 1024), "1.5 GiB");
    EXPECT_EQ(format_duration(12), "12s");
    EXPECT_EQ(format_duration(185), "3m05s");
    EXPECT_EQ(format_duration(3720), "1h02m");
}

} // namespace
} // namespace tllm::hub
