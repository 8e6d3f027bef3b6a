// Upstream Needle's single-shot metrics per item, and their aggregation with
// BFCL's verdict into the figures a report shows.
#ifndef NEEDLE_EVALS_METRICS_H_
#define NEEDLE_EVALS_METRICS_H_

#include <vector>

#include "needle/evals/bfcl_checker.h"
#include "needle/evals/dataset.h"
#include "needle/evals/stats.h"
#include "needle/toolcalls/call.h"

namespace needle::evals {

// Counts for one item; summing them over items gives micro-averaged metrics.
// Definitions follow upstream Needle's benchmark_tool_calls
// (cactus-compute/needle, needle/training/eval.py); metrics.cc lists where ours differ.
// Expected calls come from the item's answers: per parameter the first
// acceptable value, parameters that may be left out ("" acceptable) dropped.
// Tool names are compared in snake_case, as upstream does.
struct UpstreamCounts {
  int parsed = 0;  // 1 when the output could be read
  // Sets of tool names, predicted vs expected.
  int name_tp = 0, name_fp = 0, name_fn = 0;
  // Sets of distinct calls, name plus normalised arguments.
  int call_tp = 0, call_fp = 0, call_fn = 0;
  int exact_match = 0;  // 1 when the call lists are equal (order-free; [] == [])
  // Over predicted calls paired with an expected call of the same name:
  int paired_calls = 0;
  int paired_calls_args_exact = 0;  // normalised arguments equal an expected call's (upstream args_acc)
  int paired_calls_keys_exact = 0;  // argument keys equal the expected keys
  int expected_args = 0;            // expected arguments of paired calls
  int hallucinated_args = 0;        // predicted keys the expected call lacks
  int missed_args = 0;              // expected keys the prediction lacks
  int matched_args = 0;             // expected keys the prediction has
  int correct_values = 0;           // matched keys with a value equal after normalisation
  // Over predicted calls to a tool the item lists (upstream param_haluc):
  int predicted_args = 0;  // argument keys
  int unknown_args = 0;    // keys the tool does not declare
};

// Upstream's value normalisation: numbers and numeric strings compare as
// floats, text lower-cased and stripped; lists and objects element-wise.
bool ValuesMatch(const nlohmann::json& predicted, const nlohmann::json& expected);

struct ItemScore {
  UpstreamCounts counts;
  BfclVerdict bfcl;
};
ItemScore ScoreItem(const EvalItem& item, const toolcalls::ParsedOutput& output);

struct Metrics {
  int items = 0;
  Proportion parse_rate;
  Proportion exact_match;
  Proportion bfcl_accuracy;
  double name_precision = 0, name_recall = 0, name_f1 = 0;
  double call_precision = 0, call_recall = 0, call_f1 = 0;
  Proportion argument_accuracy;      // paired calls with exactly the right arguments (upstream args_acc)
  Proportion value_accuracy;         // matched args of paired calls with the right value (upstream value_acc)
  Proportion param_hallucination;    // predicted args the tool does not declare (upstream param_haluc)
  Proportion param_miss;             // expected args of paired calls left out (upstream param_miss)
  double hallucinated_per_call = 0;  // hallucinated args per paired call
  double missed_per_call = 0;        // missed args per paired call
};
Metrics Summarize(const std::vector<const ItemScore*>& scores);

}  // namespace needle::evals

#endif  // NEEDLE_EVALS_METRICS_H_
