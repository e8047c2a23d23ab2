// A small persistent thread pool: parallelFor splits [0, n) into up to 8 contiguous chunks per
// thread, which the calling thread and the workers claim one at a time.
//
// Waking a sleeping thread costs tens of microseconds on a virtual machine, against Bconv2d
// nodes of 0.1-0.5 ms that run back to back with float ops in between. So after a task the
// workers keep polling for the next one for a short while (kSpinMicros, yielding the core to
// any other runnable thread, such as the float runtime's own workers, at every poll) before they
// sleep on a condition variable, and the caller polls for the workers' completion the same way.
#ifndef LCE_KERNELS_THREAD_POOL_H
#define LCE_KERNELS_THREAD_POOL_H

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lce_kernels {

class ThreadPool {
 public:
  static constexpr int kSpinMicros = 300;
  // The process-wide pool, grown on demand to `threads - 1` workers.
  static ThreadPool &instance();
  // Runs fn(begin, end) over [0, n) on `threads` threads (1 = inline) and waits.
  void parallelFor(int threads, int64_t n, const std::function<void(int64_t, int64_t)> &fn);
  // Between runs of another runtime's ops (the delegate's partitions alternate with TFLite's),
  // rest() lets the workers sleep at once instead of polling the cores away from the other
  // runtime's threads, and wake(threads) wakes `threads - 1` of them ahead of the next
  // parallelFor (they poll for it as after a task), so that their wake-up latency overlaps the
  // caller's serial work.
  void rest();
  void wake(int threads);
  ~ThreadPool();

 private:
  void ensureWorkers(int count);
  void workerLoop(int index, uint64_t seen);  // seen: the generation before its first task
  void runChunks(uint64_t generation, const std::function<void(int64_t, int64_t)> &task, int64_t n, int chunks);

  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  // The current task, published by a release store of generation_ (read after an acquire load).
  std::atomic<const std::function<void(int64_t, int64_t)> *> task_{nullptr};
  std::atomic<int64_t> n_{0};
  std::atomic<int> chunks_{0}, participants_{0};  // chunks of [0, n); threads that may take them
  std::atomic<uint64_t> generation_{0};
  std::atomic<uint64_t> claim_{0};     // (generation << 32) | next unclaimed chunk
  std::atomic<int> completed_{0};      // chunks of the current task done
  std::atomic<int> sleepers_{0};   // workers blocked (or about to block) on wake_
  std::atomic<bool> waiting_{false};  // the caller blocks (or is about to block) on done_
  std::atomic<bool> resting_{false};  // rest(): workers stop polling and sleep
  std::atomic<uint64_t> wakes_{0};    // wake(): bumped to wake sleeping workers without a task
  std::atomic<bool> stop_{false};
  std::mutex callMutex_;  // one parallelFor at a time
};

}  // namespace lce_kernels

#endif  // LCE_KERNELS_THREAD_POOL_H
