// Calls written the Python way, as other tool-calling sets store their
// answers: `get_weather(city="Paris", days=3)` or a list of such calls.
#ifndef NEEDLE_EVALS_PYTHON_CALL_H_
#define NEEDLE_EVALS_PYTHON_CALL_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace needle::evals {

struct PythonCall {
  std::string name;                          // dotted names kept: "math.factorial"
  nlohmann::ordered_json keyword_arguments;  // an object, in the order written
  std::vector<nlohmann::ordered_json> positional_arguments;
};

// Reads one call, or a list `[f(a=1), g(b=2)]` of them, with arguments that
// are Python literals: strings ('..' or ".." with escapes, adjacent ones
// joined), ints, floats, True/False/None, lists, tuples (as lists) and dicts
// with literal keys. Errors name the byte offset.
absl::StatusOr<std::vector<PythonCall>> ParsePythonCalls(std::string_view text);

}  // namespace needle::evals

#endif  // NEEDLE_EVALS_PYTHON_CALL_H_
