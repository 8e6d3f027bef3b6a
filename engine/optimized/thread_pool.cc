#include "optimized/thread_pool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace needle::optimized {
namespace {

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Decode issues a few hundred small products per token, each a few
// microseconds long: a worker that went to sleep costs a futex wake-up
// (~5-20 us) on the next one, so threads spin this long before sleeping.
// Spinning yields the core, so that a pool larger than the free cores (the
// machine is shared) does not wait out a time slice for a descheduled thread.
constexpr auto kSpinTime = std::chrono::microseconds(200);

// Spins until done() or kSpinTime has passed; returns done().
template <typename Done>
bool SpinUntil(Done done) {
  const auto start = std::chrono::steady_clock::now();
  for (int round = 0;; ++round) {
    if (done()) return true;
    if (round < 64) {
      CpuRelax();
      continue;
    }
    if ((round & 15) == 0 && std::chrono::steady_clock::now() - start > kSpinTime) return done();
    std::this_thread::yield();
  }
}

}  // namespace

struct ThreadPool::State {
  int threads = 1;
  std::vector<std::thread> workers;

  std::mutex mu;
  std::condition_variable work_cv;  // workers wait here for a new generation
  std::condition_variable done_cv;  // the caller waits here for `pending` to reach 0
  bool stop = false;                // guarded by mu
  int sleepers = 0;                 // workers blocked on work_cv, guarded by mu
  bool caller_sleeping = false;     // guarded by mu

  // The current job; written by the caller before `generation` is bumped.
  const std::function<void(int, int)>* body = nullptr;
  int n = 0, grain = 1, grains = 0;
  std::atomic<uint64_t> generation{0};
  std::atomic<int> pending{0};

  // Chunk `i` of `threads`: a balanced, contiguous range of grains.
  void RunChunk(int i) {
    const int64_t g0 = static_cast<int64_t>(grains) * i / threads;
    const int64_t g1 = static_cast<int64_t>(grains) * (i + 1) / threads;
    if (g0 == g1) return;
    const int begin = static_cast<int>(g0 * grain);
    const int end = static_cast<int>(g1 * grain < n ? g1 * grain : n);
    (*body)(begin, end);
  }

  void Finish() {
    if (pending.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mu);
      if (caller_sleeping) done_cv.notify_one();
    }
  }

  void WorkerLoop(int index) {
    uint64_t seen = 0;
    for (;;) {
      uint64_t now = seen;
      if (!SpinUntil([&] { return (now = generation.load(std::memory_order_acquire)) != seen; })) {
        std::unique_lock<std::mutex> lock(mu);
        ++sleepers;
        work_cv.wait(lock, [&] { return stop || generation.load(std::memory_order_acquire) != seen; });
        --sleepers;
        if (stop) return;
        now = generation.load(std::memory_order_acquire);
      }
      seen = now;
      RunChunk(index);
      Finish();
    }
  }
};

ThreadPool::ThreadPool(int threads) : state_(new State) {
  state_->threads = threads < 1 ? 1 : threads;
  for (int i = 1; i < state_->threads; ++i) {
    state_->workers.emplace_back([this, i] { state_->WorkerLoop(i); });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->stop = true;
  }
  state_->work_cv.notify_all();
  for (std::thread& worker : state_->workers) worker.join();
  delete state_;
}

int ThreadPool::size() const { return state_->threads; }

void ThreadPool::ParallelFor(int n, int grain, const std::function<void(int begin, int end)>& body) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  const int grains = static_cast<int>((static_cast<int64_t>(n) + grain - 1) / grain);
  State& s = *state_;
  if (s.threads == 1 || grains == 1) {
    body(0, n);
    return;
  }
  s.body = &body;
  s.n = n;
  s.grain = grain;
  s.grains = grains;
  s.pending.store(s.threads - 1, std::memory_order_relaxed);
  {
    // Under the lock so that a worker between its predicate check and its
    // wait cannot miss the bump.
    std::lock_guard<std::mutex> lock(s.mu);
    s.generation.fetch_add(1, std::memory_order_release);
    if (s.sleepers > 0) s.work_cv.notify_all();
  }
  s.RunChunk(0);
  if (!SpinUntil([&] { return s.pending.load(std::memory_order_acquire) == 0; })) {
    std::unique_lock<std::mutex> lock(s.mu);
    s.caller_sleeping = true;
    s.done_cv.wait(lock, [&] { return s.pending.load(std::memory_order_acquire) == 0; });
    s.caller_sleeping = false;
  }
}

}  // namespace needle::optimized
