#include "needle/evals/runner.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <thread>

#include "needle/evals/bfcl_checker.h"
#include "needle/str_cat.h"

namespace needle::evals {

using toolcalls::ParseOutput;

ItemResult ScorePrediction(const EvalItem& item, absl::StatusOr<Prediction> prediction) {
  ItemResult result;
  if (prediction.ok()) {
    result.prediction = *std::move(prediction);
    result.output = ParseOutput(result.prediction.text);
  } else {
    result.request_status = prediction.status();
    result.output.error = StrCat("request failed: ", std::string(prediction.status().message()));
  }
  result.score = ScoreItem(item, result.output);
  return result;
}

std::vector<ItemResult> RunEval(const std::vector<const System*>& systems, const std::vector<Dataset>& datasets,
                                const RunOptions& options) {
  auto scored = [&](int system, int dataset, int item, absl::StatusOr<Prediction> prediction) {
    const EvalItem& original = datasets[dataset].items[item];
    const bool rename =
        system < static_cast<int>(options.underscore_to_dot.size()) && options.underscore_to_dot[system];
    ItemResult result = ScorePrediction(rename ? WithDotsAsUnderscores(original) : original, std::move(prediction));
    result.system = system;
    result.dataset = dataset;
    result.item = item;
    return result;
  };
  std::vector<ItemResult> results;
  std::vector<size_t> tasks;  // indexes into results still to be asked for
  for (int s = 0; s < static_cast<int>(systems.size()); ++s) {
    for (int d = 0; d < static_cast<int>(datasets.size()); ++d) {
      for (int i = 0; i < static_cast<int>(datasets[d].items.size()); ++i) {
        if (options.saved) {
          if (std::optional<absl::StatusOr<Prediction>> saved = options.saved(s, d, i)) {
            results.push_back(scored(s, d, i, *std::move(saved)));
            continue;
          }
        }
        if (systems[s] == nullptr) {
          results.push_back(scored(s, d, i, absl::FailedPreconditionError("no prediction saved and no system to ask")));
          continue;
        }
        ItemResult& pending = results.emplace_back();
        pending.system = s;
        pending.dataset = d;
        pending.item = i;
        tasks.push_back(results.size() - 1);
      }
    }
  }
  std::atomic<size_t> next{0};
  std::mutex progress_mutex;
  int done = 0;
  auto work = [&] {
    for (size_t t = next++; t < tasks.size(); t = next++) {
      ItemResult& result = results[tasks[t]];
      const EvalItem& item = datasets[result.dataset].items[result.item];
      const bool rename = result.system < static_cast<int>(options.underscore_to_dot.size()) &&
                          options.underscore_to_dot[result.system];
      result = scored(result.system, result.dataset, result.item,
                      systems[result.system]->Predict(rename ? WithDotsAsUnderscores(item) : item));
      if (options.on_result) {
        std::lock_guard<std::mutex> lock(progress_mutex);
        options.on_result(++done, static_cast<int>(tasks.size()), result);
      }
    }
  };
  const int workers = std::clamp(options.parallel, 1, static_cast<int>(std::max<size_t>(tasks.size(), 1)));
  std::vector<std::thread> threads;
  for (int w = 1; w < workers; ++w) threads.emplace_back(work);
  work();
  for (std::thread& thread : threads) thread.join();
  return results;
}

}  // namespace needle::evals
