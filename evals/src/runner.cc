#include "needle/evals/runner.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include "needle/evals/bfcl_checker.h"
#include "needle/str_cat.h"

namespace needle::evals {

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
  struct Task {
    int system, dataset, item;
  };
  std::vector<Task> tasks;
  for (int s = 0; s < static_cast<int>(systems.size()); ++s) {
    for (int d = 0; d < static_cast<int>(datasets.size()); ++d) {
      for (int i = 0; i < static_cast<int>(datasets[d].items.size()); ++i) tasks.push_back({s, d, i});
    }
  }
  std::vector<ItemResult> results(tasks.size());
  std::atomic<size_t> next{0};
  std::mutex progress_mutex;
  int done = 0;
  auto work = [&] {
    for (size_t t = next++; t < tasks.size(); t = next++) {
      const Task& task = tasks[t];
      const EvalItem& original = datasets[task.dataset].items[task.item];
      const bool rename =
          task.system < static_cast<int>(options.underscore_to_dot.size()) && options.underscore_to_dot[task.system];
      const EvalItem renamed = rename ? WithDotsAsUnderscores(original) : EvalItem();
      const EvalItem& item = rename ? renamed : original;
      ItemResult result = ScorePrediction(item, systems[task.system]->Predict(item));
      result.system = task.system;
      result.dataset = task.dataset;
      result.item = task.item;
      results[t] = std::move(result);
      if (options.on_result) {
        std::lock_guard<std::mutex> lock(progress_mutex);
        options.on_result(++done, static_cast<int>(tasks.size()), results[t]);
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
