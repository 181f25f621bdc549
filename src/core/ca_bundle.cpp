#include "core/ca_bundle.h"

#include <array>
#include <filesystem>

namespace tllm {

std::span<const std::string_view> well_known_ca_bundles() {
    static constexpr std::array<std::string_view, 6> kBundles = {
        "/etc/ssl/certs/ca-certificates.crt",                // Debian, Ubuntu, Arch, Gentoo
        "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // Fedora, RHEL 9+
        "/etc/pki/tls/certs/ca-bundle.crt",                  // RHEL 7-8, Amazon Linux
        "/etc/ssl/ca-bundle.pem",                            // openSUSE, SLES
        "/etc/ssl/cert.pem",                                 // Alpine
        "/etc/pki/tls/cacert.pem",                           // OpenELEC
    };
    return kBundles;
}

std::string find_ca_bundle(const std::string& configured, std::span<const std::string_view> candidates) {
    if (!configured.empty()) {
        return configured;
    }
    for (std::string_view candidate : candidates) {
        std::error_code error;
        if (std::filesystem::is_regular_file(candidate, error)) {
            return std::string(candidate);
        }
    }
    return "";
}

} // namespace tllm
