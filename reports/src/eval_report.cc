#include "needle/reports/eval_report.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "needle/toolcalls/big_int.h"

namespace needle::reports {
namespace {

using absl::StrCat;

// Groups scores by key(item), a (rank, label) pair: groups in rank order, then
// by label, so reports are stable.
template <typename KeyFn>
std::vector<GroupMetrics> GroupBy(const std::vector<const evals::ItemResult*>& results,
                                  const std::vector<evals::EvalItem>& items, KeyFn key) {
  std::map<std::pair<int, std::string>, std::vector<const evals::ItemScore*>> groups;
  std::map<std::pair<int, std::string>, int> no_call;
  for (const evals::ItemResult* result : results) {
    const auto group = key(items[result->item]);
    groups[group].push_back(&result->score);
    no_call[group] += items[result->item].answers.empty() ? 1 : 0;
  }
  std::vector<GroupMetrics> out;
  for (const auto& [group, scores] : groups) out.push_back({group.second, evals::Summarize(scores), no_call[group]});
  return out;
}

// The buckets' upper bounds, in ToolCountBucket's order (the last is open).
constexpr size_t kToolCountBounds[] = {0, 1, 3, 6, 10};

int ToolCountRank(size_t tools) {
  int rank = 0;
  while (rank < static_cast<int>(std::size(kToolCountBounds)) && tools > kToolCountBounds[rank]) ++rank;
  return rank;
}

Latency LatencyOf(const std::vector<const evals::ItemResult*>& results) {
  Latency latency;
  std::vector<double> latencies, ttfts;
  double tokens = 0;
  int with_tokens = 0;
  for (const evals::ItemResult* result : results) {
    ++latency.requests;
    if (!result->request_status.ok()) {
      ++latency.failed_requests;
      continue;
    }
    latencies.push_back(result->prediction.latency_ms);
    if (result->prediction.ttft_ms >= 0) ttfts.push_back(result->prediction.ttft_ms);
    if (result->prediction.output_tokens >= 0) {
      tokens += result->prediction.output_tokens;
      ++with_tokens;
    }
  }
  if (!latencies.empty()) {
    latency.p50_ms = evals::Quantile(latencies, 0.50);
    latency.p95_ms = evals::Quantile(latencies, 0.95);
    double sum = 0;
    for (double value : latencies) sum += value;
    latency.mean_ms = sum / static_cast<double>(latencies.size());
  }
  // A system that reports time to first token for only some requests is not
  // summarised: the percentiles would describe a biased subset.
  if (!ttfts.empty() && ttfts.size() == latencies.size()) {
    latency.ttft_p50_ms = evals::Quantile(ttfts, 0.50);
    latency.ttft_p95_ms = evals::Quantile(ttfts, 0.95);
  }
  if (with_tokens > 0 && with_tokens == static_cast<int>(latencies.size()))
    latency.mean_output_tokens = tokens / with_tokens;
  return latency;
}

}  // namespace

std::string ToolCountBucket(size_t tools) {
  const int rank = ToolCountRank(tools);
  if (rank == static_cast<int>(std::size(kToolCountBounds))) return StrCat(kToolCountBounds[rank - 1] + 1, "+ tools");
  const size_t low = rank == 0 ? 0 : kToolCountBounds[rank - 1] + 1, high = kToolCountBounds[rank];
  if (low == high) return StrCat(low, high == 1 ? " tool" : " tools");
  return StrCat(low, "-", high, " tools");
}

EvalReport BuildEvalReport(const std::vector<std::string>& systems, const std::vector<evals::Dataset>& datasets,
                           const std::vector<evals::ItemResult>& results) {
  EvalReport report;
  report.systems = systems;
  for (const evals::Dataset& dataset : datasets) {
    report.datasets.push_back(
        {dataset.name, static_cast<int>(dataset.items.size()), static_cast<int>(dataset.errors.size())});
  }
  // cell[s][d][i]: the result of system s on item i of dataset d.
  std::vector<std::vector<std::vector<const evals::ItemResult*>>> cell(systems.size());
  for (auto& per_system : cell) {
    per_system.resize(datasets.size());
    for (size_t d = 0; d < datasets.size(); ++d) per_system[d].assign(datasets[d].items.size(), nullptr);
  }
  for (const evals::ItemResult& result : results) cell[result.system][result.dataset][result.item] = &result;

  for (size_t s = 0; s < systems.size(); ++s) {
    for (size_t d = 0; d < datasets.size(); ++d) {
      std::vector<const evals::ItemResult*> done;
      for (const evals::ItemResult* result : cell[s][d]) {
        if (result != nullptr) done.push_back(result);
      }
      if (done.empty()) continue;
      SystemDatasetResult row;
      row.system = systems[s];
      row.dataset = datasets[d].name;
      std::vector<const evals::ItemScore*> scores;
      for (const evals::ItemResult* result : done) scores.push_back(&result->score);
      row.overall = evals::Summarize(scores);
      row.by_category =
          GroupBy(done, datasets[d].items, [](const evals::EvalItem& item) { return std::pair(0, item.category); });
      row.by_call_type =
          GroupBy(done, datasets[d].items, [](const evals::EvalItem& item) { return std::pair(0, item.call_type); });
      row.by_tool_count = GroupBy(done, datasets[d].items, [](const evals::EvalItem& item) {
        const bool call = !item.answers.empty();
        return std::pair(2 * ToolCountRank(item.tools.size()) + (call ? 0 : 1),
                         StrCat(ToolCountBucket(item.tools.size()), call ? ", call" : ", no call"));
      });
      row.latency = LatencyOf(done);
      report.results.push_back(std::move(row));
    }
  }

  for (size_t d = 0; d < datasets.size(); ++d) {
    for (size_t a = 0; a < systems.size(); ++a) {
      for (size_t b = a + 1; b < systems.size(); ++b) {
        std::vector<bool> bfcl_a, bfcl_b, exact_a, exact_b;
        for (size_t i = 0; i < datasets[d].items.size(); ++i) {
          const evals::ItemResult* ra = cell[a][d][i];
          const evals::ItemResult* rb = cell[b][d][i];
          if (ra == nullptr || rb == nullptr) continue;  // compare on shared items only
          bfcl_a.push_back(ra->score.bfcl.valid);
          bfcl_b.push_back(rb->score.bfcl.valid);
          exact_a.push_back(ra->score.counts.exact_match == 1);
          exact_b.push_back(rb->score.counts.exact_match == 1);
        }
        if (bfcl_a.empty()) continue;
        const std::string& name = datasets[d].name;
        report.comparisons.push_back({name, systems[a], systems[b], "bfcl_accuracy", evals::McNemar(bfcl_a, bfcl_b)});
        report.comparisons.push_back({name, systems[a], systems[b], "exact_match", evals::McNemar(exact_a, exact_b)});
      }
    }
  }
  return report;
}

nlohmann::ordered_json PredictionRecord(const std::string& system, const evals::Dataset& dataset,
                                        const evals::ItemResult& result) {
  const evals::EvalItem& item = dataset.items[result.item];
  nlohmann::ordered_json record;
  record["system"] = system;
  record["dataset"] = dataset.name;
  record["id"] = item.id;
  record["category"] = item.category;
  record["call_type"] = item.call_type;
  record["query"] = item.query;
  record["tools"] = nlohmann::ordered_json::parse(item.tools_json, nullptr, /*allow_exceptions=*/false);
  // As BFCL's possible answers: [{name: {parameter: [acceptable values]}}]; [] expects no call.
  nlohmann::ordered_json expected = nlohmann::ordered_json::array();
  for (const evals::ExpectedCall& call : item.answers) {
    nlohmann::ordered_json params = nlohmann::ordered_json::object();
    for (const auto& [name, values] : call.params) params[name] = values;
    expected.push_back({{call.name, std::move(params)}});
  }
  record["expected"] = std::move(expected);
  record["request_error"] = result.request_status.ok()
                                ? nlohmann::ordered_json(nullptr)
                                : nlohmann::ordered_json(std::string(result.request_status.message()));
  record["output"] = result.prediction.text;
  record["parsed"] = result.output.parsed;
  record["format"] = result.output.format;
  record["parse_error"] = result.output.error;
  nlohmann::ordered_json calls = nlohmann::ordered_json::array();
  for (const toolcalls::ToolCall& call : result.output.calls) {
    // JSON has no place for a BigInt; "output" keeps the digits the model wrote.
    calls.push_back({{"name", call.name}, {"arguments", toolcalls::BigIntsAsDoubles(call.arguments)}});
  }
  record["calls"] = std::move(calls);
  record["bfcl_valid"] = result.score.bfcl.valid;
  record["bfcl_error_type"] = result.score.bfcl.error_type;
  record["bfcl_error"] = result.score.bfcl.error;
  record["exact_match"] = result.score.counts.exact_match == 1;
  record["latency_ms"] = result.prediction.latency_ms;
  record["ttft_ms"] = result.prediction.ttft_ms;
  record["output_tokens"] = result.prediction.output_tokens;
  record["input_truncated"] = result.prediction.input_truncated;
  return record;
}

absl::Status WriteEvalFiles(const std::string& dir, const std::vector<std::string>& systems,
                            const std::vector<evals::Dataset>& datasets, const std::vector<evals::ItemResult>& results,
                            const EvalReport& report) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) return absl::InternalError(StrCat("cannot create ", dir, ": ", error.message()));
  std::string predictions;
  for (const evals::ItemResult& result : results) {
    predictions += PredictionRecord(systems[result.system], datasets[result.dataset], result)
                       .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    predictions += '\n';
  }
  for (const auto& [name, text] :
       {std::pair<std::string, std::string>{"predictions.jsonl", std::move(predictions)},
        {"report.json", ReportToJson(report).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"},
        {"report.md", RenderMarkdown(report)},
        {"report.html", RenderHtml(report)}}) {
    const std::filesystem::path path = std::filesystem::path(dir) / name;
    std::ofstream file(path, std::ios::binary);
    file << text;
    file.close();
    if (!file) return absl::InternalError(StrCat("cannot write ", path.string()));
  }
  return absl::OkStatus();
}

absl::StatusOr<SavedPrediction> ReadPredictionRecord(std::string_view line) {
  const nlohmann::json record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!record.is_object()) return absl::InvalidArgumentError("not a JSON object");
  auto text = [&](const char* key) -> absl::StatusOr<std::string> {
    auto field = record.find(key);
    if (field == record.end() || !field->is_string()) return absl::InvalidArgumentError(StrCat(key, ": not a string"));
    return field->get<std::string>();
  };
  auto number = [&](const char* key, double fallback) {
    auto field = record.find(key);
    return field != record.end() && field->is_number() ? field->get<double>() : fallback;
  };
  SavedPrediction saved;
  for (auto [key, out] : {std::pair{"system", &saved.system}, {"dataset", &saved.dataset}, {"id", &saved.id}}) {
    absl::StatusOr<std::string> value = text(key);
    if (!value.ok()) return value.status();
    *out = *std::move(value);
  }
  if (auto error = record.find("request_error"); error != record.end() && error->is_string()) {
    saved.prediction = absl::UnavailableError(error->get<std::string>());
    return saved;
  }
  absl::StatusOr<std::string> output = text("output");
  if (!output.ok()) return output.status();
  evals::Prediction prediction;
  prediction.text = *std::move(output);
  prediction.latency_ms = number("latency_ms", prediction.latency_ms);
  prediction.ttft_ms = number("ttft_ms", prediction.ttft_ms);
  prediction.output_tokens = static_cast<int>(number("output_tokens", prediction.output_tokens));
  auto truncated = record.find("input_truncated");
  prediction.input_truncated = truncated != record.end() && truncated->is_boolean() && truncated->get<bool>();
  saved.prediction = std::move(prediction);
  return saved;
}

}  // namespace needle::reports
