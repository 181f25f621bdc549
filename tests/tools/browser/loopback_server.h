// Servers on 127.0.0.1 for the browser's network tests: an httplib server on a free port, and a listener that
// accepts connections but never answers (for timeouts).
#pragma once

#include <arpa/inet.h>
#include <chrono>
#include <functional>
#include <httplib.h>
#include <netinet/in.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace tllm::testing {

class LoopbackServer {
  public:
    explicit LoopbackServer(const std::function<void(httplib::Server&)>& add_routes) {
        server_.set_keep_alive_timeout(1);
        add_routes(server_);
        port_ = server_.bind_to_any_port("127.0.0.1");
        if (port_ <= 0) {
            throw std::runtime_error("cannot bind a loopback port");
        }
        thread_ = std::thread([this] { server_.listen_after_bind(); });
        // stop() does nothing before the accept loop runs.
        while (!server_.is_running()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }
    ~LoopbackServer() {
        server_.stop();
        thread_.join();
    }
    LoopbackServer(const LoopbackServer&) = delete;
    LoopbackServer& operator=(const LoopbackServer&) = delete;

    int port() const { return port_; }
    std::string url(const std::string& path = "") const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

  private:
    httplib::Server server_;
    int port_ = 0;
    std::thread thread_;
};

// Connections complete (the kernel queues them) but no byte ever comes back.
class SilentListener {
  public:
    SilentListener() {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof(address);
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
            ::listen(fd_, 16) != 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
            throw std::runtime_error("cannot open a silent loopback listener");
        }
        port_ = ntohs(address.sin_port);
    }
    ~SilentListener() { ::close(fd_); }
    SilentListener(const SilentListener&) = delete;
    SilentListener& operator=(const SilentListener&) = delete;

    std::string url(const std::string& path = "") const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

  private:
    int fd_ = -1;
    int port_ = 0;
};

} // namespace tllm::testing
