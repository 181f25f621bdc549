#include "core/environment.h"

#include <cstdlib>

namespace tllm {

Environment Environment::from_process() {
    // The only getenv in the project.
    return from_lookup([](const char* name) { return std::getenv(name); });
}

Environment Environment::from_lookup(const std::function<const char*(const char*)>& lookup) {
    auto get = [&](const char* name) -> std::string {
        const char* value = lookup(name);
        return value != nullptr ? std::string(value) : std::string();
    };
    Environment environment;
    environment.jit_backend = get("TRITONLLM_JIT_BACKEND");

    // $XDG_CACHE_HOME/<name>, else $HOME/.cache/<name>, else "".
    auto user_cache = [&](const char* name) -> std::string {
        if (std::string xdg = get("XDG_CACHE_HOME"); !xdg.empty()) {
            return xdg + "/" + name;
        }
        if (std::string home = get("HOME"); !home.empty()) {
            return home + "/.cache/" + name;
        }
        return "";
    };
    environment.cache_dir = get("TRITONLLM_CACHE_DIR");
    if (environment.cache_dir.empty()) {
        environment.cache_dir = user_cache("tritonllm");
    }

    environment.hf_endpoint = get("HF_ENDPOINT");
    environment.hf_token = get("HF_TOKEN");
    if (environment.hf_token.empty()) {
        environment.hf_token = get("HUGGING_FACE_HUB_TOKEN");
    }
    environment.hf_home = get("HF_HOME");
    if (environment.hf_home.empty()) {
        environment.hf_home = user_cache("huggingface");
    }
    environment.modelscope_domain = get("MODELSCOPE_DOMAIN");
    environment.browser_backend = get("BROWSER_BACKEND");
    environment.exa_api_key = get("EXA_API_KEY");
    environment.ydc_api_key = get("YDC_API_KEY");

    environment.ca_bundle = get("SSL_CERT_FILE");
    if (environment.ca_bundle.empty()) {
        environment.ca_bundle = get("CURL_CA_BUNDLE");
    }

    environment.cuda_home = get("CUDA_HOME");
    if (environment.cuda_home.empty()) {
        environment.cuda_home = get("CUDA_PATH");
    }
    if (environment.cuda_home.empty()) {
        environment.cuda_home = "/usr/local/cuda";
    }
    return environment;
}

} // namespace tllm
