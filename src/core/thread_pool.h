// A fixed pool of worker threads for data-parallel loops (the CPU backend's only parallelism).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tllm {

class ThreadPool {
  public:
    // n_threads == 0 means one per hardware thread. The calling thread takes part in every loop.
    explicit ThreadPool(int n_threads = 0);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int n_threads() const { return static_cast<int>(workers_.size()) + 1; }

    // Calls body(begin, end) over [0, n) split into contiguous chunks of at least `grain` items,
    // and returns when all are done. Not reentrant: body must not call parallel_for.
    void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& body);

  private:
    void worker_loop(int worker_index);
    void run_chunks();

    std::vector<std::thread> workers_;
    std::mutex mutex_;
    std::condition_variable work_ready_;
    std::condition_variable work_done_;
    const std::function<void(int64_t, int64_t)>* body_ = nullptr;
    int64_t n_items_ = 0;
    int64_t chunk_size_ = 0;
    int64_t next_chunk_ = 0;
    int64_t n_chunks_ = 0;
    int64_t chunks_done_ = 0;
    uint64_t generation_ = 0;
    bool stopping_ = false;
};

} // namespace tllm
