// See thread_pool.h.
#include "lce_kernels/thread_pool.h"

#include <algorithm>

namespace lce_kernels {

ThreadPool &ThreadPool::instance() {
  static ThreadPool pool;
  return pool;
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto &t : workers_) t.join();
}

void ThreadPool::ensureWorkers(int count) {
  while (static_cast<int>(workers_.size()) < count) {
    const int index = static_cast<int>(workers_.size()) + 1;  // chunk 0 is the caller's
    workers_.emplace_back([this, index] { workerLoop(index); });
  }
}

void ThreadPool::workerLoop(int index) {
  uint64_t seen = 0;
  for (;;) {
    const std::function<void(int64_t, int64_t)> *task;
    int64_t n;
    int chunks;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      task = task_, n = n_, chunks = chunks_;
    }
    if (index < chunks) {
      const int64_t begin = n * index / chunks, end = n * (index + 1) / chunks;
      if (begin < end) (*task)(begin, end);
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (--pending_ == 0) done_.notify_one();
    }
  }
}

void ThreadPool::parallelFor(int threads, int64_t n, const std::function<void(int64_t, int64_t)> &fn) {
  threads = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, n)));
  if (threads == 1) {
    if (n > 0) fn(0, n);
    return;
  }
  std::lock_guard<std::mutex> call(callMutex_);
  int workers;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ensureWorkers(threads - 1);
    workers = static_cast<int>(workers_.size());
    task_ = &fn, n_ = n, chunks_ = threads, pending_ = workers;
    ++generation_;
  }
  wake_.notify_all();
  fn(0, n / threads);
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [&] { return pending_ == 0; });
  task_ = nullptr;
}

}  // namespace lce_kernels
