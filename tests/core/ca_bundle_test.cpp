// find_ca_bundle: the configured file wins; else the first well-known bundle that exists as a regular file.
#include "../common/files.h"
#include "../common/temp_dir.h"
#include "core/ca_bundle.h"

#include <array>
#include <filesystem>
#include <gtest/gtest.h>

namespace tllm {
namespace {

TEST(CaBundle, TheConfiguredFileWinsEvenWhenMissing) {
    // A wrong SSL_CERT_FILE should fail loudly at the TLS handshake, not be silently replaced.
    EXPECT_EQ(find_ca_bundle("/nowhere/ca.pem"), "/nowhere/ca.pem");
}

TEST(CaBundle, TheFirstExistingCandidateThatIsAFile) {
    testing::TempDir dir;
    std::filesystem::create_directories(dir / "a-directory.pem");
    testing::write_file(dir / "second.pem", "-----BEGIN CERTIFICATE-----\n");
    testing::write_file(dir / "third.pem", "-----BEGIN CERTIFICATE-----\n");
    const std::string missing = dir / "missing.pem", directory = dir / "a-directory.pem", second = dir / "second.pem",
                      third = dir / "third.pem";
    const std::array<std::string_view, 4> candidates = {missing, directory, second, third};
    EXPECT_EQ(find_ca_bundle("", candidates), second);
    const std::array<std::string_view, 2> none = {missing, directory};
    EXPECT_EQ(find_ca_bundle("", none), "");
}

TEST(CaBundle, DebiansPlaceComesFirst) {
    ASSERT_FALSE(well_known_ca_bundles().empty());
    EXPECT_EQ(well_known_ca_bundles().front(), "/etc/ssl/certs/ca-certificates.crt");
}

} // namespace
} // namespace tllm
