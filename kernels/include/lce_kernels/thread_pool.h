// A small persistent thread pool: parallelFor splits [0, n) into contiguous chunks, one per
// thread (the calling thread takes the first). Workers sleep between calls.
#ifndef LCE_KERNELS_THREAD_POOL_H
#define LCE_KERNELS_THREAD_POOL_H

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lce_kernels {

class ThreadPool {
 public:
  // The process-wide pool, grown on demand to `threads - 1` workers.
  static ThreadPool &instance();
  // Runs fn(begin, end) over [0, n) on `threads` threads (1 = inline) and waits.
  void parallelFor(int threads, int64_t n, const std::function<void(int64_t, int64_t)> &fn);
  ~ThreadPool();

 private:
  void ensureWorkers(int count);
  void workerLoop(int index);

  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  const std::function<void(int64_t, int64_t)> *task_ = nullptr;
  int64_t n_ = 0;
  int chunks_ = 0, pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::mutex callMutex_;  // one parallelFor at a time
};

}  // namespace lce_kernels

#endif  // LCE_KERNELS_THREAD_POOL_H
