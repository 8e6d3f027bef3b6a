// The Needle engines in process, through the same request pipeline as `needle run`.
#ifndef NEEDLE_EVALS_NEEDLE_SYSTEM_H_
#define NEEDLE_EVALS_NEEDLE_SYSTEM_H_

#include <memory>
#include <string>

#include "needle/evals/system.h"
#include "needle/generate.h"

namespace needle::evals {

std::unique_ptr<System> MakeNeedleSystem(std::string name, std::shared_ptr<const ToolCaller> caller,
                                         bool constrained = true, int max_new_tokens = kMaxGeneratedTokens);

}  // namespace needle::evals

#endif  // NEEDLE_EVALS_NEEDLE_SYSTEM_H_
