// Splitting one fuzz input into several fields, so that a target taking two
// texts (a query and its tools, a question file and its answers) explores
// both from one byte string.
#ifndef NEEDLE_FUZZ_FUZZ_INPUT_H_
#define NEEDLE_FUZZ_FUZZ_INPUT_H_

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

namespace needle::fuzz {

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Splits at the first NUL byte: (before, after). Without one, after is empty.
inline std::pair<std::string_view, std::string_view> SplitAtNul(std::string_view text) {
  const size_t nul = text.find('\0');
  if (nul == std::string_view::npos) return {text, {}};
  return {text.substr(0, nul), text.substr(nul + 1)};
}

}  // namespace needle::fuzz

#endif  // NEEDLE_FUZZ_FUZZ_INPUT_H_
