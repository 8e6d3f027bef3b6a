// BFCL's AST checker, rule for rule, so our numbers can be set beside the
// leaderboard's. The rules (string normalisation, type rules, optional
// parameters, lists of acceptable values) are written down in bfcl_checker.cc.
#ifndef NEEDLE_EVALS_BFCL_CHECKER_H_
#define NEEDLE_EVALS_BFCL_CHECKER_H_

#include <string>

#include "needle/evals/call.h"
#include "needle/evals/dataset.h"

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
BfclVerdict BfclCheck(const EvalItem& item, const ParsedOutput& output);

}  // namespace needle::evals

#endif  // NEEDLE_EVALS_BFCL_CHECKER_H_
