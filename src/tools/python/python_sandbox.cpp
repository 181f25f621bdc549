#include "tools/python/python_sandbox.h"

#include "core/log.h"
#include "tools/python/output_capture.h"
#include "tools/python/sandbox_process.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <optional>
#include <poll.h>
#include <random>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_map>
#include <utility>

namespace tllm::tools {
namespace {

using sandbox::ChildExit;
using sandbox::OutputCapture;
using sandbox::ProcessTree;
using sandbox::UniqueFd;
using Clock = std::chrono::steady_clock;

// The descriptors bubblewrap gets besides stdin/stdout/stderr.
constexpr int kScriptFd = 3;
constexpr int kStatusFd = 4;
// Where the reference puts the code, so tracebacks name the same file.
constexpr const char* kScriptPath = "/tmp/script.py";
// gpt-oss docker_tool.py's answer when the code printed nothing.
constexpr std::string_view kNoOutputWarning =
    "[WARN] No output available. Use print() to output anything to stdout to receive the output";
// bubblewrap's own processes while the code runs: its launcher outside the namespaces and the init inside.
constexpr int kBubblewrapProcesses = 2;
// The sandbox's whole environment: nothing of ours leaks in. -I makes the code's interpreter ignore PYTHON*
// variables (it gets -B -u instead); these two reach the interpreters the code starts itself.
constexpr std::pair<const char*, const char*> kSandboxEnvironment[] = {
    {"PATH", "/usr/local/bin:/usr/bin:/bin"},
    {"HOME", "/tmp"},
    {"TMPDIR", "/tmp"},
    {"LANG", "C.UTF-8"},
    {"PYTHONDONTWRITEBYTECODE", "1"},
    {"PYTHONUNBUFFERED", "1"},
    {"MPLBACKEND", "Agg"}, // no display: plots render to files
    // Threads count against the process limit; numeric libraries would start one per host core.
    {"OMP_NUM_THREADS", "1"},
    {"OPENBLAS_NUM_THREADS", "1"},
    {"MKL_NUM_THREADS", "1"},
};
// How long a stopped sandbox gets to be gone before its reaper is killed outright.
constexpr std::chrono::seconds kStopGrace{5};
// How long, once the sandbox is gone, its pipes may take to reach end of file.
constexpr std::chrono::seconds kDrainGrace{1};
// How often a run that can be cancelled looks at its flag.
constexpr std::chrono::milliseconds kCancelPoll{100};

std::string format_bytes(uint64_t bytes) {
    if (bytes >= (uint64_t{1} << 30) && bytes % (uint64_t{1} << 30) == 0) {
        return fmt::format("{} GiB", bytes >> 30);
    }
    if (bytes >= (uint64_t{1} << 20) && bytes % (uint64_t{1} << 20) == 0) {
        return fmt::format("{} MiB", bytes >> 20);
    }
    return fmt::format("{} bytes", bytes);
}

Status validate(const PythonSandboxOptions& options) {
    const PythonSandboxLimits& limits = options.limits;
    // A year bounds the wall clock so the deadline's arithmetic cannot overflow.
    if (!(limits.wall_seconds > 0) || !(limits.wall_seconds < 365.0 * 86400) || limits.cpu_seconds <= 0 ||
        limits.memory_bytes == 0 || limits.max_processes <= 0 || limits.max_file_bytes == 0 ||
        limits.max_open_files < 8 || limits.tmp_bytes == 0 || limits.max_output_bytes == 0 ||
        limits.stop_output_bytes < limits.max_output_bytes) {
        return make_error(ErrorCode::kInvalidArgument,
                          "python sandbox limits must be positive (and at least 8 open files, and a stop "
                          "point no smaller than the output cap)");
    }
    if (options.python_path.empty() || options.python_path[0] != '/') {
        return make_error(ErrorCode::kInvalidArgument, "the sandbox's python ('{}') must be an absolute path",
                          options.python_path);
    }
    for (const std::string& path : options.read_only_paths) {
        if (path.empty() || path[0] != '/') {
            return make_error(ErrorCode::kInvalidArgument, "read-only path '{}' is not absolute", path);
        }
    }
    if (options.sandbox_uid_first == 0 || options.sandbox_uid_first > options.sandbox_uid_last ||
        options.sandbox_gid == 0) {
        return make_error(ErrorCode::kInvalidArgument, "the sandbox's user ids must be a range that leaves out root "
                                                       "(and its group cannot be root's)");
    }
    return {};
}

void add(std::vector<std::string>& arguments, std::initializer_list<std::string> more) {
    arguments.insert(arguments.end(), more);
}

std::vector<std::string> bwrap_arguments(const PythonSandboxOptions& options) {
    const PythonSandboxLimits& limits = options.limits;
    std::vector<std::string> arguments = {"bwrap"};
    // --unshare-all takes every namespace (network included); naming the user namespace makes its failure
    // an error rather than a silent fallback, and --disable-userns keeps the code from nesting more.
    // --die-with-parent backs up our reaper: the sandbox also dies with bubblewrap's launcher.
    add(arguments, {"--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
                    "--hostname", "sandbox"});
    arguments.push_back("--clearenv");
    for (const auto& [name, value] : kSandboxEnvironment) {
        add(arguments, {"--setenv", name, value});
    }

    add(arguments, {"--ro-bind", "/usr", "/usr"});
    // /bin, /lib... are links into /usr on merged-/usr systems and directories elsewhere.
    for (const char* top : {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}) {
        struct stat info {};
        if (::lstat(top, &info) != 0) {
            continue;
        }
        if (S_ISLNK(info.st_mode)) {
            char target[4096];
            const ssize_t length = ::readlink(top, target, sizeof target - 1);
            if (length > 0) {
                add(arguments, {"--symlink", std::string(target, static_cast<size_t>(length)), top});
            }
        } else if (S_ISDIR(info.st_mode)) {
            add(arguments, {"--ro-bind", top, top});
        }
    }
    // The loader's cache and the alternatives links let native libraries outside the default paths load;
    // localtime gives the host's time zone.
    for (const char* file : {"/etc/ld.so.cache", "/etc/alternatives", "/etc/localtime"}) {
        add(arguments, {"--ro-bind-try", file, file});
    }
    for (const std::string& path : options.read_only_paths) {
        add(arguments, {"--ro-bind", path, path});
    }
    add(arguments, {"--proc", "/proc", "--dev", "/dev"});
    // tmpfs lives in memory the address-space limit does not see: give it its own size.
    const std::string tmp_size = std::to_string(limits.tmp_bytes);
    add(arguments, {"--size", tmp_size, "--tmpfs", "/dev/shm", "--size", tmp_size, "--tmpfs", "/tmp"});
    add(arguments, {"--file", std::to_string(kScriptFd), kScriptPath});
    // The root and /dev are bubblewrap's own tmpfs mounts, writable (and unbounded) unless made read-only.
    add(arguments, {"--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/tmp"});
    add(arguments, {"--json-status-fd", std::to_string(kStatusFd)});
    // -I: no user site-packages, no PYTHON* variables; -B: no .pyc files; -u: stdout and stderr unbuffered, so
    // they interleave as written and nothing printed is lost when the run is killed.
    add(arguments, {"--", options.python_path, "-I", "-B", "-u", kScriptPath});
    return arguments;
}

// A user id in the options' range that no process has; which one is random, so that runs starting at the
// same moment rarely pick the same (if they do, they only share a process budget).
Result<uid_t> pick_sandbox_uid(const PythonSandboxOptions& options, const std::unordered_map<uid_t, int64_t>& tasks) {
    const uint64_t count = uint64_t{options.sandbox_uid_last} - options.sandbox_uid_first + 1;
    std::random_device random;
    const uint64_t offset = std::uniform_int_distribution<uint64_t>(0, count - 1)(random);
    for (uint64_t i = 0; i < count; ++i) {
        const auto uid = static_cast<uid_t>(options.sandbox_uid_first + (offset + i) % count);
        if (!tasks.contains(uid)) {
            return uid;
        }
    }
    return make_error(ErrorCode::kUnsupported,
                      "every user id from {} to {} runs processes already: none is left "
                      "for a python sandbox",
                      options.sandbox_uid_first, options.sandbox_uid_last);
}

Status set_nonblocking(int fd) {
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
        return make_error(ErrorCode::kIoError, "cannot make a pipe non-blocking: {}", std::strerror(errno));
    }
    return {};
}

// bubblewrap's --json-status-fd lines: {"child-pid": N, ...} once the sandbox is set up, then
// {"exit-code": N} when the code's main process ends.
struct SandboxStatus {
    std::string pending;
    bool started = false;
    std::optional<int> exit_code;

    void take(std::string_view bytes) {
        pending.append(bytes);
        size_t newline;
        while ((newline = pending.find('\n')) != std::string::npos) {
            // Unknown members and lines are ignored, as bubblewrap's manual asks of readers.
            const nlohmann::json line = nlohmann::json::parse(pending.substr(0, newline), nullptr, false);
            pending.erase(0, newline + 1);
            if (!line.is_object()) {
                continue;
            }
            started = started || line.contains("child-pid");
            if (auto it = line.find("exit-code"); it != line.end() && it->is_number_integer()) {
                exit_code = it->get<int>();
            }
        }
    }
};

bool has_memory_error(const std::string& output) {
    return output.starts_with("MemoryError") || output.find("\nMemoryError") != std::string::npos;
}

// The sandbox's output and status, read until every process of it is gone, and its limits enforced.
class SandboxWatch {
  public:
    SandboxWatch(ProcessTree& tree,
                 UniqueFd output,
                 UniqueFd status,
                 const PythonSandboxLimits& limits,
                 const std::atomic<bool>* cancel)
        : tree_(tree), output_(std::move(output)), status_(std::move(status)), limits_(limits), cancel_(cancel),
          capture_(limits.max_output_bytes) {}

    Status run(Clock::time_point deadline) {
        while (!gone_) {
            const Clock::time_point now = Clock::now();
            if (!stopping_ && now >= deadline) {
                timed_out_ = true;
                stop(now);
            }
            if (!stopping_ && cancel_ != nullptr && cancel_->load(std::memory_order_relaxed)) {
                cancelled_ = true;
                stop(now);
            }
            if (!stopping_ && capture_.total_bytes() > limits_.stop_output_bytes) {
                output_stopped_ = true;
                stop(now);
            }
            if (stopping_ && now >= stop_deadline_ && !reaper_killed_) {
                TLLM_LOG_WARN("python sandbox: not gone {} s after it was stopped; killing its reaper",
                              kStopGrace.count());
                reaper_killed_ = true;
                tree_.kill_reaper();
            }
            Clock::time_point wake = stopping_ ? stop_deadline_ : deadline;
            if (cancel_ != nullptr && !stopping_) {
                wake = std::min(wake, now + kCancelPoll); // a signal may set the flag without waking poll()
            }
            TLLM_RETURN_IF_ERROR(wait_for_events(reaper_killed_ ? Clock::duration::max() : wake - now));
        }
        reaper_exit_ = tree_.wait();
        // The sandbox's writers are gone; a fork elsewhere in this process may hold a copy for a moment.
        const Clock::time_point drain_deadline = Clock::now() + kDrainGrace;
        while ((output_.valid() || status_.valid()) && Clock::now() < drain_deadline) {
            TLLM_RETURN_IF_ERROR(wait_for_events(drain_deadline - Clock::now()));
        }
        return {};
    }

    const SandboxStatus& status() const { return status_report_; }
    // The reaper's status is bubblewrap's, which is the code's when it ran.
    const ChildExit& reaper_exit() const { return reaper_exit_; }
    const OutputCapture& capture() const { return capture_; }
    bool stopped() const { return stopping_; }
    bool timed_out() const { return timed_out_; }
    bool cancelled() const { return cancelled_; }
    bool output_stopped() const { return output_stopped_; }

  private:
    void stop(Clock::time_point now) {
        stopping_ = true;
        stop_deadline_ = now + kStopGrace;
        tree_.stop();
    }

    Status wait_for_events(Clock::duration timeout) {
        struct pollfd entries[3];
        nfds_t count = 0;
        for (const UniqueFd* fd : {&output_, &status_}) {
            if (fd->valid()) {
                entries[count++] = {fd->get(), POLLIN, 0};
            }
        }
        if (!gone_) {
            entries[count++] = {tree_.gone_fd(), POLLIN, 0};
        }
        const auto milliseconds = std::chrono::ceil<std::chrono::milliseconds>(timeout).count();
        const int ready =
            ::poll(entries, count, static_cast<int>(std::clamp<int64_t>(milliseconds, 0, int64_t{60'000})));
        if (ready < 0) {
            if (errno == EINTR) {
                return {};
            }
            return make_error(ErrorCode::kIoError, "cannot watch the python sandbox: {}", std::strerror(errno));
        }
        for (nfds_t i = 0; i < count; ++i) {
            if (entries[i].revents == 0) {
                continue;
            }
            if (entries[i].fd == output_.get()) {
                TLLM_RETURN_IF_ERROR(read_output());
            } else if (entries[i].fd == status_.get()) {
                TLLM_RETURN_IF_ERROR(read_status());
            } else if (!gone_ && entries[i].fd == tree_.gone_fd()) {
                gone_ = true;
            }
        }
        return {};
    }

    Status read_output() {
        std::string chunk;
        TLLM_ASSIGN_OR_RETURN(const bool open, sandbox::read_available(output_.get(), chunk, size_t{1} << 20));
        capture_.append(chunk);
        if (!open) {
            output_.reset();
        }
        return {};
    }

    Status read_status() {
        std::string chunk;
        TLLM_ASSIGN_OR_RETURN(const bool open, sandbox::read_available(status_.get(), chunk, size_t{1} << 16));
        status_report_.take(chunk);
        if (!open) {
            status_.reset();
        }
        return {};
    }

    ProcessTree& tree_;
    UniqueFd output_;
    UniqueFd status_;
    const PythonSandboxLimits& limits_;
    const std::atomic<bool>* cancel_;
    OutputCapture capture_;
    SandboxStatus status_report_;
    ChildExit reaper_exit_;
    bool gone_ = false;
    bool stopping_ = false;
    bool reaper_killed_ = false;
    bool timed_out_ = false;
    bool cancelled_ = false;
    bool output_stopped_ = false;
    Clock::time_point stop_deadline_;
};

std::string trimmed(std::string text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
        text.pop_back();
    }
    return text;
}

} // namespace

Result<PythonRun> run_python_in_sandbox(const PythonSandboxOptions& options, std::string_view code) {
    TLLM_RETURN_IF_ERROR(validate(options));
    const PythonSandboxLimits& limits = options.limits;
    const std::string bwrap = sandbox::find_executable(options.bwrap_path, options.executable_search_path);
    if (bwrap.empty()) {
        return make_error(ErrorCode::kNotFound,
                          "python tool needs bubblewrap: apt-get install bubblewrap ('{}' is not an executable{})",
                          options.bwrap_path,
                          options.bwrap_path.find('/') == std::string::npos
                              ? fmt::format(" in {}", options.executable_search_path)
                              : "");
    }
    if (::access(options.python_path.c_str(), X_OK) != 0) {
        return make_error(ErrorCode::kNotFound, "python tool needs python3 at {}: apt-get install python3",
                          options.python_path);
    }
    if (code.size() > std::min(limits.max_file_bytes, limits.tmp_bytes)) {
        return make_error(ErrorCode::kInvalidArgument,
                          "the python code ({} bytes) is larger than a sandbox file "
                          "may be",
                          code.size());
    }

    TLLM_ASSIGN_OR_RETURN(UniqueFd script, sandbox::make_sealed_memory_file("script.py", code));
    TLLM_ASSIGN_OR_RETURN(sandbox::Pipe output, sandbox::make_pipe());
    TLLM_ASSIGN_OR_RETURN(sandbox::Pipe status, sandbox::make_pipe());
    UniqueFd null_input(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!null_input.valid()) {
        return make_error(ErrorCode::kIoError, "cannot open /dev/null: {}", std::strerror(errno));
    }
    TLLM_RETURN_IF_ERROR(set_nonblocking(output.read_end.get()));
    TLLM_RETURN_IF_ERROR(set_nonblocking(status.read_end.get()));

    sandbox::SpawnPlan plan;
    plan.executable = bwrap;
    plan.argv = bwrap_arguments(options);
    plan.child_fds = {null_input.get(), output.write_end.get(), output.write_end.get(), script.get(),
                      status.write_end.get()};
    static_assert(kScriptFd == 3 && kStatusFd == 4, "child_fds lists the descriptors in this order");
    plan.switch_user = ::geteuid() == 0;
    const std::unordered_map<uid_t, int64_t> tasks = sandbox::count_tasks_by_user();
    if (plan.switch_user) {
        TLLM_ASSIGN_OR_RETURN(plan.uid, pick_sandbox_uid(options, tasks));
        plan.gid = options.sandbox_gid;
    }
    // RLIMIT_NPROC counts every task of the user: allow what it has already (nothing, for a picked id) plus
    // ours (bubblewrap's, and the reaper's when it runs as the same user).
    const auto existing = tasks.find(plan.switch_user ? plan.uid : ::getuid());
    const int64_t existing_tasks = existing == tasks.end() ? 0 : existing->second;
    const int64_t own_tasks = kBubblewrapProcesses + (plan.switch_user ? 0 : 1);
    const auto process_limit = static_cast<rlim_t>(existing_tasks + limits.max_processes + own_tasks);
    const auto cpu_limit = static_cast<rlim_t>(limits.cpu_seconds);
    plan.limits = {
        {RLIMIT_CPU, cpu_limit, cpu_limit + 1}, // SIGXCPU first, SIGKILL if the code ignores it
        {RLIMIT_AS, limits.memory_bytes, limits.memory_bytes},
        {RLIMIT_NPROC, process_limit, process_limit},
        {RLIMIT_FSIZE, limits.max_file_bytes, limits.max_file_bytes},
        {RLIMIT_NOFILE, static_cast<rlim_t>(limits.max_open_files), static_cast<rlim_t>(limits.max_open_files)},
        {RLIMIT_CORE, 0, 0}, // SIGXCPU and friends dump core by default: not into the host's core handler
    };

    const Clock::time_point start = Clock::now();
    TLLM_ASSIGN_OR_RETURN(ProcessTree tree, ProcessTree::spawn(plan));
    // Only the sandbox may hold the write ends, so the pipes reach end of file when it is gone.
    output.write_end.reset();
    status.write_end.reset();
    script.reset();
    null_input.reset();

    SandboxWatch watch(tree, std::move(output.read_end), std::move(status.read_end), limits, options.cancel);
    const auto wall = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(limits.wall_seconds));
    TLLM_RETURN_IF_ERROR(watch.run(start + wall));

    PythonRun run;
    run.limits = limits;
    run.wall_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    run.output = watch.capture().text();
    run.output_bytes = watch.capture().total_bytes();
    run.output_truncated = watch.capture().truncated();
    const SandboxStatus& status_report = watch.status();
    if (!status_report.started) {
        if (watch.stopped()) {
            return make_error(ErrorCode::kInternal, "bubblewrap did not start the sandbox within {:g} s",
                              limits.wall_seconds);
        }
        return make_error(ErrorCode::kUnsupported, "bubblewrap cannot create namespaces: {}", trimmed(run.output));
    }
    run.timed_out = watch.timed_out();
    run.cancelled = watch.cancelled();
    run.output_stopped = watch.output_stopped();
    if (watch.stopped()) {
        run.term_signal = SIGKILL;
    } else {
        const ChildExit& reaper_exit = watch.reaper_exit();
        // bubblewrap reports the code's status the shell's way: 128 + N for "killed by signal N".
        const int status_code = status_report.exit_code ? *status_report.exit_code
                                : reaper_exit.exited    ? reaper_exit.exit_code
                                                        : 128 + reaper_exit.term_signal;
        if (status_code > 128 && status_code < 128 + NSIG) {
            run.term_signal = status_code - 128;
        } else {
            run.exit_code = status_code;
        }
    }
    run.cpu_time_exceeded = run.term_signal == SIGXCPU;
    run.memory_error = run.exit_code != 0 && has_memory_error(run.output);
    TLLM_LOG_DEBUG("python sandbox: status {} signal {}, {} output bytes, {:.2f} s", run.exit_code, run.term_signal,
                   run.output_bytes, run.wall_seconds);
    return run;
}

Status check_python_sandbox(const PythonSandboxOptions& options) {
    PythonSandboxOptions probe = options;
    probe.limits.wall_seconds = std::min(options.limits.wall_seconds, 30.0);
    Result<PythonRun> run = run_python_in_sandbox(probe, "pass\n");
    if (!run.ok()) {
        return run.error();
    }
    if (run->exit_code != 0) {
        return make_error(ErrorCode::kUnsupported, "{} does not run in the sandbox: {}", options.python_path,
                          python_tool_output(*run));
    }
    return {};
}

std::string python_tool_output(const PythonRun& run) {
    const PythonSandboxLimits& limits = run.limits;
    std::vector<std::string> notes;
    if (run.output_truncated) {
        notes.push_back(fmt::format("[python: output truncated: it was {} bytes, only the first and last {} are "
                                    "shown]",
                                    run.output_bytes, format_bytes(limits.max_output_bytes / 2)));
    }
    if (run.timed_out) {
        notes.push_back(fmt::format("[python: stopped after the {:g} s wall-clock limit]", limits.wall_seconds));
    }
    if (run.cancelled) {
        notes.push_back("[python: stopped by the user]");
    }
    if (run.output_stopped) {
        notes.push_back(fmt::format("[python: stopped for writing more than {} of output]",
                                    format_bytes(limits.stop_output_bytes)));
    }
    if (run.cpu_time_exceeded) {
        notes.push_back(fmt::format("[python: stopped after the {} s CPU time limit]", limits.cpu_seconds));
    }
    if (run.memory_error) {
        notes.push_back(fmt::format("[python: out of memory: the sandbox allows {} per process]",
                                    format_bytes(limits.memory_bytes)));
    }
    if (run.term_signal != 0 && !run.timed_out && !run.cancelled && !run.output_stopped && !run.cpu_time_exceeded) {
        const char* name = ::sigabbrev_np(run.term_signal);
        notes.push_back(fmt::format("[python: killed by signal {} (SIG{})]", run.term_signal, name ? name : "?"));
    }
    if (run.exit_code > 0) {
        notes.push_back(fmt::format("[python: exited with status {}]", run.exit_code));
    }

    std::string text = run.output;
    if (notes.empty()) {
        const bool blank =
            std::all_of(text.begin(), text.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
        return blank ? std::string(kNoOutputWarning) : text;
    }
    if (!text.empty() && text.back() != '\n') {
        text += '\n';
    }
    text += fmt::format("{}", fmt::join(notes, "\n"));
    return text;
}

} // namespace tllm::tools
