#include "needle/engine.h"

#include "needle/str_cat.h"
#include "reference/reference_engine.h"

namespace needle {

std::vector<std::string> EngineNames() { return {"reference"}; }

absl::StatusOr<std::unique_ptr<Engine>> CreateEngine(std::string_view name,
                                                     std::shared_ptr<const ModelWeights> weights) {
  if (weights == nullptr) return absl::InvalidArgumentError("CreateEngine: no weights");
  if (name == "reference") return reference::CreateReferenceEngine(std::move(weights));
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
