// Wall time as every system reports it: milliseconds on the steady clock.
#ifndef NEEDLE_EVALS_SRC_ELAPSED_H_
#define NEEDLE_EVALS_SRC_ELAPSED_H_

#include <chrono>

namespace needle::evals {

using Clock = std::chrono::steady_clock;

inline double MillisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace needle::evals

#endif  // NEEDLE_EVALS_SRC_ELAPSED_H_
