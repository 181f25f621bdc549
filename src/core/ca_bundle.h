// Where this machine keeps its CA certificates for HTTPS. The libcurl inside the portable release was built on
// Debian and looks only in Debian's place (/etc/ssl/certs/ca-certificates.crt); Fedora, RHEL, openSUSE and Alpine
// keep the bundle elsewhere, so downloads there would fail certificate checks without this.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace tllm {

// The bundle files of the common distributions, Debian's first.
std::span<const std::string_view> well_known_ca_bundles();

// `configured` (Environment::ca_bundle) when set, else the first of `candidates` that is a regular file, else ""
// (libcurl's built-in default).
std::string find_ca_bundle(const std::string& configured,
                           std::span<const std::string_view> candidates = well_known_ca_bundles());

} // namespace tllm
