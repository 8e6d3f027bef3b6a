// JSON text as upstream's Python prints it.
//
// Upstream hands back a valid call as json.dumps(json.loads(text),
// separators=(",", ":")): compact, non-ASCII as \uXXXX escapes, numbers as
// Python prints them (an integer keeps all its digits, "-0" is 0; a number
// with a fraction or exponent is a float and prints as repr(float): 1e15 is
// 1000000000000000.0, 1e16 is 1e+16, 1e-5 is 1e-05, 1e400 is Infinity).
// This reproduces that text without Python.
#ifndef NEEDLE_PYTHON_JSON_H_
#define NEEDLE_PYTHON_JSON_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace needle {

// Deeper nesting is refused rather than recursed into; Python's own limit on
// recursion is about 1000.
inline constexpr int kMaxPythonJsonDepth = 512;

// json.dumps(json.loads(text), separators=(",", ":")), with json.loads's
// rules: NaN, Infinity and -Infinity are accepted, raw control characters in
// strings are not, a repeated key keeps its first position and its last
// value. Text json.loads would refuse is an error naming the byte offset.
absl::StatusOr<std::string> RedumpLikePython(std::string_view text);

// repr(float(value)): the shortest digits that read back as `value`, fixed
// notation for 1e-4 <= |value| < 1e16 (with ".0" when whole), else d.ddde+XX.
std::string PythonFloatRepr(double value);

}  // namespace needle

#endif  // NEEDLE_PYTHON_JSON_H_
