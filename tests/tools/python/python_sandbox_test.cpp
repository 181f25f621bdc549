// The python tool's sandbox, run for real: what the code prints comes back (gpt-oss docker_tool.py returns
// the process's output), each call starts from nothing, and the code cannot reach the network, the host's
// files or environment, nor outlive or overwhelm its limits. Skipped only where bubblewrap is missing or
// cannot create namespaces.
#include "../../common/temp_dir.h"
#include "tools/python/python_sandbox.h"

#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <set>
#include <sstream>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace tllm::tools {
namespace {

namespace fs = std::filesystem;

// The pids on this host whose pid namespace is `namespace_link` (as /proc/PID/ns/pid reads, "pid:[N]").
std::vector<pid_t> processes_in_namespace(const std::string& namespace_link) {
    std::vector<pid_t> found;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator("/proc", error)) {
        const std::string name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) {
            continue;
        }
        std::error_code link_error;
        const fs::path link = fs::read_symlink(entry.path() / "ns" / "pid", link_error);
        if (!link_error && link.string() == namespace_link) {
            found.push_back(static_cast<pid_t>(std::stol(name)));
        }
    }
    return found;
}

// What follows `prefix` on the first line of `output` that starts with it; empty when none does.
std::string line_after(const std::string& output, const std::string& prefix) {
    std::stringstream lines(output);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.starts_with(prefix)) {
            return line.substr(prefix.size());
        }
    }
    return "";
}

// The "pid:[N]" the sandboxed code printed on a line "NS pid:[N]".
std::string printed_namespace(const std::string& output) { return line_after(output, "NS "); }

// A TCP listener of this test process, closed at scope exit. Deliberately inheritable (no SOCK_CLOEXEC): the
// sandbox must not get it even so.
class Listener {
  public:
    explicit Listener(in_addr_t address) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        sockaddr_in bound{};
        bound.sin_family = AF_INET;
        bound.sin_addr.s_addr = address;
        socklen_t length = sizeof bound;
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&bound), sizeof bound) != 0 || ::listen(fd_, 16) != 0 ||
            ::getsockname(fd_, reinterpret_cast<sockaddr*>(&bound), &length) != 0) {
            ADD_FAILURE() << "cannot listen: " << std::strerror(errno);
            return;
        }
        port_ = ntohs(bound.sin_port);
    }
    ~Listener() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;
    int port() const { return port_; }
    bool accepted_anything() const {
        const int connection = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (connection >= 0) {
            ::close(connection);
            return true;
        }
        return false;
    }

  private:
    int fd_ = -1;
    int port_ = 0;
};

// This host's IPv4 addresses other than loopback.
std::vector<std::string> host_addresses() {
    std::vector<std::string> addresses;
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) {
        return addresses;
    }
    for (ifaddrs* entry = list; entry != nullptr; entry = entry->ifa_next) {
        if (entry->ifa_addr == nullptr || entry->ifa_addr->sa_family != AF_INET) {
            continue;
        }
        char text[INET_ADDRSTRLEN];
        const auto* address = reinterpret_cast<const sockaddr_in*>(entry->ifa_addr);
        if (::inet_ntop(AF_INET, &address->sin_addr, text, sizeof text) != nullptr &&
            std::string(text).rfind("127.", 0) != 0) {
            addresses.emplace_back(text);
        }
    }
    ::freeifaddrs(list);
    return addresses;
}

std::string python_list(const std::vector<std::string>& items) {
    std::string list = "[";
    for (const std::string& item : items) {
        list += fmt::format("'{}', ", item);
    }
    return list + "]";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class PythonSandboxTest : public ::testing::Test {
  protected:
    // One check for the whole suite: each one starts a sandbox.
    static void SetUpTestSuite() {
        Status usable = check_python_sandbox(PythonSandboxOptions{});
        usable_ = usable.ok();
        if (!usable.ok()) {
            const ErrorCode code = usable.error().code();
            skip_ = code == ErrorCode::kNotFound || code == ErrorCode::kUnsupported;
            unusable_reason_ = usable.error().to_string();
        }
    }

    void SetUp() override {
        if (!usable_) {
            if (skip_) {
                GTEST_SKIP() << "no usable sandbox here: " << unusable_reason_;
            }
            FAIL() << unusable_reason_;
        }
    }

    void TearDown() override {
        // Every run reaps what it started: this process has no child left, not even a zombie.
        int status = 0;
        EXPECT_EQ(::waitpid(-1, &status, WNOHANG), -1);
        EXPECT_EQ(errno, ECHILD);
    }

    PythonRun run(const std::string& code) { return run_with(options_, code); }

    static PythonRun run_with(const PythonSandboxOptions& options, const std::string& code) {
        Result<PythonRun> result = run_python_in_sandbox(options, code);
        if (!result.ok()) {
            ADD_FAILURE() << result.error().to_string();
            return PythonRun{};
        }
        return std::move(result).value();
    }

    PythonSandboxOptions options_;
    static inline bool usable_ = false;
    static inline bool skip_ = false;
    static inline std::string unusable_reason_;
};

TEST_F(PythonSandboxTest, PrintedOutputComesBackAsIs) {
    // harmony-tokenizer.md §2.1's example call and tool message: print(2**100) answers this text exactly.
    const PythonRun result = run("print(2**100)");
    EXPECT_EQ(result.output, "1267650600228229401496703205376\n");
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_EQ(python_tool_output(result), "1267650600228229401496703205376\n");
    EXPECT_FALSE(result.timed_out || result.output_truncated || result.cpu_time_exceeded || result.memory_error);
}

TEST_F(PythonSandboxTest, StdoutAndStderrInterleaveAndStdinIsEmpty) {
    const PythonRun result = run("import sys\n"
                                 "print('one')\n"
                                 "print('two', file=sys.stderr)\n"
                                 "print('three')\n"
                                 "print(repr(sys.stdin.read()))\n");
    EXPECT_EQ(result.output, "one\ntwo\nthree\n''\n");
}

TEST_F(PythonSandboxTest, ExceptionGivesTracebackAndStatusNote) {
    const PythonRun result = run("print('before')\nx = 1 / 0\n");
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_TRUE(result.output.starts_with("before\nTraceback (most recent call last):\n")) << result.output;
    EXPECT_TRUE(contains(result.output, "File \"/tmp/script.py\", line 2")) << result.output;
    EXPECT_TRUE(contains(result.output, "ZeroDivisionError: division by zero")) << result.output;
    const std::string answer = python_tool_output(result);
    EXPECT_TRUE(answer.starts_with(result.output)) << answer;
    EXPECT_TRUE(contains(answer, "[python: exited with status 1]")) << answer;

    const PythonRun quiet_exit = run("import sys\nsys.exit(3)\n");
    EXPECT_EQ(quiet_exit.exit_code, 3);
    EXPECT_EQ(python_tool_output(quiet_exit), "[python: exited with status 3]");
}

TEST_F(PythonSandboxTest, EmptyOutputGetsTheReferencesWarning) {
    const PythonRun result = run("x = 6 * 7\n");
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_EQ(result.output, "");
    // gpt-oss docker_tool.py's text for a run that printed nothing.
    EXPECT_EQ(python_tool_output(result),
              "[WARN] No output available. Use print() to output anything to stdout to receive the output");
}

TEST_F(PythonSandboxTest, RunsAreStateless) {
    const std::string code = "import os\n"
                             "print('existed' if os.path.exists('/tmp/state.txt') else 'fresh')\n"
                             "open('/tmp/state.txt', 'w').write('left behind')\n"
                             "print(os.getcwd())\n";
    EXPECT_EQ(run(code).output, "fresh\n/tmp\n");
    EXPECT_EQ(run(code).output, "fresh\n/tmp\n");
    // Nor did the file land in the host's /tmp.
    std::ifstream host_file("/tmp/state.txt");
    std::string host_text;
    std::getline(host_file, host_text);
    EXPECT_NE(host_text, "left behind");
}

TEST_F(PythonSandboxTest, RunsAsAnUnprivilegedUserWithoutCapabilities) {
    const std::string code = "import os\n"
                             "print(os.getuid(), os.getgid(), os.getgroups())\n"
                             "status = open('/proc/self/status').read()\n"
                             "print([l for l in status.splitlines() if l.startswith('CapEff')])\n";
    const PythonRun result = run(code);
    EXPECT_TRUE(contains(result.output, "['CapEff:\\t0000000000000000']")) << result.output;
    std::stringstream ids(result.output);
    unsigned uid = 0;
    unsigned gid = 0;
    ids >> uid >> gid;
    if (::geteuid() == 0) {
        // Root hands the sandbox an id of its own from the range, and no supplementary groups.
        EXPECT_GE(uid, options_.sandbox_uid_first);
        EXPECT_LE(uid, options_.sandbox_uid_last);
        EXPECT_EQ(gid, options_.sandbox_gid);
        EXPECT_TRUE(contains(result.output, fmt::format("{} {} []\n", uid, gid))) << result.output;
        // A run with a one-id range gets exactly that id.
        PythonSandboxOptions options = options_;
        options.sandbox_uid_first = options.sandbox_uid_last = 64999;
        EXPECT_TRUE(run_with(options, code).output.starts_with("64999 65534 []\n"));
    } else {
        EXPECT_EQ(uid, ::getuid());
        EXPECT_EQ(gid, ::getgid());
    }
}

TEST_F(PythonSandboxTest, LoopbackListenerOfTheHostIsUnreachable) {
    Listener listener(htonl(INADDR_LOOPBACK));
    const PythonRun result = run(fmt::format(R"(import os, socket
try:
    socket.create_connection(('127.0.0.1', {}), timeout=2)
    print('connected')
except OSError as error:
    print('refused', type(error).__name__)
sockets = []
for name in os.listdir('/proc/self/fd'):
    try:
        socket.socket(fileno=int(name)).detach()
        sockets.append(name)
    except OSError:
        pass
print('inherited sockets', sockets)
print('interfaces', [name for _, name in socket.if_nameindex()])
)",
                                             listener.port()));
    EXPECT_TRUE(result.output.starts_with("refused ConnectionRefusedError\n")) << result.output;
    EXPECT_TRUE(contains(result.output, "inherited sockets []\n")) << result.output;
    EXPECT_TRUE(contains(result.output, "interfaces ['lo']\n")) << result.output;
    EXPECT_FALSE(listener.accepted_anything());
}

TEST_F(PythonSandboxTest, DnsAndEveryOtherAddressFail) {
    Listener listener(htonl(INADDR_ANY));
    std::vector<std::string> targets = host_addresses();
    targets.insert(targets.end(), {"1.1.1.1", "8.8.8.8", "10.0.0.1"});
    const PythonRun result = run(fmt::format(R"(import socket
try:
    socket.getaddrinfo('example.com', 80)
    print('resolved')
except socket.gaierror:
    print('no dns')
for address in {}:
    try:
        socket.create_connection((address, {}), timeout=2)
        print('connected', address)
    except OSError as error:
        print('unreachable', address, type(error).__name__)
)",
                                             python_list(targets), listener.port()));
    EXPECT_TRUE(result.output.starts_with("no dns\n")) << result.output;
    EXPECT_FALSE(contains(result.output, "connected")) << result.output;
    for (const std::string& target : targets) {
        EXPECT_TRUE(contains(result.output, "unreachable " + target + " ")) << result.output;
    }
    EXPECT_FALSE(listener.accepted_anything());
}

TEST_F(PythonSandboxTest, WritesOutsideTheSandboxNeverReachTheHost) {
    testing::TempDir host_directory;
    const std::string name = fmt::format("tllm-sandbox-escape-{}", ::getpid());
    const std::vector<std::string> blocked = {host_directory / name, "/usr/" + name, "/" + name, "/dev/" + name};
    // The test's working directory may lie under /tmp, where the sandbox has its own: only the host's view of
    // it is checked.
    const std::string in_working_directory = (fs::current_path() / name).string();
    const PythonRun result = run(fmt::format(R"(for path in {} + ['{}', '/tmp/{}']:
    try:
        with open(path, 'w') as file:
            file.write('escaped')
        print('wrote', path)
    except OSError as error:
        print('blocked', path, type(error).__name__)
)",
                                             python_list(blocked), in_working_directory, name));
    for (const std::string& path : blocked) {
        EXPECT_TRUE(contains(result.output, "blocked " + path + " ")) << result.output;
        EXPECT_FALSE(fs::exists(path)) << path;
    }
    EXPECT_FALSE(fs::exists(in_working_directory));
    // The sandbox's own /tmp takes the write, and it is not the host's.
    EXPECT_TRUE(contains(result.output, "wrote /tmp/" + name + "\n")) << result.output;
    EXPECT_FALSE(fs::exists("/tmp/" + name));
}

TEST_F(PythonSandboxTest, HostFilesAreInvisible) {
    testing::TempDir host_directory;
    const std::string secret_path = host_directory / "secret.txt";
    const std::string secret = fmt::format("hunter2-{}", ::getpid());
    std::ofstream(secret_path) << secret;
    // Readable by anyone on the host: only the sandbox's own file system hides it.
    ::chmod(host_directory.path().c_str(), 0755);
    ::chmod(secret_path.c_str(), 0644);
    const std::vector<std::string> hidden = {secret_path, "/root", "/work", "/home", "/etc/passwd",  "/etc/shadow",
                                             "/var",      "/opt",  "/mnt",  "/run",  TLLM_SOURCE_DIR};
    const PythonRun result = run(fmt::format(R"(import os
for path in {}:
    print(path, 'visible' if os.path.exists(path) else 'absent')
try:
    print(open('{}').read())
except OSError as error:
    print('unreadable', type(error).__name__)
for name in os.listdir('/'):
    print('ROOT', name)
)",
                                             python_list(hidden), secret_path));
    for (const std::string& path : hidden) {
        EXPECT_TRUE(contains(result.output, path + " absent\n")) << result.output;
    }
    EXPECT_TRUE(contains(result.output, "unreadable FileNotFoundError\n")) << result.output;
    EXPECT_FALSE(contains(result.output, secret)) << result.output;
    // The root holds what python needs and nothing else of the host's.
    const std::set<std::string> allowed = {"bin",    "dev",  "etc",  "lib", "lib32", "lib64",
                                           "libx32", "proc", "sbin", "tmp", "usr"};
    std::stringstream lines(result.output);
    std::string line;
    int entries = 0;
    while (std::getline(lines, line)) {
        if (line.starts_with("ROOT ")) {
            ++entries;
            EXPECT_TRUE(allowed.count(line.substr(5))) << line;
        }
    }
    EXPECT_GE(entries, 4) << result.output; // at least /usr, /tmp, /proc, /dev
}

TEST_F(PythonSandboxTest, HostEnvironmentDoesNotLeak) {
    const std::string secret = fmt::format("s3cr3t-{}", ::getpid());
    ::setenv("TLLM_SANDBOX_TEST_SECRET", secret.c_str(), 1);
    const PythonRun result = run(R"(import glob, os
print(sorted(os.environ.items()))
for path in glob.glob('/proc/*/environ'):
    try:
        print(path, open(path, 'rb').read())
    except OSError:
        pass
)");
    ::unsetenv("TLLM_SANDBOX_TEST_SECRET");
    EXPECT_EQ(result.exit_code, 0) << result.output;
    EXPECT_FALSE(contains(result.output, secret)) << result.output;
    EXPECT_FALSE(contains(result.output, "TLLM_SANDBOX_TEST_SECRET")) << result.output;
    EXPECT_TRUE(contains(result.output, "('HOME', '/tmp')")) << result.output;
}

TEST_F(PythonSandboxTest, ForkBombIsContainedAndLeavesNothingBehind) {
    PythonSandboxOptions options = options_;
    options.limits.wall_seconds = 2;
    options.limits.max_processes = 16;
    const PythonRun result = run_with(options, R"(import os
print('NS', os.readlink('/proc/self/ns/pid'), flush=True)
while True:
    try:
        os.fork()
    except OSError:
        pass
)");
    EXPECT_TRUE(result.timed_out);
    EXPECT_LT(result.wall_seconds, 2 + 5);
    EXPECT_TRUE(contains(python_tool_output(result), "[python: stopped after the 2 s wall-clock limit]"))
        << python_tool_output(result);
    const std::string pid_namespace = printed_namespace(result.output);
    ASSERT_FALSE(pid_namespace.empty()) << result.output;
    EXPECT_EQ(processes_in_namespace(pid_namespace), std::vector<pid_t>{});
    // The host, and the next sandbox, are fine.
    EXPECT_EQ(run("print(6 * 7)").output, "42\n");
}

TEST_F(PythonSandboxTest, SubprocessStormStopsAtTheProcessLimit) {
    PythonSandboxOptions options = options_;
    options.limits.max_processes = 16;
    options.limits.wall_seconds = 15;
    const PythonRun result = run_with(options, R"(import os, subprocess
print('NS', os.readlink('/proc/self/ns/pid'), flush=True)
children = []
try:
    for _ in range(200):
        children.append(subprocess.Popen(['sleep', '60']))
except OSError as error:
    print('stopped after', len(children), type(error).__name__, flush=True)
)");
    const std::string stopped = line_after(result.output, "stopped after ");
    ASSERT_TRUE(stopped.ends_with(" BlockingIOError")) << result.output;
    const int started = std::stoi(stopped);
    // The main process counts too. As root the sandbox has a user id of its own, so the budget is exact;
    // otherwise the user's other processes come and go within it.
    if (::geteuid() == 0) {
        EXPECT_EQ(started, options.limits.max_processes - 1);
    } else {
        EXPECT_GE(started, 1);
        EXPECT_LT(started, options.limits.max_processes);
    }
    // The sleepers did not keep the run alive: it ended with the main process.
    EXPECT_FALSE(result.timed_out);
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_EQ(processes_in_namespace(printed_namespace(result.output)), std::vector<pid_t>{});
}

TEST_F(PythonSandboxTest, HugeAllocationRaisesMemoryError) {
    // Below the limit, memory works as usual.
    EXPECT_EQ(run("print(len(bytearray(16 * 2**20)))").output, "16777216\n");
    const PythonRun result = run("data = bytearray(10 * 2**30)\nprint(len(data))\n");
    EXPECT_TRUE(result.memory_error);
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_TRUE(contains(result.output, "\nMemoryError\n")) << result.output;
    const std::string answer = python_tool_output(result);
    EXPECT_TRUE(contains(answer, "[python: out of memory: the sandbox allows 2 GiB per process]")) << answer;
    EXPECT_EQ(run("print('still here')").output, "still here\n");
}

TEST_F(PythonSandboxTest, InfiniteLoopHitsTheCpuLimit) {
    PythonSandboxOptions options = options_;
    options.limits.cpu_seconds = 1;
    options.limits.wall_seconds = 30;
    const PythonRun result = run_with(options, "while True:\n    pass\n");
    EXPECT_TRUE(result.cpu_time_exceeded);
    EXPECT_EQ(result.term_signal, SIGXCPU);
    EXPECT_FALSE(result.timed_out);
    EXPECT_EQ(python_tool_output(result), "[python: stopped after the 1 s CPU time limit]");
}

TEST_F(PythonSandboxTest, SleepHitsTheWallClockLimit) {
    PythonSandboxOptions options = options_;
    options.limits.wall_seconds = 2;
    const PythonRun result = run_with(options, "import time\nprint('sleeping')\ntime.sleep(100)\nprint('woke')\n");
    EXPECT_TRUE(result.timed_out);
    EXPECT_GE(result.wall_seconds, 2.0);
    EXPECT_LT(result.wall_seconds, 2.0 + 5);
    // What was printed before the limit is kept.
    EXPECT_EQ(python_tool_output(result), "sleeping\n[python: stopped after the 2 s wall-clock limit]");
}

TEST_F(PythonSandboxTest, TheUserCanStopARunEarly) {
    std::atomic<bool> cancel{false};
    PythonSandboxOptions options = options_;
    options.cancel = &cancel;
    std::thread user([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(700));
        cancel.store(true); // Ctrl-C in the chat
    });
    const PythonRun result = run_with(options, "import time\nprint('working', flush=True)\ntime.sleep(100)\n");
    user.join();
    EXPECT_TRUE(result.cancelled);
    EXPECT_FALSE(result.timed_out);
    EXPECT_LT(result.wall_seconds, 0.7 + 5);
    EXPECT_EQ(python_tool_output(result), "working\n[python: stopped by the user]");
}

TEST_F(PythonSandboxTest, HugeOutputKeepsItsStartAndEnd) {
    PythonSandboxOptions options = options_;
    options.limits.max_output_bytes = 4096;
    const PythonRun result = run_with(options, "for i in range(20000):\n    print(f'line {i}')\nprint('END')\n");
    uint64_t expected_bytes = std::string("END\n").size();
    for (int i = 0; i < 20000; ++i) {
        expected_bytes += fmt::format("line {}\n", i).size();
    }
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_TRUE(result.output_truncated);
    EXPECT_EQ(result.output_bytes, expected_bytes);
    EXPECT_TRUE(result.output.starts_with("line 0\nline 1\n")) << result.output.substr(0, 100);
    EXPECT_TRUE(result.output.ends_with("line 19999\nEND\n"));
    EXPECT_TRUE(contains(result.output, " bytes omitted ...]"));
    EXPECT_LT(result.output.size(), 4096u + 64);
    EXPECT_TRUE(contains(python_tool_output(result),
                         fmt::format("[python: output truncated: it was {} bytes, only the first and last 2048 "
                                     "bytes are shown]",
                                     expected_bytes)))
        << python_tool_output(result).substr(4000);
}

TEST_F(PythonSandboxTest, TruncationNeverSplitsACharacter) {
    PythonSandboxOptions options = options_;
    // An odd cap: both cuts fall inside a two-byte "é".
    options.limits.max_output_bytes = 4099;
    const PythonRun result = run_with(options, "print('\u00e9' * 5000)\n");
    ASSERT_TRUE(result.output_truncated);
    std::string text = result.output;
    const size_t marker = text.find("\n[... ");
    ASSERT_NE(marker, std::string::npos) << text;
    text.erase(marker, text.find("...]\n", marker) + 5 - marker);
    ASSERT_TRUE(text.ends_with("\n"));
    text.pop_back();
    ASSERT_EQ(text.size() % 2, 0u);
    for (size_t i = 0; i < text.size(); i += 2) {
        ASSERT_EQ(text.substr(i, 2), "\xC3\xA9") << "at byte " << i;
    }
}

TEST_F(PythonSandboxTest, EndlessOutputIsStopped) {
    PythonSandboxOptions options = options_;
    options.limits.max_output_bytes = 4096;
    options.limits.stop_output_bytes = 1 << 20;
    const PythonRun result = run_with(options, "while True:\n    print('y' * 1000)\n");
    EXPECT_TRUE(result.output_stopped);
    EXPECT_GT(result.output_bytes, uint64_t{1} << 20);
    EXPECT_FALSE(result.timed_out);
    EXPECT_TRUE(contains(python_tool_output(result), "[python: stopped for writing more than 1 MiB of output]"));
}

TEST_F(PythonSandboxTest, InvalidUtf8OutputIsReplaced) {
    const PythonRun result = run("import sys\nsys.stdout.buffer.write(b'ok \\xff\\xc3 \\xe2\\x82\\xac done\\n')\n");
    EXPECT_EQ(result.output, "ok \xEF\xBF\xBD\xEF\xBF\xBD \xE2\x82\xAC done\n");
}

TEST(PythonSandboxSetup, MissingBubblewrapIsReportedWithItsPackage) {
    PythonSandboxOptions options;
    options.executable_search_path = "/nonexistent-dir";
    Status status = check_python_sandbox(options);
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error().code(), ErrorCode::kNotFound);
    EXPECT_TRUE(contains(status.error().message(), "python tool needs bubblewrap: apt-get install bubblewrap"))
        << status.error().message();

    options.bwrap_path = "/nonexistent-dir/bwrap";
    status = check_python_sandbox(options);
    ASSERT_FALSE(status.ok());
    EXPECT_TRUE(contains(status.error().message(), "apt-get install bubblewrap")) << status.error().message();
}

TEST(PythonSandboxSetup, NonsenseLimitsAreRejected) {
    PythonSandboxOptions options;
    options.limits.max_output_bytes = 0;
    Result<PythonRun> result = run_python_in_sandbox(options, "print(1)");
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code(), ErrorCode::kInvalidArgument);
    options = PythonSandboxOptions{};
    options.python_path = "python3";
    EXPECT_EQ(check_python_sandbox(options).error().code(), ErrorCode::kInvalidArgument);
}

} // namespace
} // namespace tllm::tools
