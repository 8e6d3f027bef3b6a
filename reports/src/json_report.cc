#include "needle/reports/eval_report.h"

namespace needle::reports {
namespace {

using Json = nlohmann::ordered_json;

Json ProportionJson(const evals::Proportion& p) {
  return {{"value", p.value}, {"successes", p.successes}, {"total", p.total}, {"ci95", {p.low, p.high}}};
}

Json MetricsJson(const evals::Metrics& m) {
  return {{"items", m.items},
          {"bfcl_accuracy", ProportionJson(m.bfcl_accuracy)},
          {"exact_match", ProportionJson(m.exact_match)},
          {"parse_rate", ProportionJson(m.parse_rate)},
          {"name", {{"precision", m.name_precision}, {"recall", m.name_recall}, {"f1", m.name_f1}}},
          {"call", {{"precision", m.call_precision}, {"recall", m.call_recall}, {"f1", m.call_f1}}},
          {"argument_accuracy", ProportionJson(m.argument_accuracy)},
          {"value_accuracy", ProportionJson(m.value_accuracy)},
          {"param_hallucination", ProportionJson(m.param_hallucination)},
          {"param_miss", ProportionJson(m.param_miss)},
          {"hallucinated_args_per_call", m.hallucinated_per_call},
          {"missed_args_per_call", m.missed_per_call}};
}

Json GroupsJson(const std::vector<GroupMetrics>& groups) {
  Json out = Json::object();
  for (const GroupMetrics& group : groups) out[group.group] = MetricsJson(group.metrics);
  return out;
}

// -1 marks "unknown" in the structs; JSON says null instead.
Json OrNull(double value) { return value < 0 ? Json(nullptr) : Json(value); }

}  // namespace

nlohmann::ordered_json ReportToJson(const EvalReport& report) {
  Json json;
  json["title"] = report.title;
  json["created_utc"] = report.created_utc;
  json["build_commit"] = report.build_commit;
  json["host"] = report.host;
  json["parallel"] = report.parallel;
  json["systems"] = report.systems;
  json["datasets"] = Json::array();
  for (const DatasetInfo& dataset : report.datasets) {
    json["datasets"].push_back(
        {{"name", dataset.name}, {"items", dataset.items}, {"bad_records", dataset.bad_records}});
  }
  json["results"] = Json::array();
  for (const SystemDatasetResult& row : report.results) {
    const Latency& l = row.latency;
    json["results"].push_back({{"system", row.system},
                               {"dataset", row.dataset},
                               {"overall", MetricsJson(row.overall)},
                               {"by_category", GroupsJson(row.by_category)},
                               {"by_call_type", GroupsJson(row.by_call_type)},
                               {"by_tool_count", GroupsJson(row.by_tool_count)},
                               {"latency_ms",
                                {{"requests", l.requests},
                                 {"failed_requests", l.failed_requests},
                                 {"p50", l.p50_ms},
                                 {"p95", l.p95_ms},
                                 {"mean", l.mean_ms},
                                 {"ttft_p50", OrNull(l.ttft_p50_ms)},
                                 {"ttft_p95", OrNull(l.ttft_p95_ms)},
                                 {"mean_output_tokens", OrNull(l.mean_output_tokens)}}}});
  }
  json["comparisons"] = Json::array();
  for (const Comparison& c : report.comparisons) {
    json["comparisons"].push_back({{"dataset", c.dataset},
                                   {"system_a", c.system_a},
                                   {"system_b", c.system_b},
                                   {"metric", c.metric},
                                   {"difference", c.test.difference},
                                   {"difference_ci95", {c.test.diff_low, c.test.diff_high}},
                                   {"both", c.test.both},
                                   {"only_a", c.test.only_a},
                                   {"only_b", c.test.only_b},
                                   {"neither", c.test.neither},
                                   {"mcnemar_p", c.test.p_value}});
  }
  return json;
}

}  // namespace needle::reports
