// A fixed pool of worker threads that splits loops into contiguous chunks.
// The calling thread takes part, so a pool of N threads has N-1 workers.
#ifndef NEEDLE_OPTIMIZED_THREAD_POOL_H_
#define NEEDLE_OPTIMIZED_THREAD_POOL_H_

#include <functional>

namespace needle::optimized {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);  // threads >= 1
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const;
  // Runs body(begin, end) over [0, n) split into at most size() contiguous
  // chunks, sizes multiples of `grain` (except the last); returns when all
  // are done. Not reentrant: body must not call ParallelFor on this pool.
  void ParallelFor(int n, int grain, const std::function<void(int begin, int end)>& body);

 private:
  struct State;
  State* state_;
};

}  // namespace needle::optimized

#endif  // NEEDLE_OPTIMIZED_THREAD_POOL_H_
