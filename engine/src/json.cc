#include "needle/json.h"

#include <cstddef>
#include <vector>

#include "needle/json_string_scanner.h"
#include "needle/str_cat.h"

namespace needle {

absl::Status CheckJsonNesting(std::string_view text, int max_depth, int max_object_members) {
  // Brackets inside strings do not nest. The count is never below the
  // parser's own depth, so whatever passes here nests at most max_depth levels
  // once parsed. An object's members are counted by the colons directly
  // inside it.
  struct Container {
    bool is_object;
    int members;
  };
  std::vector<Container> open;
  JsonStringScanner strings;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (strings.Feed(c)) continue;
    if (c == '[' || c == '{') {
      if (static_cast<int>(open.size()) >= max_depth) {
        return absl::InvalidArgumentError(
            StrCat("nested deeper than ", max_depth, " levels at byte offset ", i, " (arrays and objects)"));
      }
      open.push_back({c == '{', 0});
    } else if ((c == ']' || c == '}') && !open.empty()) {
      open.pop_back();
    } else if (c == ':' && !open.empty() && open.back().is_object && ++open.back().members > max_object_members) {
      return absl::InvalidArgumentError(
          StrCat("an object has more than ", max_object_members, " members at byte offset ", i));
    }
  }
  return absl::OkStatus();
}

}  // namespace needle
