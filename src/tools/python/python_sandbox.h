// gpt-oss's python tool (`to=python`): the message text is a Python program, run statelessly and answered
// with what it printed. The reference (gpt_oss/tools/python_docker/docker_tool.py) runs /tmp/script.py in a
// fresh python:3.11 container; here each call gets a fresh bubblewrap sandbox on the host's python3: no
// network, a read-only /usr, a private /tmp, a clean environment, its own pid namespace (everything in it dies
// with the call) and limits on time, memory, processes, files and output.
#pragma once

#include "core/result.h"

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace tllm::tools {

struct PythonSandboxLimits {
    double wall_seconds = 120.0;               // harmony's python tool text: it "will time out after 120.0 seconds"
    int cpu_seconds = 60;                      // per process (RLIMIT_CPU): SIGXCPU then, SIGKILL a second later
    uint64_t memory_bytes = uint64_t{2} << 30; // address space per process (RLIMIT_AS)
    // Processes and threads the code may have at once, its own main process included (RLIMIT_NPROC).
    int max_processes = 64;
    uint64_t max_file_bytes = uint64_t{64} << 20; // largest file it may write (RLIMIT_FSIZE)
    int max_open_files = 256;                     // RLIMIT_NOFILE
    // Size of the writable /tmp and of /dev/shm (each): both live in memory, outside the address-space limit.
    uint64_t tmp_bytes = uint64_t{256} << 20;
    // Output (stdout and stderr together) shown to the model: its first and last halves when it is longer.
    size_t max_output_bytes = size_t{64} << 10;
    // Output past the shown part is read and dropped so the code can still finish; a run that writes more
    // than this in all is stopped, as an endless print loop would otherwise run to the time limits.
    uint64_t stop_output_bytes = uint64_t{16} << 20;
};

struct PythonSandboxOptions {
    // bubblewrap: a path, or a name looked up in `executable_search_path`.
    std::string bwrap_path = "bwrap";
    // The host's interpreter, which must lie under /usr or `read_only_paths` to be seen in the sandbox.
    std::string python_path = "/usr/bin/python3";
    // Where a bare bwrap name is looked up (the caller passes $PATH here if it wants; this module reads no
    // environment variables).
    std::string executable_search_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    // More host directories shown read-only at the same place (e.g. a virtual environment).
    std::vector<std::string> read_only_paths;
    // When we run as root, the sandbox runs as an unprivileged user instead (RLIMIT_NPROC binds no root
    // process): for each run, a user id that no process has, picked at random from this range, so that
    // concurrent sandboxes do not share one per-user process budget. The default is the range systemd keeps
    // for dynamic users, inside the 65536 ids a container's user namespace usually maps.
    uid_t sandbox_uid_first = 61184;
    uid_t sandbox_uid_last = 65519;
    gid_t sandbox_gid = 65534; // "nogroup"
    PythonSandboxLimits limits;
    // When set, polled while the code runs: the user gave up waiting (Ctrl-C in the chat), so the sandbox is
    // stopped as at a limit. Must outlive the run.
    const std::atomic<bool>* cancel = nullptr;
};

struct PythonRun {
    std::string output;        // stdout and stderr interleaved as written; valid UTF-8; shortened past the cap
    uint64_t output_bytes = 0; // how much the code wrote in all
    bool output_truncated = false;
    bool output_stopped = false; // killed for writing more than stop_output_bytes
    int exit_code = -1;          // the interpreter's status when it exited, else -1
    int term_signal = 0;         // the signal that killed it, else 0
    bool timed_out = false;      // killed at the wall-clock limit
    bool cancelled = false;      // stopped because `cancel` was set
    bool cpu_time_exceeded = false;
    bool memory_error = false; // it died of a MemoryError
    double wall_seconds = 0;
    PythonSandboxLimits limits; // the limits it ran under, for the notes in python_tool_output
};

// Whether the sandbox works here: bubblewrap is found and can create its namespaces, and python3 runs in it.
// The error says what is missing ("python tool needs bubblewrap: apt-get install bubblewrap", "bubblewrap
// cannot create namespaces: ...").
Status check_python_sandbox(const PythonSandboxOptions& options);

// Runs `code` as /tmp/script.py in a fresh sandbox and returns once every process of it is gone. What the
// code does (errors, limits hit) is in the PythonRun; the Result fails only when the sandbox cannot run.
Result<PythonRun> run_python_in_sandbox(const PythonSandboxOptions& options, std::string_view code);

// The text the model gets: the output, followed by one bracketed line per limit hit or abnormal end
// ("[python: stopped after the 120 s wall-clock limit]"). An empty output from a clean run gets the
// reference's warning instead.
std::string python_tool_output(const PythonRun& run);

} // namespace tllm::tools
