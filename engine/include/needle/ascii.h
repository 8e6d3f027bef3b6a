// ASCII text helpers, for text whose syntax is ASCII (type names, labels,
// keywords). User text needs Unicode's rules instead (utf8.h).
#ifndef NEEDLE_ASCII_H_
#define NEEDLE_ASCII_H_

#include <cctype>
#include <string>
#include <string_view>

namespace needle {

// `text` without leading and trailing ASCII whitespace.
inline std::string_view TrimAsciiSpace(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return text;
}

// `text` with A-Z lowered; every other byte kept.
inline std::string AsciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace needle

#endif  // NEEDLE_ASCII_H_
