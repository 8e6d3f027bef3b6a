// StrCat over fmt. Debian's Abseil has its own absl::string_view, which
// absl::StrCat will not take from std::string_view, so messages are built here.
#ifndef NEEDLE_STR_CAT_H_
#define NEEDLE_STR_CAT_H_

#include <iterator>
#include <string>

#include "fmt/format.h"
#include "fmt/ranges.h"

namespace needle {

template <typename... Parts>
std::string StrCat(const Parts&... parts) {
  std::string out;
  (fmt::format_to(std::back_inserter(out), "{}", parts), ...);
  return out;
}

}  // namespace needle

#endif  // NEEDLE_STR_CAT_H_
