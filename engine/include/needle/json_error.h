// Parse errors of outside JSON, worded for the person who wrote it.
#ifndef NEEDLE_JSON_ERROR_H_
#define NEEDLE_JSON_ERROR_H_

#include <string>
#include <string_view>

#include "nlohmann/json.hpp"

namespace needle {

// e.what() without its "[json.exception.parse_error.101] " tag, which says
// nothing to a user; what stays names the line, column and the problem
// ("parse error at line 1, column 7: syntax error while parsing value ...").
// Parsing throws more than parse_error: a number too large for a double
// ("1e999") is out_of_range 406. Callers catch nlohmann::json::exception.
inline std::string JsonParseErrorText(const nlohmann::json::exception& e) {
  std::string_view what = e.what();
  if (size_t tag_end = what.find("] "); tag_end != std::string_view::npos) what.remove_prefix(tag_end + 2);
  return std::string(what);
}

}  // namespace needle

#endif  // NEEDLE_JSON_ERROR_H_
