// A local stand-in for both model hubs (cpp-httplib on 127.0.0.1, an ephemeral port), with the faults the
// downloader must survive: Hugging Face's listing and resolve URLs (302 to a "CDN" on another host name,
// localhost), optionally over TLS, ModelScope's listing and file URLs, byte ranges, a connection cut mid-file, injected
// 503s, a server that ignores Range, a token check, and delays. It counts what it was asked for and what it sent.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <fmt/format.h>
#include <httplib.h>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace tllm::testing {

inline std::string sha256_hex(const std::string& data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
    std::string hex;
    for (unsigned int i = 0; i < length; ++i) {
        hex += fmt::format("{:02x}", digest[i]);
    }
    return hex;
}

// Deterministic pseudo-random bytes, so a misplaced range shows up as a content mismatch.
inline std::string random_bytes(size_t size, uint64_t seed) {
    std::string bytes(size, '\0');
    uint64_t state = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < size; ++i) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes[i] = static_cast<char>(state >> 56);
    }
    return bytes;
}

class FakeHub {
  public:
    struct File {
        std::string content;
        std::string listed_sha256; // what the listing claims; "" = the true hash
    };
    struct Download {
        std::string path;
        int64_t range_start = 0;
        std::string authorization;
        std::string host;
    };
    static constexpr const char* kCommit = "0123456789abcdef0123456789abcdef01234567";

    // Plain HTTP, or HTTPS with the given PEM certificate and key (testing::write_self_signed_certificate).
    explicit FakeHub(const std::string& certificate_path = "", const std::string& key_path = "")
        : scheme_(certificate_path.empty() ? "http" : "https"),
          server_(certificate_path.empty()
                      ? std::make_unique<httplib::Server>()
                      : std::make_unique<httplib::SSLServer>(certificate_path.c_str(), key_path.c_str())) {
        // Enough threads that idle keep-alive connections of several clients never queue a new one.
        server_->new_task_queue = [] { return new httplib::ThreadPool(48); };
        server_->set_keep_alive_timeout(1);
        server_->set_pre_routing_handler([this](const httplib::Request& request, httplib::Response&) {
            if (ignore_ranges) {
                // httplib slices bodies by the parsed Range itself; the request object is the server's own
                // (non-const) one, so clearing it makes this answer 200 with the whole body like a server
                // without range support.
                const_cast<httplib::Request&>(request).ranges.clear();
            }
            return httplib::Server::HandlerResponse::Unhandled;
        });
        server_->Get(R"(/api/models/([^/]+)/([^/]+)/revision/([^/]+))",
                     [this](const httplib::Request& q, httplib::Response& r) { hf_listing(q, r); });
        server_->Get(R"(/api/v1/models/([^/]+)/([^/]+)/repo/files)",
                     [this](const httplib::Request& q, httplib::Response& r) { modelscope_listing(q, r); });
        server_->Get(R"(/api/v1/models/([^/]+)/([^/]+)/repo)", [this](const httplib::Request& q, httplib::Response& r) {
            std::string repo = q.matches[1].str() + "/" + q.matches[2].str();
            serve(q, r, repo, q.get_param_value("FilePath"));
        });
        server_->Get(R"(/cdn/([^/]+)/([^/]+)/(.+))", [this](const httplib::Request& q, httplib::Response& r) {
            serve(q, r, q.matches[1].str() + "/" + q.matches[2].str(), q.matches[3].str());
        });
        server_->Get(R"(/([^/]+)/([^/]+)/resolve/([^/]+)/(.+))",
                     [this](const httplib::Request& q, httplib::Response& r) { hf_resolve(q, r); });
        port_ = server_->bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_->listen_after_bind(); });
        // stop() is a no-op until the accept loop runs, so a hub stopped right away would otherwise never stop.
        while (!server_->is_running()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }
    ~FakeHub() { stop(); }

    void stop() {
        server_->stop();
        if (thread_.joinable()) {
            thread_.join();
        }
    }
    int port() const { return port_; }
    std::string url() const { return scheme_ + "://127.0.0.1:" + std::to_string(port_); }

    void add_repo(const std::string& repo, std::map<std::string, File> files) {
        std::lock_guard<std::mutex> lock(mutex_);
        repos_[repo] = std::move(files);
    }
    void set_file(const std::string& repo, const std::string& path, File file) {
        std::lock_guard<std::mutex> lock(mutex_);
        repos_[repo][path] = std::move(file);
    }
    // The next download of `path` whose range covers `offset` sends the bytes before it, then closes.
    void cut_once(const std::string& path, int64_t offset) {
        std::lock_guard<std::mutex> lock(mutex_);
        cuts_[path] = offset;
    }
    void reset_counters() {
        std::lock_guard<std::mutex> lock(mutex_);
        requested_.clear();
        served_.clear();
        downloads_.clear();
        listings_ = 0;
        listing_authorizations_.clear();
    }
    // Bytes asked for by Range headers (the whole file when none), and bytes actually sent.
    int64_t requested_bytes(const std::string& path) {
        std::lock_guard<std::mutex> lock(mutex_);
        return requested_[path];
    }
    int64_t served_bytes(const std::string& path) {
        std::lock_guard<std::mutex> lock(mutex_);
        return served_[path];
    }
    std::vector<Download> downloads() {
        std::lock_guard<std::mutex> lock(mutex_);
        return downloads_;
    }
    int listings() {
        std::lock_guard<std::mutex> lock(mutex_);
        return listings_;
    }
    std::vector<std::string> listing_authorizations() {
        std::lock_guard<std::mutex> lock(mutex_);
        return listing_authorizations_;
    }

    std::atomic<bool> ignore_ranges{false};
    std::atomic<int> unavailable_downloads{0}; // answer this many downloads with 503
    std::atomic<int> delay_per_piece_ms{0};
    std::string required_token; // set before requests: HF endpoints then want "Bearer <token>"
    std::string cdn_host = "localhost";

  private:
    static constexpr size_t kPiece = 16 << 10;

    bool authorized(const httplib::Request& request, httplib::Response& response) {
        if (required_token.empty() || request.get_header_value("Authorization") == "Bearer " + required_token) {
            return true;
        }
        response.status = 401;
        response.set_content(R"({"error":"Invalid credentials in Authorization header"})", "application/json");
        return false;
    }

    void hf_listing(const httplib::Request& request, httplib::Response& response) {
        std::lock_guard<std::mutex> lock(mutex_);
        ++listings_;
        listing_authorizations_.push_back(request.get_header_value("Authorization"));
        if (!authorized(request, response)) {
            return;
        }
        auto repo = repos_.find(request.matches[1].str() + "/" + request.matches[2].str());
        if (repo == repos_.end()) {
            response.status = 404;
            response.set_content(R"({"error":"Repository not found"})", "application/json");
            return;
        }
        nlohmann::json siblings = nlohmann::json::array();
        for (const auto& [path, file] : repo->second) {
            std::string sha = file.listed_sha256.empty() ? sha256_hex(file.content) : file.listed_sha256;
            siblings.push_back({{"rfilename", path},
                                {"size", file.content.size()},
                                {"blobId", sha.substr(0, 40)},
                                {"lfs", {{"sha256", sha}, {"size", file.content.size()}, {"pointerSize", 134}}}});
        }
        nlohmann::json body = {{"id", repo->first}, {"sha", kCommit}, {"siblings", siblings}};
        response.set_content(body.dump(), "application/json");
    }

    void modelscope_listing(const httplib::Request& request, httplib::Response& response) {
        std::lock_guard<std::mutex> lock(mutex_);
        ++listings_;
        listing_authorizations_.push_back(request.get_header_value("Authorization"));
        auto repo = repos_.find(request.matches[1].str() + "/" + request.matches[2].str());
        if (repo == repos_.end() || request.get_param_value("Recursive") != "True") {
            response.status = 404;
            response.set_content(R"({"Code":10010205,"Message":"model not found","Success":false})",
                                 "application/json");
            return;
        }
        nlohmann::json files = nlohmann::json::array();
        std::set<std::string> directories;
        for (const auto& [path, file] : repo->second) {
            if (size_t slash = path.rfind('/'); slash != std::string::npos) {
                directories.insert(path.substr(0, slash));
            }
            std::string sha = file.listed_sha256.empty() ? sha256_hex(file.content) : file.listed_sha256;
            files.push_back({{"Name", path.substr(path.rfind('/') + 1)},
                             {"Path", path},
                             {"Type", "blob"},
                             {"Size", file.content.size()},
                             {"Sha256", sha},
                             {"Revision", kCommit},
                             {"IsLFS", true}});
        }
        for (const std::string& directory : directories) {
            files.push_back({{"Name", directory}, {"Path", directory}, {"Type", "tree"}, {"Size", 0}});
        }
        nlohmann::json body = {{"Code", 200}, {"Data", {{"Files", files}}}, {"Message", "success"}, {"Success", true}};
        response.set_content(body.dump(), "application/json");
    }

    void hf_resolve(const httplib::Request& request, httplib::Response& response) {
        if (!authorized(request, response)) {
            return;
        }
        std::string repo = request.matches[1].str() + "/" + request.matches[2].str();
        std::string path = request.matches[4].str();
        {
            std::lock_guard<std::mutex> lock(mutex_);
            auto found = repos_.find(repo);
            if (found == repos_.end() || found->second.count(path) == 0) {
                response.status = 404;
                response.set_header("X-Error-Code", "EntryNotFound");
                return;
            }
        }
        response.status = 302;
        response.set_header("X-Repo-Commit", kCommit);
        response.set_header("Location",
                            scheme_ + "://" + cdn_host + ":" + std::to_string(port_) + "/cdn/" + repo + "/" + path);
    }

    void serve(const httplib::Request& request,
               httplib::Response& response,
               const std::string& repo,
               const std::string& path) {
        std::lock_guard<std::mutex> lock(mutex_);
        auto found = repos_.find(repo);
        if (found == repos_.end() || found->second.count(path) == 0) {
            response.status = 404;
            return;
        }
        if (unavailable_downloads > 0) {
            --unavailable_downloads;
            response.status = 503;
            return;
        }
        auto content = std::make_shared<const std::string>(found->second.at(path).content);
        int64_t size = static_cast<int64_t>(content->size());
        int64_t first = 0;
        int64_t last = size - 1;
        if (!request.ranges.empty()) {
            first = request.ranges[0].first >= 0 ? request.ranges[0].first : size - request.ranges[0].second;
            last = request.ranges[0].first >= 0 && request.ranges[0].second >= 0 ? request.ranges[0].second : size - 1;
        }
        requested_[path] += last - first + 1;
        downloads_.push_back(
            {path, first, request.get_header_value("Authorization"), request.get_header_value("Host")});
        int64_t cut_at = -1;
        if (auto cut = cuts_.find(path); cut != cuts_.end() && cut->second >= first && cut->second <= last) {
            cut_at = cut->second;
            cuts_.erase(cut);
        }
        response.set_content_provider(
            content->size(), "application/octet-stream",
            [this, content, path, cut_at](size_t offset, size_t length, httplib::DataSink& sink) {
                if (delay_per_piece_ms > 0) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(delay_per_piece_ms.load()));
                }
                size_t piece = std::min(length, kPiece);
                if (cut_at >= 0) {
                    if (static_cast<int64_t>(offset) >= cut_at) {
                        return false; // httplib drops the connection mid-body
                    }
                    piece = std::min(piece, static_cast<size_t>(cut_at) - offset);
                }
                sink.write(content->data() + offset, piece);
                std::lock_guard<std::mutex> lock(mutex_);
                served_[path] += static_cast<int64_t>(piece);
                return true;
            });
    }

    std::string scheme_;
    std::unique_ptr<httplib::Server> server_;
    std::thread thread_;
    int port_ = 0;
    std::mutex mutex_;
    std::map<std::string, std::map<std::string, File>> repos_;
    std::map<std::string, int64_t> cuts_;
    std::map<std::string, int64_t> requested_;
    std::map<std::string, int64_t> served_;
    std::vector<Download> downloads_;
    int listings_ = 0;
    std::vector<std::string> listing_authorizations_;
};

} // namespace tllm::testing
