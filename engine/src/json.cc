#include "needle/json.h"

#include <cstddef>

#include "needle/str_cat.h"

namespace needle {

absl::Status CheckJsonNesting(std::string_view text, int max_depth) {
  // Brackets inside strings do not nest; a string ends at an unescaped quote.
  // The count is never below the parser's own depth, so whatever passes here
  // nests at most max_depth levels once parsed.
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) {
        return absl::InvalidArgumentError(
            StrCat("nested deeper than ", max_depth, " levels at byte offset ", i, " (arrays and objects)"));
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return absl::OkStatus();
}

}  // namespace needle
