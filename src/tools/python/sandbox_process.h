// The operating-system side of the python sandbox: owned file descriptors, and a program started with
// resource limits, without our privileges (when we are root), under a reaper process that collects every
// process the program leaves behind. Everything the children do between fork and exec is decided before the
// fork, so they only make system calls.
#pragma once

#include "core/result.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <sys/resource.h>
#include <sys/types.h>
#include <unordered_map>
#include <vector>

namespace tllm::tools::sandbox {

class UniqueFd {
  public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    ~UniqueFd() { reset(); }
    UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept;
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;

    int get() const { return fd_; }
    bool valid() const { return fd_ >= 0; }
    int release();
    void reset();

  private:
    int fd_ = -1;
};

struct Pipe {
    UniqueFd read_end;
    UniqueFd write_end;
};
// Both ends close on exec; a program gets the ends it needs through SpawnPlan::child_fds.
Result<Pipe> make_pipe();

// A sealed (unchangeable) file in memory holding `contents`, positioned at its start.
Result<UniqueFd> make_sealed_memory_file(std::string_view name, std::string_view contents);

// Reads what is available now from a non-blocking `fd` into `out` (at most `max_bytes`). Returns false at end
// of file.
Result<bool> read_available(int fd, std::string& out, size_t max_bytes);

struct ResourceLimit {
    int resource; // RLIMIT_*
    rlim_t soft;
    rlim_t hard;
};

struct SpawnPlan {
    std::string executable; // an absolute path: no PATH search happens in the child
    std::vector<std::string> argv;
    std::vector<std::string> environment; // "NAME=value"; nothing else is inherited
    // The program's descriptors: child_fds[i] becomes fd i (so [0..2] are stdin, stdout, stderr). Every
    // other descriptor, inherited or not, is closed.
    std::vector<int> child_fds;
    std::vector<ResourceLimit> limits;
    // When set, the program drops every supplementary group and switches to these ids (RLIMIT_NPROC binds
    // no root process).
    bool switch_user = false;
    uid_t uid = 0;
    gid_t gid = 0;
};

struct ChildExit {
    bool exited = false; // exit_code is valid; otherwise term_signal is
    int exit_code = 0;
    int term_signal = 0;
};

// A program and everything it starts. We fork a reaper, a child subreaper that runs no other code: it
// starts the program and collects every descendant that is orphaned to it, so none turns into a zombie of
// some other process. Once the program has exited (or stop() was called) it kills whatever is left, and it
// exits when all of it is gone, with the program's status (128 + N when signal N killed the program). The
// program leads its own process group.
class ProcessTree {
  public:
    // Fails when fork fails or when the program could not be started (the error names the step).
    static Result<ProcessTree> spawn(const SpawnPlan& plan);
    // Stops the tree and waits for it, unless that was done.
    ~ProcessTree();
    ProcessTree(ProcessTree&& other) noexcept;
    ProcessTree& operator=(ProcessTree&&) = delete;
    ProcessTree(const ProcessTree&) = delete;
    ProcessTree& operator=(const ProcessTree&) = delete;

    // Reaches end of file once every process of the tree has exited (the reaper holds its only write end).
    int gone_fd() const { return gone_.get(); }
    // Asks the reaper to SIGKILL the program's process group; what is left of the tree then dies through
    // parent-death signals and is reaped as usual.
    void stop();
    // SIGKILL to the reaper itself: the last resort when it does not finish after stop().
    void kill_reaper();
    // Reaps the reaper (blocking); only once.
    ChildExit wait();

  private:
    ProcessTree(pid_t reaper, UniqueFd gone) : reaper_(reaper), gone_(std::move(gone)) {}
    pid_t reaper_ = -1;
    bool reaped_ = false;
    UniqueFd gone_;
};

// How many tasks (threads, which RLIMIT_NPROC counts) run with each real user id, from /proc.
std::unordered_map<uid_t, int64_t> count_tasks_by_user();

// An executable named `name`: itself when it holds a '/', else the first match in the ':'-separated
// `search_path`. Empty when there is none.
std::string find_executable(const std::string& name, std::string_view search_path);

} // namespace tllm::tools::sandbox
