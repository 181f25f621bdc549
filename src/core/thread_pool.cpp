#include "core/thread_pool.h"

#include <algorithm>

namespace tllm {

ThreadPool::ThreadPool(int n_threads) {
    if (n_threads <= 0) {
        n_threads = std::max(1u, std::thread::hardware_concurrency());
    }
    for (int i = 1; i < n_threads; ++i) {
        workers_.emplace_back([this, i] { worker_loop(i); });
    }
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    work_ready_.notify_all();
    for (auto& worker : workers_) {
        worker.join();
    }
}

void ThreadPool::run_chunks() {
    // Chunks are claimed under the lock; the work itself runs unlocked.
    std::unique_lock lock(mutex_);
    while (next_chunk_ < n_chunks_) {
        int64_t chunk = next_chunk_++;
        const auto* body = body_;
        int64_t begin = chunk * chunk_size_;
        int64_t end = std::min(n_items_, begin + chunk_size_);
        lock.unlock();
        (*body)(begin, end);
        lock.lock();
        if (++chunks_done_ == n_chunks_) {
            work_done_.notify_all();
        }
    }
}

void ThreadPool::worker_loop(int /*worker_index*/) {
    uint64_t seen_generation = 0;
    while (true) {
        {
            std::unique_lock lock(mutex_);
            work_ready_.wait(lock, [&] { return stopping_ || generation_ != seen_generation; });
            if (stopping_) {
                return;
            }
            seen_generation = generation_;
        }
        run_chunks();
    }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& body) {
    if (n <= 0) {
        return;
    }
    grain = std::max<int64_t>(grain, 1);
    int64_t max_chunks = static_cast<int64_t>(n_threads()) * 4;
    int64_t chunk_size = std::max(grain, (n + max_chunks - 1) / max_chunks);
    int64_t n_chunks = (n + chunk_size - 1) / chunk_size;
    if (n_chunks == 1 || workers_.empty()) {
        body(0, n);
        return;
    }
    {
        std::lock_guard lock(mutex_);
        body_ = &body;
        n_items_ = n;
        chunk_size_ = chunk_size;
        n_chunks_ = n_chunks;
        next_chunk_ = 0;
        chunks_done_ = 0;
        ++generation_;
    }
    work_ready_.notify_all();
    run_chunks();
    std::unique_lock lock(mutex_);
    work_done_.wait(lock, [&] { return chunks_done_ == n_chunks_; });
    body_ = nullptr;
}

} // namespace tllm
