// The reference Needle engine: single-threaded fp32, one function per block of
// the model description. Ground truth for every other engine. With
// Numerics::kUpstream it rounds to bfloat16 where upstream does instead.
#ifndef NEEDLE_REFERENCE_ENGINE_H_
#define NEEDLE_REFERENCE_ENGINE_H_

#include <memory>

#include "needle/engine.h"

namespace needle::reference {

std::unique_ptr<Engine> CreateReferenceEngine(std::shared_ptr<const ModelWeights> weights,
                                              Numerics numerics = Numerics::kExact);

}  // namespace needle::reference

#endif  // NEEDLE_REFERENCE_ENGINE_H_
