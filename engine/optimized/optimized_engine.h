// The optimized Needle engine: weights packed at load time for the CPU's
// kernels (fp32, bf16, int8, int4, w8a8 or w4a8), every product and attention split
// across a thread pool, fused attention, and per-session caches in one arena.
// The cross-attention K/V are kept in int8 at w8a8 and w4a8 and in bf16 at the
// other reduced precisions (see KeysInt8, KeysBf16 in attention.h); fp32 keeps
// the reference engine's numbers.
#ifndef NEEDLE_OPTIMIZED_OPTIMIZED_ENGINE_H_
#define NEEDLE_OPTIMIZED_OPTIMIZED_ENGINE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "needle/engine.h"

namespace needle::optimized {

// Fails on a shape the kernels cannot take (int8/int4 need d_model to be a
// multiple of 32). The options are CreateEngine's, checked there: threads 0 =
// all cores, `isa` supported by this CPU and build.
absl::StatusOr<std::unique_ptr<Engine>> CreateOptimizedEngine(std::shared_ptr<const ModelWeights> weights,
                                                              Precision precision, int threads, Isa isa);

}  // namespace needle::optimized

#endif  // NEEDLE_OPTIMIZED_OPTIMIZED_ENGINE_H_
