// An HTTPS server on 127.0.0.1 with a self-signed certificate made on the spot, for the tests of the HTTP clients'
// certificate checks: trusted when the client is given the certificate as its CA bundle, refused otherwise.
#pragma once

#include "temp_dir.h"

#include <chrono>
#include <gtest/gtest.h>
#include <httplib.h>
#include <memory>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <string>
#include <thread>

namespace tllm::testing {

// A P-256 key and a one-hour certificate for 127.0.0.1 and localhost, signed by itself, as PEM files.
inline void write_self_signed_certificate(const std::string& certificate_path, const std::string& key_path) {
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
    std::unique_ptr<X509, decltype(&X509_free)> certificate(X509_new(), X509_free);
    ASSERT_TRUE(key && certificate);
    X509_set_version(certificate.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(certificate.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(certificate.get()), -60);
    X509_gmtime_adj(X509_getm_notAfter(certificate.get()), 3600);
    X509_set_pubkey(certificate.get(), key.get());
    X509_NAME* name = X509_get_subject_name(certificate.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1,
                               0);
    X509_set_issuer_name(certificate.get(), name);
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, certificate.get(), certificate.get(), nullptr, nullptr, 0);
    for (const auto& [nid, value] : {std::pair{NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost"},
                                     std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
        X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
        ASSERT_NE(extension, nullptr);
        X509_add_ext(certificate.get(), extension, -1);
        X509_EXTENSION_free(extension);
    }
    ASSERT_GT(X509_sign(certificate.get(), key.get(), EVP_sha256()), 0);
    std::unique_ptr<FILE, decltype(&std::fclose)> certificate_file(std::fopen(certificate_path.c_str(), "w"),
                                                                   std::fclose);
    std::unique_ptr<FILE, decltype(&std::fclose)> key_file(std::fopen(key_path.c_str(), "w"), std::fclose);
    ASSERT_TRUE(certificate_file && key_file);
    ASSERT_EQ(PEM_write_X509(certificate_file.get(), certificate.get()), 1);
    ASSERT_EQ(PEM_write_PrivateKey(key_file.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr), 1);
}

// Answers GET /hello with "hello over TLS" until destroyed.
class TlsServer {
  public:
    TlsServer() {
        write_self_signed_certificate(certificate_path(), dir_ / "key.pem");
        server_ = std::make_unique<httplib::SSLServer>(certificate_path().c_str(), (dir_ / "key.pem").c_str());
        server_->Get("/hello", [](const httplib::Request&, httplib::Response& response) {
            response.set_content("hello over TLS", "text/plain");
        });
        port_ = server_->bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_->listen_after_bind(); });
        // stop() is a no-op until the accept loop runs.
        while (!server_->is_running()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }
    ~TlsServer() {
        server_->stop();
        thread_.join();
    }
    TlsServer(const TlsServer&) = delete;
    TlsServer& operator=(const TlsServer&) = delete;

    std::string url(const std::string& path) const { return "https://127.0.0.1:" + std::to_string(port_) + path; }
    // The server's certificate, which is its own CA.
    std::string certificate_path() const { return dir_ / "certificate.pem"; }

  private:
    TempDir dir_;
    std::unique_ptr<httplib::SSLServer> server_;
    int port_ = 0;
    std::thread thread_;
};

} // namespace tllm::testing
