#include "needle/engine.h"

#include "needle/str_cat.h"

namespace needle {

std::string_view NumericsName(Numerics numerics) { return numerics == Numerics::kUpstream ? "upstream" : "exact"; }

absl::StatusOr<Numerics> ParseNumerics(std::string_view name) {
  if (name == "exact") return Numerics::kExact;
  if (name == "upstream") return Numerics::kUpstream;
  return absl::InvalidArgumentError(StrCat("unknown numerics \"", name, "\" (available: exact, upstream)"));
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
