// An eval run condensed into what a report shows: per system and dataset the
// metrics overall, per category, per call type and per number of tools offered,
// latency percentiles, and paired comparisons between systems. Rendered as
// Markdown, JSON and HTML.
#ifndef NEEDLE_REPORTS_EVAL_REPORT_H_
#define NEEDLE_REPORTS_EVAL_REPORT_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "needle/evals/dataset.h"
#include "needle/evals/metrics.h"
#include "needle/evals/runner.h"
#include "needle/evals/stats.h"
#include "nlohmann/json.hpp"

namespace needle::reports {

struct Latency {
  int requests = 0;
  int failed_requests = 0;  // transport errors, crashed subprocesses
  double p50_ms = 0, p95_ms = 0, mean_ms = 0;
  double ttft_p50_ms = -1, ttft_p95_ms = -1;  // -1 when the system cannot tell
  double mean_output_tokens = -1;
};

struct GroupMetrics {
  std::string group;  // a category, a call type or a tool-count bucket
  evals::Metrics metrics;
  // Items that expect no call. Output that does not parse reads as "no call"
  // and so passes them: where there are any, the parse rate is shown beside
  // the accuracy, so that unreadable output cannot pass for abstention.
  int no_call_items = 0;
};

struct SystemDatasetResult {
  std::string system;
  std::string dataset;
  evals::Metrics overall;
  std::vector<GroupMetrics> by_category;
  std::vector<GroupMetrics> by_call_type;
  // By how many tools the prompt offers (ToolCountBucket) and whether the item
  // expects a call: "4-6 tools, call", "4-6 tools, no call", ..., fewest first.
  std::vector<GroupMetrics> by_tool_count;
  Latency latency;
};

struct Comparison {
  std::string dataset;
  std::string system_a, system_b;
  std::string metric;  // "bfcl_accuracy" or "exact_match"
  evals::PairedTest test;
};

struct DatasetInfo {
  std::string name;
  int items = 0;
  int bad_records = 0;  // records the reader skipped
};

struct EvalReport {
  std::string title = "Needle single-shot call accuracy";
  std::string created_utc;  // ISO 8601
  std::string build_commit;
  std::string host;
  int parallel = 1;
  std::vector<std::string> systems;
  std::vector<DatasetInfo> datasets;
  std::vector<SystemDatasetResult> results;  // system-major
  std::vector<Comparison> comparisons;       // every pair of systems, per dataset
};

// The bucket of a prompt offering `tools` tools: "0 tools", "1 tool", "2-3 tools",
// "4-6 tools", "7-10 tools" or "11+ tools". A model that decides whether to
// call by the length of the tool list rather than by its content shows it in
// these buckets, split by whether a call is expected (in the total, its wrong
// calls on short lists and wrong abstentions on long ones can cancel out).
std::string ToolCountBucket(size_t tools);

EvalReport BuildEvalReport(const std::vector<std::string>& systems, const std::vector<evals::Dataset>& datasets,
                           const std::vector<evals::ItemResult>& results);

nlohmann::ordered_json ReportToJson(const EvalReport& report);
std::string RenderMarkdown(const EvalReport& report);
std::string RenderHtml(const EvalReport& report);

// One line of the predictions JSONL: the item (with its tools and expected
// calls), the raw output, how it parsed and how it scored, so any figure in a
// report can be traced to its items and any line scored again on its own.
nlohmann::ordered_json PredictionRecord(const std::string& system, const evals::Dataset& dataset,
                                        const evals::ItemResult& result);

// Writes what needle-eval --out writes into `dir` (created if missing):
// predictions.jsonl (one PredictionRecord line per result, in order),
// report.json, report.md and report.html.
absl::Status WriteEvalFiles(const std::string& dir, const std::vector<std::string>& systems,
                            const std::vector<evals::Dataset>& datasets, const std::vector<evals::ItemResult>& results,
                            const EvalReport& report);

// What a predictions line holds of the request: enough to score it again
// (needle-eval --resume, needle-eval score) without asking the system.
struct SavedPrediction {
  std::string system;
  std::string dataset;
  std::string id;
  absl::StatusOr<evals::Prediction> prediction;  // a failed request keeps its error
};
absl::StatusOr<SavedPrediction> ReadPredictionRecord(std::string_view line);

}  // namespace needle::reports

#endif  // NEEDLE_REPORTS_EVAL_REPORT_H_
