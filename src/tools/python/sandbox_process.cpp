#include "tools/python/sandbox_process.h"

#include "core/check.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <grp.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace tllm::tools::sandbox {
namespace {

// The steps between fork and exec; a failed one is reported to the parent by number.
enum class ChildStep : int {
    kSignals,
    kProcessGroup,
    kDescriptors,
    kParentDeath,
    kSubreaper,
    kFork,
    kLimits,
    kGroups,
    kGid,
    kUid,
    kStillPrivileged,
    kExec,
};

const char* describe_step(ChildStep step) {
    switch (step) {
    case ChildStep::kSignals:
        return "resetting its signal handling";
    case ChildStep::kProcessGroup:
        return "creating its process group";
    case ChildStep::kDescriptors:
        return "arranging its file descriptors";
    case ChildStep::kParentDeath:
        return "arranging to die with its parent";
    case ChildStep::kSubreaper:
        return "becoming the reaper of its descendants";
    case ChildStep::kFork:
        return "starting the program's process";
    case ChildStep::kLimits:
        return "setting its resource limits";
    case ChildStep::kGroups:
        return "dropping supplementary groups";
    case ChildStep::kGid:
        return "switching to the sandbox's group id";
    case ChildStep::kUid:
        return "switching to the sandbox's user id";
    case ChildStep::kStillPrivileged:
        return "dropping root (it could switch back)";
    case ChildStep::kExec:
        return "starting the program";
    }
    return "an unknown step";
}

struct ChildFailure {
    int step;
    int error;
};

// The most descriptors a program gets placed; fixed so the children need no allocation.
constexpr size_t kMaxChildFds = 16;

// Everything the children need, as plain arrays built before the fork.
struct PreparedChild {
    const char* executable;
    char* const* argv;
    char* const* environment;
    int fds[kMaxChildFds];
    int fd_count;
    const ResourceLimit* limits;
    size_t limit_count;
    bool switch_user;
    uid_t uid;
    gid_t gid;
    pid_t parent;
};

[[noreturn]] void fail_in_child(int report_fd, ChildStep step) {
    const ChildFailure failure{static_cast<int>(step), errno};
    // Nothing to do if the report cannot be written: the parent then sees exit status 127.
    [[maybe_unused]] const ssize_t written = ::write(report_fd, &failure, sizeof failure);
    ::_exit(127);
}

void close_descriptors_from(int first) {
    if (::syscall(SYS_close_range, static_cast<unsigned>(first), ~0U, 0U) == 0) {
        return;
    }
    // Kernels before 5.9: close them one by one up to the descriptor limit.
    struct rlimit limit {};
    rlim_t end = 65536;
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < end) {
        end = limit.rlim_cur;
    }
    for (rlim_t fd = static_cast<rlim_t>(first); fd < end; ++fd) {
        ::close(static_cast<int>(fd));
    }
}

// Writes `value` (> 0) in decimal to `out`, terminated; returns the length without the terminator.
size_t format_decimal(pid_t value, char* out) {
    char reversed[16];
    size_t length = 0;
    do {
        reversed[length++] = static_cast<char>('0' + value % 10);
        value /= 10;
    } while (value > 0 && length < sizeof reversed);
    for (size_t i = 0; i < length; ++i) {
        out[i] = reversed[length - 1 - i];
    }
    out[length] = '\0';
    return length;
}

// Dies with SIGKILL when `parent` does; exits at once if it already has.
void die_with_parent(int report_fd, pid_t parent) {
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
        fail_in_child(report_fd, ChildStep::kParentDeath);
    }
    if (::getppid() != parent) {
        ::_exit(127);
    }
}

// The program's process, forked by the reaper: limits, identity, exec. Only async-signal-safe system calls.
[[noreturn]] void run_program(const PreparedChild& child, int report_fd, pid_t reaper) {
    sigset_t no_signals;
    sigemptyset(&no_signals);
    if (::sigprocmask(SIG_SETMASK, &no_signals, nullptr) != 0) {
        fail_in_child(report_fd, ChildStep::kSignals);
    }
    // Its own group, so the reaper can kill it and whatever stays in its group at once.
    if (::setpgid(0, 0) != 0) {
        fail_in_child(report_fd, ChildStep::kProcessGroup);
    }
    for (size_t i = 0; i < child.limit_count; ++i) {
        const struct rlimit value { child.limits[i].soft, child.limits[i].hard };
        if (::setrlimit(child.limits[i].resource, &value) != 0) {
            fail_in_child(report_fd, ChildStep::kLimits);
        }
    }
    if (child.switch_user) {
        if (::setgroups(0, nullptr) != 0) {
            fail_in_child(report_fd, ChildStep::kGroups);
        }
        if (::setgid(child.gid) != 0) {
            fail_in_child(report_fd, ChildStep::kGid);
        }
        if (::setuid(child.uid) != 0) {
            fail_in_child(report_fd, ChildStep::kUid);
        }
        if (child.uid != 0 && ::setuid(0) == 0) {
            errno = EPERM;
            fail_in_child(report_fd, ChildStep::kStillPrivileged);
        }
    }
    // After the user switch: changing credentials clears the parent-death signal.
    die_with_parent(report_fd, reaper);
    ::execve(child.executable, child.argv, child.environment);
    fail_in_child(report_fd, ChildStep::kExec);
}

[[noreturn]] void exit_like(int status) {
    if (WIFEXITED(status)) {
        ::_exit(WEXITSTATUS(status));
    }
    ::_exit(WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 127);
}

// SIGKILL to every current child of the single-threaded process `self` (its unreaped children, so their pids
// are still theirs). Needs CONFIG_PROC_CHILDREN; without it, bubblewrap's --die-with-parent does the work.
void kill_children_of(pid_t self) {
    char path[64] = "/proc/self/task/";
    size_t length = std::strlen(path);
    length += format_decimal(self, path + length);
    std::memcpy(path + length, "/children", sizeof "/children");
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    char buffer[4096];
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    ::close(fd);
    pid_t pid = 0;
    for (ssize_t i = 0; i < n; ++i) {
        if (buffer[i] >= '0' && buffer[i] <= '9') {
            pid = pid * 10 + (buffer[i] - '0');
        } else {
            if (pid > 0) {
                ::kill(pid, SIGKILL);
            }
            pid = 0;
        }
    }
    if (pid > 0) {
        ::kill(pid, SIGKILL);
    }
}

// The reaper, forked by us: it never execs, so it only makes async-signal-safe system calls.
[[noreturn]] void run_reaper(const PreparedChild& child, int report_fd, int gone_fd) {
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    sigemptyset(&default_action.sa_mask);
    // Ignored signals stay ignored across exec; the program must start with the defaults. SIGKILL, SIGSTOP
    // and the C library's reserved signals refuse, which is fine.
    for (int signal_number = 1; signal_number < NSIG; ++signal_number) {
        ::sigaction(signal_number, &default_action, nullptr);
    }
    // The reaper takes SIGCHLD and SIGTERM (our request to stop the program) with sigwaitinfo only.
    sigset_t awaited;
    sigemptyset(&awaited);
    sigaddset(&awaited, SIGCHLD);
    sigaddset(&awaited, SIGTERM);
    if (::sigprocmask(SIG_SETMASK, &awaited, nullptr) != 0) {
        fail_in_child(report_fd, ChildStep::kSignals);
    }
    // Out of our process group: a terminal's Ctrl-C is for us to handle, not for the sandbox.
    if (::setpgid(0, 0) != 0) {
        fail_in_child(report_fd, ChildStep::kProcessGroup);
    }
    die_with_parent(report_fd, child.parent);

    // Move every source above the target numbers first, so no dup2 overwrites a source still to be placed.
    const int count = child.fd_count;
    int moved[kMaxChildFds];
    for (int i = 0; i < count; ++i) {
        moved[i] = ::fcntl(child.fds[i], F_DUPFD_CLOEXEC, count + 2);
        if (moved[i] < 0) {
            fail_in_child(report_fd, ChildStep::kDescriptors);
        }
    }
    const int moved_report = ::fcntl(report_fd, F_DUPFD_CLOEXEC, count + 2);
    const int moved_gone = ::fcntl(gone_fd, F_DUPFD_CLOEXEC, count + 2);
    if (moved_report < 0 || moved_gone < 0) {
        fail_in_child(report_fd, ChildStep::kDescriptors);
    }
    for (int i = 0; i < count; ++i) {
        if (::dup2(moved[i], i) != i) {
            fail_in_child(moved_report, ChildStep::kDescriptors);
        }
    }
    // The report and `gone` close on exec: the program never holds them.
    if (::dup3(moved_report, count, O_CLOEXEC) != count || ::dup3(moved_gone, count + 1, O_CLOEXEC) != count + 1) {
        fail_in_child(moved_report, ChildStep::kDescriptors);
    }
    report_fd = count;
    close_descriptors_from(count + 2);

    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
        fail_in_child(report_fd, ChildStep::kSubreaper);
    }
    const pid_t reaper = ::getpid();
    // _Fork: no fork handlers, which may not run in a child of a multi-threaded process.
    const pid_t program = ::_Fork();
    if (program < 0) {
        fail_in_child(report_fd, ChildStep::kFork);
    }
    if (program == 0) {
        run_program(child, report_fd, reaper);
    }
    // The program's descriptors and the report are the program's alone now.
    for (int fd = 0; fd <= count; ++fd) {
        ::close(fd);
    }

    bool program_reaped = false;
    bool stopping = false;
    int program_status = 0;
    while (true) {
        while (true) {
            int status = 0;
            const pid_t pid = ::waitpid(-1, &status, WNOHANG | __WALL);
            if (pid > 0) {
                if (pid == program) {
                    // What the program leaves behind ends with it.
                    program_reaped = true;
                    stopping = true;
                    program_status = status;
                }
                continue;
            }
            if (pid < 0 && errno == EINTR) {
                continue;
            }
            if (pid < 0) {
                exit_like(program_status); // ECHILD: every descendant is gone
            }
            break; // some still run
        }
        if (stopping) {
            kill_children_of(reaper);
        }
        siginfo_t info;
        // While stopping, wake now and then: orphans come to the reaper without a signal.
        const struct timespec poll_interval { 0, 50'000'000 };
        const int received =
            stopping ? ::sigtimedwait(&awaited, &info, &poll_interval) : ::sigwaitinfo(&awaited, &info);
        if (received == SIGTERM && !stopping) {
            stopping = true;
            // Only the reaper reaps the program, so its group id cannot have been reused while it is unreaped.
            if (!program_reaped) {
                ::kill(-program, SIGKILL);
            }
        }
    }
}

std::vector<char*> pointers_to(std::vector<std::string>& strings) {
    std::vector<char*> pointers;
    pointers.reserve(strings.size() + 1);
    for (std::string& text : strings) {
        pointers.push_back(text.data());
    }
    pointers.push_back(nullptr);
    return pointers;
}

// Reads "Name:\t<number>" fields of a /proc/PID/status file; false when the process is gone.
bool read_status_fields(
    const std::string& path, const char* name_a, int64_t& value_a, const char* name_b, int64_t& value_b) {
    std::ifstream status(path);
    if (!status) {
        return false;
    }
    bool found_a = false;
    bool found_b = name_b == nullptr;
    std::string line;
    while (std::getline(status, line) && !(found_a && found_b)) {
        auto parse = [&](const char* name, int64_t& value) {
            const size_t length = std::strlen(name);
            if (line.compare(0, length, name) == 0 && line.size() > length && line[length] == ':') {
                value = std::strtoll(line.c_str() + length + 1, nullptr, 10);
                return true;
            }
            return false;
        };
        found_a = found_a || parse(name_a, value_a);
        if (name_b != nullptr) {
            found_b = found_b || parse(name_b, value_b);
        }
    }
    return found_a && found_b;
}

bool is_number(const std::string& text) {
    return !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
}

bool wait_readable(int fd, std::chrono::milliseconds timeout) {
    struct pollfd entry {
        fd, POLLIN, 0
    };
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        const int ready = ::poll(&entry, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
        if (ready > 0) {
            return true;
        }
        if (ready == 0 || errno != EINTR) {
            return false;
        }
    }
}

} // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
        reset();
        fd_ = other.release();
    }
    return *this;
}

int UniqueFd::release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
}

void UniqueFd::reset() {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
}

Result<Pipe> make_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        return make_error(ErrorCode::kIoError, "cannot create a pipe: {}", std::strerror(errno));
    }
    return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

Result<UniqueFd> make_sealed_memory_file(std::string_view name, std::string_view contents) {
    UniqueFd fd(::memfd_create(std::string(name).c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!fd.valid()) {
        return make_error(ErrorCode::kIoError, "cannot create an in-memory file: {}", std::strerror(errno));
    }
    size_t written = 0;
    while (written < contents.size()) {
        const ssize_t n = ::write(fd.get(), contents.data() + written, contents.size() - written);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return make_error(ErrorCode::kIoError, "cannot write an in-memory file: {}", std::strerror(errno));
        }
        written += static_cast<size_t>(n);
    }
    // Sealed, the sandbox cannot change the one copy of the code it reads.
    if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0 ||
        ::lseek(fd.get(), 0, SEEK_SET) != 0) {
        return make_error(ErrorCode::kIoError, "cannot seal an in-memory file: {}", std::strerror(errno));
    }
    return fd;
}

Result<bool> read_available(int fd, std::string& out, size_t max_bytes) {
    char buffer[65536];
    size_t total = 0;
    while (total < max_bytes) {
        const ssize_t n = ::read(fd, buffer, std::min(sizeof buffer, max_bytes - total));
        if (n > 0) {
            out.append(buffer, static_cast<size_t>(n));
            total += static_cast<size_t>(n);
        } else if (n == 0) {
            return false;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return true;
        } else {
            return make_error(ErrorCode::kIoError, "cannot read from the sandbox: {}", std::strerror(errno));
        }
    }
    return true;
}

Result<ProcessTree> ProcessTree::spawn(const SpawnPlan& plan) {
    TLLM_CHECK(plan.child_fds.size() <= kMaxChildFds, "{} descriptors for the child", plan.child_fds.size());
    TLLM_CHECK(!plan.executable.empty() && plan.executable[0] == '/', "'{}' is not absolute", plan.executable);
    std::vector<std::string> argv = plan.argv;
    std::vector<std::string> environment = plan.environment;
    const std::vector<char*> argv_pointers = pointers_to(argv);
    const std::vector<char*> environment_pointers = pointers_to(environment);
    PreparedChild child{};
    child.executable = plan.executable.c_str();
    child.argv = argv_pointers.data();
    child.environment = environment_pointers.data();
    child.fd_count = static_cast<int>(plan.child_fds.size());
    for (size_t i = 0; i < plan.child_fds.size(); ++i) {
        child.fds[i] = plan.child_fds[i];
    }
    child.limits = plan.limits.data();
    child.limit_count = plan.limits.size();
    child.switch_user = plan.switch_user;
    child.uid = plan.uid;
    child.gid = plan.gid;
    child.parent = ::getpid();

    TLLM_ASSIGN_OR_RETURN(Pipe report, make_pipe());
    TLLM_ASSIGN_OR_RETURN(Pipe gone, make_pipe());
    // No handler of ours may run in the child before it resets them.
    sigset_t all_signals;
    sigset_t previous;
    sigfillset(&all_signals);
    ::pthread_sigmask(SIG_SETMASK, &all_signals, &previous);
    const pid_t pid = ::fork();
    if (pid == 0) {
        run_reaper(child, report.write_end.get(), gone.write_end.get());
    }
    const int fork_error = errno;
    ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    if (pid < 0) {
        return make_error(ErrorCode::kIoError, "cannot start a process: {}", std::strerror(fork_error));
    }
    report.write_end.reset();
    gone.write_end.reset();
    ProcessTree tree(pid, std::move(gone.read_end));

    // End of file once the program has exec'd: the report closes on exec and the reaper closes its copy.
    ChildFailure failure{};
    ssize_t n;
    do {
        n = ::read(report.read_end.get(), &failure, sizeof failure);
    } while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(sizeof failure)) {
        tree.wait();
        const ChildStep step = static_cast<ChildStep>(failure.step);
        const ErrorCode code = step == ChildStep::kExec && (failure.error == ENOENT || failure.error == EACCES)
                                   ? ErrorCode::kNotFound
                                   : ErrorCode::kIoError;
        return make_error(code, "{} failed before it ran, while {}: {}", plan.executable, describe_step(step),
                          std::strerror(failure.error));
    }
    return tree;
}

ProcessTree::ProcessTree(ProcessTree&& other) noexcept
    : reaper_(other.reaper_), reaped_(other.reaped_), gone_(std::move(other.gone_)) {
    other.reaper_ = -1;
}

ProcessTree::~ProcessTree() {
    if (reaper_ > 0 && !reaped_) {
        stop();
        if (!wait_readable(gone_.get(), std::chrono::seconds(5))) {
            kill_reaper();
        }
        wait();
    }
}

void ProcessTree::stop() {
    if (reaper_ > 0 && !reaped_) {
        ::kill(reaper_, SIGTERM);
    }
}

void ProcessTree::kill_reaper() {
    if (reaper_ > 0 && !reaped_) {
        ::kill(reaper_, SIGKILL);
    }
}

ChildExit ProcessTree::wait() {
    TLLM_CHECK(reaper_ > 0 && !reaped_, "the reaper was reaped already");
    int status = 0;
    while (::waitpid(reaper_, &status, 0) < 0) {
        TLLM_CHECK(errno == EINTR, "waitpid({}) failed: {}", reaper_, std::strerror(errno));
    }
    reaped_ = true;
    ChildExit result;
    if (WIFEXITED(status)) {
        result.exited = true;
        result.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        result.term_signal = WTERMSIG(status);
    }
    return result;
}

std::unordered_map<uid_t, int64_t> count_tasks_by_user() {
    std::unordered_map<uid_t, int64_t> tasks;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
        const std::string name = entry.path().filename().string();
        if (!is_number(name)) {
            continue;
        }
        int64_t real_uid = -1;
        int64_t threads = 0;
        if (read_status_fields(entry.path().string() + "/status", "Uid", real_uid, "Threads", threads)) {
            tasks[static_cast<uid_t>(real_uid)] += threads;
        }
    }
    return tasks;
}

std::string find_executable(const std::string& name, std::string_view search_path) {
    auto usable = [](const std::string& path) {
        struct stat info {};
        return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode) && ::access(path.c_str(), X_OK) == 0;
    };
    if (name.empty()) {
        return "";
    }
    if (name.find('/') != std::string::npos) {
        return usable(name) ? name : "";
    }
    size_t start = 0;
    while (start <= search_path.size()) {
        size_t end = search_path.find(':', start);
        if (end == std::string_view::npos) {
            end = search_path.size();
        }
        const std::string_view directory = search_path.substr(start, end - start);
        // An empty entry would mean the current directory: never for a sandbox's launcher.
        if (!directory.empty() && directory[0] == '/') {
            const std::string candidate = std::string(directory) + "/" + name;
            if (usable(candidate)) {
                return candidate;
            }
        }
        start = end + 1;
    }
    return "";
}

} // namespace tllm::tools::sandbox
