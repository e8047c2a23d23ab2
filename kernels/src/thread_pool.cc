// See thread_pool.h.
#include "lce_kernels/thread_pool.h"

#include <sched.h>

#include <algorithm>
#include <chrono>

namespace lce_kernels {

namespace {
// Polls `ready` until it holds or kSpinMicros have passed: for the first kPureSpinMicros with
// pause only (back-to-back nodes of one partition hand over within microseconds), then yielding
// the core at every poll. (Yielding from the start cost the whole speed-up of a second thread on
// a loaded machine: a yield can hand the core to another process for a scheduler slice.)
constexpr int kPureSpinMicros = 50;

template <class Ready>
bool spinUntil(Ready ready) {
  const auto start = std::chrono::steady_clock::now();
  const auto yieldFrom = start + std::chrono::microseconds(kPureSpinMicros);
  const auto deadline = start + std::chrono::microseconds(ThreadPool::kSpinMicros);
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (ready()) return true;
#if defined(__x86_64__)
      __builtin_ia32_pause();
#elif defined(__aarch64__)
      asm volatile("yield");
#endif
    }
    const auto now = std::chrono::steady_clock::now();
    if (now > deadline) return ready();
    if (now > yieldFrom) sched_yield();
  }
}
}  // namespace

ThreadPool &ThreadPool::instance() {
  static ThreadPool pool;
  return pool;
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  for (auto &t : workers_) t.join();
}

void ThreadPool::ensureWorkers(int count) {
  while (static_cast<int>(workers_.size()) < count) {
    const int index = static_cast<int>(workers_.size()) + 1;  // participant 0 is the caller
    // The generation before the task that is being published: the thread may start after it.
    const uint64_t seen = generation_.load(std::memory_order_relaxed);
    workers_.emplace_back([this, index, seen] { workerLoop(index, seen); });
  }
}

// Claims and runs chunks of task `generation` until none is left. A claim is a CAS on claim_,
// (generation << 32 | next chunk), so a participant that arrives after the task is over (or
// after the next task was published) claims nothing and never touches the task.
void ThreadPool::runChunks(uint64_t generation, const std::function<void(int64_t, int64_t)> &task, int64_t n,
                           int chunks) {
  for (;;) {
    uint64_t c = claim_.load(std::memory_order_acquire);
    do {
      if ((c >> 32) != (generation & 0xffffffffu) || static_cast<int>(c & 0xffffffffu) >= chunks) return;
    } while (!claim_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel));
    const int64_t k = static_cast<int64_t>(c & 0xffffffffu);
    const int64_t begin = n * k / chunks, end = n * (k + 1) / chunks;
    if (begin < end) task(begin, end);
    if (completed_.fetch_add(1, std::memory_order_seq_cst) + 1 == chunks && waiting_.load(std::memory_order_seq_cst)) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_.notify_one();
    }
  }
}

void ThreadPool::workerLoop(int index, uint64_t seen) {
  uint64_t wakes = wakes_.load(std::memory_order_relaxed);
  for (;;) {
    auto fresh = [&] { return generation_.load(std::memory_order_acquire) != seen; };
    auto resting = [&] { return resting_.load(std::memory_order_relaxed); };
    // Poll for the next task (unless told to rest), else sleep until a task or a wake(), after
    // which it polls again.
    for (;;) {
      if (resting() ? fresh() : spinUntil([&] { return fresh() || resting(); }) && fresh()) break;
      std::unique_lock<std::mutex> lock(mutex_);
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      wake_.wait(lock, [&] { return fresh() || wakes_.load(std::memory_order_relaxed) != wakes; });
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
      wakes = wakes_.load(std::memory_order_relaxed);
      if (fresh()) break;
    }
    // The task's fields without the mutex (a worker that had to take it lost the race to the
    // caller, which takes it at every call, and slept in the kernel: it joined 1 call in 10).
    // A stale or mixed read is harmless: runChunks claims a chunk only while claim_ still holds
    // this generation, and the caller resets claim_ before it writes the next task's fields.
    const uint64_t generation = generation_.load(std::memory_order_acquire);
    seen = generation;
    if (stop_.load(std::memory_order_acquire)) return;
    const auto *task = task_.load(std::memory_order_acquire);
    const int64_t n = n_.load(std::memory_order_acquire);
    const int chunks = chunks_.load(std::memory_order_acquire), participants = participants_.load(std::memory_order_acquire);
    if (task && index < participants) runChunks(generation, *task, n, chunks);
  }
}

void ThreadPool::rest() { resting_.store(true, std::memory_order_relaxed); }

void ThreadPool::wake(int threads) {
  resting_.store(false, std::memory_order_relaxed);
  if (threads <= 1 || sleepers_.load(std::memory_order_seq_cst) == 0) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    wakes_.fetch_add(1, std::memory_order_relaxed);
  }
  wake_.notify_all();
}

void ThreadPool::parallelFor(int threads, int64_t n, const std::function<void(int64_t, int64_t)> &fn) {
  threads = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, n)));
  if (threads == 1) {
    if (n > 0) fn(0, n);
    return;
  }
  std::lock_guard<std::mutex> call(callMutex_);
  resting_.store(false, std::memory_order_relaxed);
  // Chunks are claimed dynamically (runChunks): a worker that wakes late, or is descheduled by
  // another process, leaves its share to the others instead of holding up the call, and the
  // caller waits only for chunks in progress, never for a worker to arrive.
  const int chunks = static_cast<int>(std::min<int64_t>(n, 8 * static_cast<int64_t>(threads)));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ensureWorkers(threads - 1);
  }
  // Publish: claim_ first (no chunk of an earlier task can be claimed after this), then the
  // fields, then the generation that workers wait for (see workerLoop).
  const uint64_t generation = generation_.load(std::memory_order_relaxed) + 1;
  claim_.store((generation & 0xffffffffu) << 32, std::memory_order_seq_cst);
  completed_.store(0, std::memory_order_relaxed);
  task_.store(&fn, std::memory_order_release);
  n_.store(n, std::memory_order_release);
  chunks_.store(chunks, std::memory_order_release);
  participants_.store(threads, std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(mutex_);  // orders the publication with sleeping workers' checks
    generation_.store(generation, std::memory_order_seq_cst);
  }
  if (sleepers_.load(std::memory_order_seq_cst) > 0) wake_.notify_all();
  runChunks(generation, fn, n, chunks);
  auto finished = [&] { return completed_.load(std::memory_order_seq_cst) == chunks; };
  if (!spinUntil(finished)) {
    std::unique_lock<std::mutex> lock(mutex_);
    waiting_.store(true, std::memory_order_seq_cst);
    done_.wait(lock, finished);
    waiting_.store(false, std::memory_order_relaxed);
  }
  task_.store(nullptr, std::memory_order_release);
}

}  // namespace lce_kernels
