#include "needle/engine.h"

#include "needle/str_cat.h"
#include "optimized/matmul.h"
#include "optimized/optimized_engine.h"
#include "reference/reference_engine.h"

namespace needle {

std::vector<std::string> EngineNames() { return {"reference", "optimized"}; }

std::string ResolvePrecision(std::string_view engine, std::string_view precision) {
  if (precision != kAutoPrecision) return std::string(precision);
  if (engine != "optimized") return "fp32";
  return optimized::ActiveIsa() == optimized::Isa::kScalar ? "fp32" : "w8a8";
}

std::string_view NumericsName(Numerics numerics) { return numerics == Numerics::kUpstream ? "upstream" : "exact"; }

absl::StatusOr<Numerics> ParseNumerics(std::string_view name) {
  if (name == "exact") return Numerics::kExact;
  if (name == "upstream") return Numerics::kUpstream;
  return absl::InvalidArgumentError(StrCat("unknown numerics \"", name, "\" (available: exact, upstream)"));
}

absl::StatusOr<std::unique_ptr<Engine>> CreateEngine(std::string_view name, std::shared_ptr<const ModelWeights> weights,
                                                     const EngineOptions& options) {
  if (weights == nullptr) return absl::InvalidArgumentError("CreateEngine: no weights");
  if (options.threads < 0 || options.threads > kMaxEngineThreads) {
    return absl::InvalidArgumentError(StrCat("threads must be in [0, ", kMaxEngineThreads, "], got ", options.threads));
  }
  EngineOptions resolved = options;
  resolved.precision = ResolvePrecision(name, options.precision);
  if (name == "reference") {
    // The reference is fp32 by definition; another precision would be silently ignored.
    if (resolved.precision != "fp32") {
      return absl::InvalidArgumentError(
          StrCat("the reference engine runs fp32 only, not precision \"", resolved.precision, "\""));
    }
    return reference::CreateReferenceEngine(std::move(weights), resolved.numerics);
  }
  if (name == "optimized") {
    if (resolved.numerics != Numerics::kExact) {
      return absl::InvalidArgumentError(
          "the optimized engine has no upstream numerics: use the reference engine (--engine reference) to "
          "reproduce upstream's tokens");
    }
    return optimized::CreateOptimizedEngine(std::move(weights), resolved);
  }
  return absl::InvalidArgumentError(
      fmt::format("unknown engine \"{}\" (available: {})", name, fmt::join(EngineNames(), ", ")));
}

absl::Status ValidateTokens(absl::Span<const int32_t> tokens, int vocab_size, int max_len, std::string_view what) {
  if (tokens.empty()) return absl::InvalidArgumentError(StrCat(what, ": no tokens"));
  if (static_cast<int64_t>(tokens.size()) > max_len) {
    return absl::InvalidArgumentError(StrCat(what, ": ", tokens.size(), " tokens, at most ", max_len, " allowed"));
  }
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= vocab_size) {
      return absl::InvalidArgumentError(
          StrCat(what, ": token ", i, " has id ", tokens[i], ", outside the vocabulary [0, ", vocab_size, ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace needle
