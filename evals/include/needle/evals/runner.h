// The eval loop: every system on every item of every dataset, requests run in
// parallel, each prediction parsed and scored.
#ifndef NEEDLE_EVALS_RUNNER_H_
#define NEEDLE_EVALS_RUNNER_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "needle/evals/dataset.h"
#include "needle/evals/metrics.h"
#include "needle/evals/system.h"
#include "needle/toolcalls/call.h"

namespace needle::evals {

struct ItemResult {
  int system = 0;   // index into the systems given to RunEval
  int dataset = 0;  // index into the datasets
  int item = 0;     // index into that dataset's items
  // A request that failed (not an unreadable output) keeps its error here
  // and is scored as an unparsable output.
  absl::Status request_status;
  Prediction prediction;
  toolcalls::ParsedOutput output;
  ItemScore score;
};

struct RunOptions {
  int parallel = 1;  // requests in flight at once
  // Called after each finished request, from the worker that finished it,
  // never concurrently. `done` counts all systems and datasets.
  std::function<void(int done, int total, const ItemResult& result)> on_result;
  // Per system (missing entries: false): BFCL's underscore_to_dot, the system
  // shown and checked against WithDotsAsUnderscores(item).
  std::vector<bool> underscore_to_dot;
  // Predictions made before (a resumed run, or saved ones scored again): when
  // it returns one for a system, dataset and item, that prediction is scored
  // and the system is not asked. Such items are not passed to on_result, nor
  // counted in its `total`. A system whose items are all saved may be null.
  std::function<std::optional<absl::StatusOr<Prediction>>(int system, int dataset, int item)> saved;
};

// Results come back ordered by system, dataset, item, whatever order the
// requests finished in. An item of a null system that is not saved counts as
// a failed request.
std::vector<ItemResult> RunEval(const std::vector<const System*>& systems, const std::vector<Dataset>& datasets,
                                const RunOptions& options);

// Scores one prediction as the runner does (exposed for tests and re-scoring).
ItemResult ScorePrediction(const EvalItem& item, absl::StatusOr<Prediction> prediction);

}  // namespace needle::evals

#endif  // NEEDLE_EVALS_RUNNER_H_
