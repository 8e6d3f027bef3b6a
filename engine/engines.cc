// The engine factory: the one place that knows every engine. The shared layer
// (engine/src, engine/model) knows none, and each engine knows only the shared
// layer.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "needle/engine.h"
#include "needle/str_cat.h"
#include "optimized/optimized_engine.h"
#include "reference/reference_engine.h"

namespace needle {

std::vector<std::string> EngineNames() { return {"reference", "optimized"}; }

std::string ResolvePrecision(std::string_view engine, std::string_view precision, Isa isa) {
  if (precision != kAutoPrecision) return std::string(precision);
  if (engine != "optimized") return "fp32";
  return isa == Isa::kScalar ? "fp32" : "w8a8";
}

absl::StatusOr<std::unique_ptr<Engine>> CreateEngine(std::string_view name, std::shared_ptr<const ModelWeights> weights,
                                                     const EngineOptions& options) {
  if (weights == nullptr) return absl::InvalidArgumentError("CreateEngine: no weights");
  if (options.threads < 0 || options.threads > kMaxEngineThreads) {
    return absl::InvalidArgumentError(StrCat("threads must be in [0, ", kMaxEngineThreads, "], got ", options.threads));
  }
  const Isa isa = options.isa.value_or(DefaultIsa());
  const std::string precision_name = ResolvePrecision(name, options.precision, isa);
  absl::StatusOr<Precision> precision = ParsePrecision(precision_name);
  if (!precision.ok()) {
    return absl::InvalidArgumentError(
        StrCat("unknown precision \"", precision_name, "\" (available: ", kAutoPrecision, ", ", PrecisionNames(), ")"));
  }
  if (name == "reference") {
    // The reference is fp32 by definition; another precision would be silently ignored.
    if (*precision != Precision::kF32) {
      return absl::InvalidArgumentError(
          StrCat("the reference engine runs fp32 only, not precision \"", precision_name, "\""));
    }
    return reference::CreateReferenceEngine(std::move(weights), options.numerics);
  }
  if (name == "optimized") {
    if (options.numerics != Numerics::kExact) {
      return absl::InvalidArgumentError(
          "the optimized engine has no upstream numerics: use the reference engine (--engine reference) to "
          "reproduce upstream's tokens");
    }
    if (!IsaSupported(isa)) {
      return absl::FailedPreconditionError(
          StrCat("instruction set ", IsaName(isa), " is not available on this CPU/build"));
    }
    return optimized::CreateOptimizedEngine(std::move(weights), *precision, options.threads, isa);
  }
  return absl::InvalidArgumentError(
      fmt::format("unknown engine \"{}\" (available: {})", name, fmt::join(EngineNames(), ", ")));
}

}  // namespace needle
