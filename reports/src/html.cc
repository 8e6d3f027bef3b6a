#include <map>

#include "fmt/format.h"
#include "needle/reports/eval_report.h"
#include "needle/reports/svg_chart.h"
#include "tables.h"

namespace needle::reports {
namespace {

// Per-group BFCL accuracy of every system on one dataset, with intervals.
BarChart GroupChart(const EvalReport& report, const std::string& dataset, const std::string& what,
                    std::vector<GroupMetrics> SystemDatasetResult::*groups) {
  BarChart chart;
  chart.title = fmt::format("{}: BFCL accuracy per {}", dataset, what);
  chart.y_label = "BFCL accuracy (95% CI)";
  std::map<std::string, size_t> index;
  for (const std::string& group : GroupOrder(report, dataset, groups)) {
    index[group] = chart.categories.size();
    chart.categories.push_back(group);
  }
  chart.notes.assign(chart.categories.size(), {});
  for (const SystemDatasetResult& row : report.results) {
    if (row.dataset != dataset) continue;
    BarSeries series{row.system, {}, {}, {}};
    series.values.assign(chart.categories.size(), 0);
    series.low.assign(chart.categories.size(), 0);
    series.high.assign(chart.categories.size(), 0);
    for (std::vector<std::string>& notes : chart.notes) notes.emplace_back();
    for (const GroupMetrics& group : row.*groups) {
      const size_t i = index[group.group];
      series.values[i] = group.metrics.bfcl_accuracy.value;
      series.low[i] = group.metrics.bfcl_accuracy.low;
      series.high[i] = group.metrics.bfcl_accuracy.high;
      // Unreadable output passes items that expect no call: the parse rate tells the two apart.
      if (group.no_call_items > 0) {
        chart.notes[i].back() = fmt::format("parse rate {:.1f}%", 100 * group.metrics.parse_rate.value);
      }
    }
    chart.series.push_back(std::move(series));
  }
  return chart;
}

// The per-group charts of one dataset worth drawing. A grouping with a single
// group draws one bar per system, the summary's figure again: a file of one
// BFCL category would otherwise get three identical charts. The first chart
// stays when every grouping has one group, so each dataset has one.
std::vector<BarChart> DatasetCharts(const EvalReport& report, const std::string& dataset) {
  const std::pair<const char*, std::vector<GroupMetrics> SystemDatasetResult::*> groupings[] = {
      {"category", &SystemDatasetResult::by_category},
      {"call type", &SystemDatasetResult::by_call_type},
      {"tools offered", &SystemDatasetResult::by_tool_count}};
  std::vector<BarChart> charts;
  for (const auto& [what, groups] : groupings) {
    BarChart chart = GroupChart(report, dataset, what, groups);
    if (chart.categories.size() > 1 || charts.empty()) charts.push_back(std::move(chart));
  }
  // The first was kept only as a fallback; drop it if a later one says more.
  if (charts.size() > 1 && charts.front().categories.size() <= 1) charts.erase(charts.begin());
  return charts;
}

constexpr char kStyle[] = R"(
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 1400px; }
table { border-collapse: collapse; margin: 1em 0; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 4px 8px; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; }
.meta { color: #555; }
)";

}  // namespace

std::string RenderHtml(const EvalReport& report) {
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" +
                     EscapeHtml(report.title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n";
  html += "<h1>" + EscapeHtml(report.title) + "</h1>\n";
  html += fmt::format("<p class=\"meta\">Created {} on {}, build {}, {} requests in flight.</p>\n",
                      EscapeHtml(report.created_utc), EscapeHtml(report.host), EscapeHtml(report.build_commit),
                      report.parallel);

  ScatterChart scatter;
  scatter.title = "Accuracy against latency";
  scatter.x_label = "median latency per request (ms, log scale)";
  scatter.y_label = "BFCL accuracy";
  scatter.log_x = true;
  for (const SystemDatasetResult& row : report.results) {
    if (row.latency.requests > row.latency.failed_requests) {
      scatter.points.push_back({row.system, row.dataset, row.latency.p50_ms, row.overall.bfcl_accuracy.value});
    }
  }
  html +=
      "<h2>Summary</h2>\n<p>BFCL: BFCL's AST verdict. Exact, args, values, param halluc./miss: upstream Needle's "
      "metrics. Brackets: 95% Wilson "
      "interval.</p>\n";
  html += HtmlTable(SummaryTable(report));
  html += "<div class=\"charts\">" + RenderScatterChart(scatter) + "</div>\n";

  for (const DatasetInfo& dataset : report.datasets) {
    html += "<h2>" + EscapeHtml(dataset.name) + "</h2>\n<div class=\"charts\">";
    for (const BarChart& chart : DatasetCharts(report, dataset.name)) html += RenderBarChart(chart);
    html += "</div>\n";
    html += HtmlTable(GroupTable(report, dataset.name, "category", &SystemDatasetResult::by_category));
    html += HtmlTable(GroupTable(report, dataset.name, "call type", &SystemDatasetResult::by_call_type));
    html += HtmlTable(GroupTable(report, dataset.name, "tools offered", &SystemDatasetResult::by_tool_count));
  }
  if (!report.comparisons.empty()) {
    html +=
        "<h2>Paired comparisons</h2>\n<p>Same items, A minus B in points; interval from a paired bootstrap; p "
        "from an exact McNemar test.</p>\n";
    html += HtmlTable(ComparisonTable(report));
  }
  html += "<h2>Datasets</h2>\n" + HtmlTable(DatasetTable(report));
  html += "</body>\n</html>\n";
  return html;
}

}  // namespace needle::reports
