// Environment: every variable the program reads, with its fallbacks, from a fake lookup.
#include "core/environment.h"

#include <gtest/gtest.h>
#include <map>
#include <string>

namespace tllm {
namespace {

Environment with(const std::map<std::string, std::string>& variables) {
    return Environment::from_lookup([&](const char* name) -> const char* {
        auto found = variables.find(name);
        return found != variables.end() ? found->second.c_str() : nullptr;
    });
}

TEST(Environment, Defaults) {
    Environment environment = with({});
    EXPECT_EQ(environment.jit_backend, "");
    EXPECT_EQ(environment.cache_dir, "");
    EXPECT_EQ(environment.cuda_home, "/usr/local/cuda");
    EXPECT_EQ(environment.hf_endpoint, "");
    EXPECT_EQ(environment.hf_token, "");
    EXPECT_EQ(environment.hf_home, "");
    EXPECT_EQ(environment.modelscope_domain, "");
}

TEST(Environment, HubVariablesArePassedThrough) {
    Environment environment = with({{"HF_ENDPOINT", "https://hf-mirror.com"},
                                    {"HF_TOKEN", "hf_abc"},
                                    {"MODELSCOPE_DOMAIN", "http://127.0.0.1:8080"}});
    EXPECT_EQ(environment.hf_endpoint, "https://hf-mirror.com");
    EXPECT_EQ(environment.hf_token, "hf_abc");
    EXPECT_EQ(environment.modelscope_domain, "http://127.0.0.1:8080");
}

TEST(Environment, HfTokenFallsBackToTheLegacyName) {
    EXPECT_EQ(with({{"HUGGING_FACE_HUB_TOKEN", "old"}}).hf_token, "old");
    EXPECT_EQ(with({{"HUGGING_FACE_HUB_TOKEN", "old"}, {"HF_TOKEN", "new"}}).hf_token, "new");
}

TEST(Environment, HfHomePrecedence) {
    EXPECT_EQ(with({{"HOME", "/home/u"}}).hf_home, "/home/u/.cache/huggingface");
    EXPECT_EQ(with({{"HOME", "/home/u"}, {"XDG_CACHE_HOME", "/xdg"}}).hf_home, "/xdg/huggingface");
    EXPECT_EQ(with({{"HOME", "/home/u"}, {"XDG_CACHE_HOME", "/xdg"}, {"HF_HOME", "/hf"}}).hf_home, "/hf");
}

TEST(Environment, BrowserVariablesArePassedThrough) {
    Environment environment = with({{"BROWSER_BACKEND", "youcom"}, {"EXA_API_KEY", "exa-key"}, {"YDC_API_KEY", "ydc"}});
    EXPECT_EQ(environment.browser_backend, "youcom");
    EXPECT_EQ(environment.exa_api_key, "exa-key");
    EXPECT_EQ(environment.ydc_api_key, "ydc");
    EXPECT_EQ(with({}).browser_backend, "");
}

TEST(Environment, JitBackendIsPassedThrough) {
    EXPECT_EQ(with({{"TRITONLLM_JIT_BACKEND", "nvrtc"}}).jit_backend, "nvrtc");
}

TEST(Environment, CacheDirPrecedence) {
    EXPECT_EQ(with({{"HOME", "/home/u"}}).cache_dir, "/home/u/.cache/tritonllm");
    EXPECT_EQ(with({{"HOME", "/home/u"}, {"XDG_CACHE_HOME", "/xdg"}}).cache_dir, "/xdg/tritonllm");
    EXPECT_EQ(with({{"HOME", "/home/u"}, {"XDG_CACHE_HOME", "/xdg"}, {"TRITONLLM_CACHE_DIR", "/c"}}).cache_dir, "/c");
    // An empty value counts as unset.
    EXPECT_EQ(with({{"HOME", "/home/u"}, {"XDG_CACHE_HOME", ""}, {"TRITONLLM_CACHE_DIR", ""}}).cache_dir,
              "/home/u/.cache/tritonllm");
}

TEST(Environment, CudaHomePrecedence) {
    EXPECT_EQ(with({{"CUDA_PATH", "/opt/cuda-path"}}).cuda_home, "/opt/cuda-path");
    EXPECT_EQ(with({{"CUDA_PATH", "/opt/cuda-path"}, {"CUDA_HOME", "/opt/cuda-home"}}).cuda_home, "/opt/cuda-home");
}

TEST(Environment, FromProcessReadsTheRealEnvironment) {
    // Only checks that it runs and applies the fallbacks; the values depend on the machine.
    Environment environment = Environment::from_process();
    EXPECT_FALSE(environment.cuda_home.empty());
}

TEST(Environment, CaBundleFromOpenSslsVariableElseCurls) {
    EXPECT_EQ(with({}).ca_bundle, "");
    EXPECT_EQ(with({{"CURL_CA_BUNDLE", "/curl.pem"}}).ca_bundle, "/curl.pem");
    EXPECT_EQ(with({{"CURL_CA_BUNDLE", "/curl.pem"}, {"SSL_CERT_FILE", "/ssl.pem"}}).ca_bundle, "/ssl.pem");
}

} // namespace
} // namespace tllm
