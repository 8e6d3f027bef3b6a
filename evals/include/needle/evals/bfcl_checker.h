// BFCL's AST checker, rule for rule, so our numbers can be set beside the
// leaderboard's. The rules (string normalisation, type rules, optional
// parameters, lists of acceptable values) are written down in bfcl_checker.cc.
#ifndef NEEDLE_EVALS_BFCL_CHECKER_H_
#define NEEDLE_EVALS_BFCL_CHECKER_H_

#include <string>
#include <string_view>

#include "needle/evals/dataset.h"
#include "needle/toolcalls/call.h"

namespace needle::evals {

struct BfclVerdict {
  bool valid = false;
  std::string error_type;  // BFCL's names: "simple_function_checker:missing_required", ...
  std::string error;       // human-readable detail
};

// Items without answers are judged as BFCL's irrelevance: valid when the
// output holds no call (an unparsable output holds none, as in BFCL).
// One answer: exactly one call, checked against it (BFCL simple/multiple).
// Several answers: as many calls, matched in any order (BFCL parallel).
BfclVerdict BfclCheck(const EvalItem& item, const toolcalls::ParsedOutput& output);

// BFCL's underscore_to_dot, for models whose API refuses dots in function
// names: the item with '.' replaced by '_' in every tool name, in the tools
// the model is shown and in the expected calls it is checked against (BFCL
// looks the description up by its real name, then compares the converted one:
// the verdicts are the same).
EvalItem WithDotsAsUnderscores(const EvalItem& item);

// Python's str.lower() on UTF-8 text, as BFCL lower-cases strings: every
// Unicode capital, "İ" to "i̇", capital sigma to its final form at a word's
// end. Bytes that are not UTF-8 are kept as they are.
std::string PythonLower(std::string_view text);
// The Unicode version of the Python the table was generated from.
const char* PythonLowerUnicodeVersion();

}  // namespace needle::evals

#endif  // NEEDLE_EVALS_BFCL_CHECKER_H_
