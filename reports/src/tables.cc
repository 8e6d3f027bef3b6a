#include "tables.h"

#include <algorithm>
#include <iterator>
#include <map>

#include "format.h"
#include "needle/reports/svg_chart.h"

namespace needle::reports {

Table DatasetTable(const EvalReport& report) {
  Table table{{"dataset", "items", "bad records skipped"}, {false, true, true}, {}};
  for (const DatasetInfo& dataset : report.datasets) {
    table.rows.push_back({dataset.name, std::to_string(dataset.items), std::to_string(dataset.bad_records)});
  }
  return table;
}

Table SummaryTable(const EvalReport& report) {
  Table table{{"system", "dataset", "n", "BFCL", "exact", "parse", "name F1", "call F1", "args", "values",
               "param halluc.", "param miss", "p50 ms", "p95 ms", "TTFT p50 ms", "failed"},
              {false, false, true, true, true, true, true, true, true, true, true, true, true, true, true, true},
              {}};
  for (const SystemDatasetResult& row : report.results) {
    const evals::Metrics& m = row.overall;
    const Latency& l = row.latency;
    table.rows.push_back({row.system, row.dataset, std::to_string(m.items), PercentWithInterval(m.bfcl_accuracy),
                          PercentWithInterval(m.exact_match), Percent(m.parse_rate.value),
                          fmt::format("{:.3f}", m.name_f1), fmt::format("{:.3f}", m.call_f1),
                          Percent(m.argument_accuracy.value), Percent(m.value_accuracy.value),
                          Percent(m.param_hallucination.value), Percent(m.param_miss.value), Milliseconds(l.p50_ms),
                          Milliseconds(l.p95_ms), Milliseconds(l.ttft_p50_ms), std::to_string(l.failed_requests)});
  }
  return table;
}

std::vector<std::string> GroupOrder(const EvalReport& report, const std::string& dataset,
                                    std::vector<GroupMetrics> SystemDatasetResult::*groups) {
  std::vector<std::string> order;
  for (const SystemDatasetResult& row : report.results) {
    if (row.dataset != dataset) continue;
    for (const GroupMetrics& group : row.*groups) {
      if (std::find(order.begin(), order.end(), group.group) == order.end()) order.push_back(group.group);
    }
  }
  return order;
}

Table GroupTable(const EvalReport& report, const std::string& dataset, const std::string& heading,
                 std::vector<GroupMetrics> SystemDatasetResult::*groups) {
  std::vector<const SystemDatasetResult*> rows;
  std::map<std::string, std::map<std::string, const GroupMetrics*>> by_group;  // group -> system -> metrics
  bool any_no_call = false;
  for (const SystemDatasetResult& row : report.results) {
    if (row.dataset != dataset) continue;
    rows.push_back(&row);
    for (const GroupMetrics& group : row.*groups) {
      by_group[group.group][row.system] = &group;
      any_no_call |= group.no_call_items > 0;
    }
  }
  Table table{{heading, "n"}, {false, true}, {}};
  for (const SystemDatasetResult* row : rows) {
    table.header.push_back(row->system + " BFCL");
    table.header.push_back(row->system + " exact");
    table.numeric.insert(table.numeric.end(), {true, true});
    // Beside the accuracies where unreadable output passes (items expecting no call).
    if (any_no_call) {
      table.header.push_back(row->system + " parse");
      table.numeric.push_back(true);
    }
  }
  for (const std::string& group : GroupOrder(report, dataset, groups)) {
    const auto& per_system = by_group.at(group);
    std::vector<std::string> cells{group, std::to_string(per_system.begin()->second->metrics.items)};
    for (const SystemDatasetResult* row : rows) {
      const auto found = per_system.find(row->system);
      const GroupMetrics* metrics = found == per_system.end() ? nullptr : found->second;
      cells.push_back(metrics == nullptr ? "" : Percent(metrics->metrics.bfcl_accuracy.value));
      cells.push_back(metrics == nullptr ? "" : Percent(metrics->metrics.exact_match.value));
      if (any_no_call) {
        cells.push_back(metrics == nullptr || metrics->no_call_items == 0 ? ""
                                                                          : Percent(metrics->metrics.parse_rate.value));
      }
    }
    table.rows.push_back(std::move(cells));
  }
  return table;
}

Table ComparisonTable(const EvalReport& report) {
  Table table{{"dataset", "A", "B", "metric", "A - B [95%]", "only A right", "only B right", "McNemar p"},
              {false, false, false, false, true, true, true, true},
              {}};
  for (const Comparison& c : report.comparisons) {
    table.rows.push_back({c.dataset, c.system_a, c.system_b, c.metric,
                          fmt::format("{:+.1f} [{:+.1f}, {:+.1f}]", 100 * c.test.difference, 100 * c.test.diff_low,
                                      100 * c.test.diff_high),
                          std::to_string(c.test.only_a), std::to_string(c.test.only_b),
                          fmt::format("{:.3g}", c.test.p_value)});
  }
  return table;
}

std::string MarkdownTable(const Table& table) {
  std::string text;
  auto out = std::back_inserter(text);
  // A "|" inside a cell would split it; system names come from the command line.
  auto cell = [](const std::string& value) {
    std::string escaped;
    for (char c : value) escaped += c == '|' ? std::string("\\|") : std::string(1, c);
    return escaped;
  };
  fmt::format_to(out, "|");
  for (const std::string& name : table.header) fmt::format_to(out, " {} |", cell(name));
  fmt::format_to(out, "\n|");
  for (bool numeric : table.numeric) fmt::format_to(out, "{}|", numeric ? "---:" : "---");
  fmt::format_to(out, "\n");
  for (const std::vector<std::string>& row : table.rows) {
    fmt::format_to(out, "|");
    for (const std::string& value : row) fmt::format_to(out, " {} |", cell(value));
    fmt::format_to(out, "\n");
  }
  return text;
}

std::string HtmlTable(const Table& table) {
  std::string html = "<table>\n<thead><tr>";
  for (const std::string& name : table.header) html += "<th>" + EscapeHtml(name) + "</th>";
  html += "</tr></thead>\n<tbody>\n";
  for (const std::vector<std::string>& row : table.rows) {
    html += "<tr>";
    for (size_t c = 0; c < row.size(); ++c) {
      html += c < table.numeric.size() && table.numeric[c] ? "<td class=\"num\">" : "<td>";
      html += EscapeHtml(row[c]) + "</td>";
    }
    html += "</tr>\n";
  }
  html += "</tbody>\n</table>\n";
  return html;
}

}  // namespace needle::reports
