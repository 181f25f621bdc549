// The process environment, read in one place: every setting the program takes from environment variables
// is a field here, so the rest of the code gets them as ordinary values (and tests can supply their own).
#pragma once

#include <functional>
#include <string>

namespace tllm {

struct Environment {
    std::string jit_backend; // TRITONLLM_JIT_BACKEND ("" = default)
    // TRITONLLM_CACHE_DIR, else $XDG_CACHE_HOME/tritonllm, else $HOME/.cache/tritonllm ("" when none is set).
    std::string cache_dir;
    std::string cuda_home; // CUDA_HOME, else CUDA_PATH, else /usr/local/cuda
    // SSL_CERT_FILE (OpenSSL's name), else CURL_CA_BUNDLE (curl's): the CA certificates for HTTPS; "" = unset, and
    // find_ca_bundle (core/ca_bundle.h) looks in the distributions' usual places.
    std::string ca_bundle;

    // Model hubs, named as their own clients name them. Empty = unset; the hub module applies the defaults.
    std::string hf_endpoint; // HF_ENDPOINT (e.g. a mirror; default https://huggingface.co)
    std::string hf_token;    // HF_TOKEN, else the legacy HUGGING_FACE_HUB_TOKEN
    // HF_HOME, else $XDG_CACHE_HOME/huggingface, else $HOME/.cache/huggingface: where `hf auth login` keeps
    // its token file when HF_TOKEN is unset.
    std::string hf_home;
    std::string modelscope_domain; // MODELSCOPE_DOMAIN (default www.modelscope.cn; may carry its own scheme)

    // The browser tool's search services, named as gpt-oss names them.
    std::string browser_backend; // BROWSER_BACKEND: exa | youcom | local:DIR (the chat's default backend)
    std::string exa_api_key;     // EXA_API_KEY
    std::string ydc_api_key;     // YDC_API_KEY (You.com)

    static Environment from_process();
    // `lookup` returns a variable's value or nullptr; an empty value counts as unset.
    static Environment from_lookup(const std::function<const char*(const char*)>& lookup);
};

} // namespace tllm
