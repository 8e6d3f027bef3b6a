// Encoding one code point as UTF-8, for the readers that decode escapes and
// case mappings themselves.
#ifndef NEEDLE_EVALS_APPEND_UTF8_H_
#define NEEDLE_EVALS_APPEND_UTF8_H_

#include <cstdint>
#include <string>

namespace needle::evals {

// `code_point` must be a Unicode scalar value (at most U+10FFFF, no surrogate).
inline void AppendUtf8(uint32_t code_point, std::string* out) {
  if (code_point < 0x80) {
    *out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    *out += static_cast<char>(0xC0 | (code_point >> 6));
    *out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    *out += static_cast<char>(0xE0 | (code_point >> 12));
    *out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    *out += static_cast<char>(0xF0 | (code_point >> 18));
    *out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    *out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
}

}  // namespace needle::evals

#endif  // NEEDLE_EVALS_APPEND_UTF8_H_
