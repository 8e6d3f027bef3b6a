// UTF-8 validation of outside text, so that bad bytes are refused with their
// offset instead of being silently replaced by the tokenizer.
#ifndef NEEDLE_UTF8_H_
#define NEEDLE_UTF8_H_

#include <cstddef>
#include <string_view>

namespace needle {

// Offset of the first byte that does not start or continue a well-formed
// UTF-8 sequence (RFC 3629: no overlong forms, no surrogates, nothing past
// U+10FFFF), or std::string_view::npos when `text` is valid throughout.
size_t FindInvalidUtf8(std::string_view text);

}  // namespace needle

#endif  // NEEDLE_UTF8_H_
