// The report's tables, built once from an EvalReport and rendered by both
// the Markdown and the HTML writer, so the two always show the same figures.
#ifndef NEEDLE_REPORTS_SRC_TABLES_H_
#define NEEDLE_REPORTS_SRC_TABLES_H_

#include <string>
#include <vector>

#include "needle/reports/eval_report.h"

namespace needle::reports {

struct Table {
  std::vector<std::string> header;
  std::vector<bool> numeric;  // per column: right-aligned
  std::vector<std::vector<std::string>> rows;
};

Table DatasetTable(const EvalReport& report);
Table SummaryTable(const EvalReport& report);
// The groups of one dataset in the order the systems' results list them
// (sorted as BuildEvalReport sorts them, not by name).
std::vector<std::string> GroupOrder(const EvalReport& report, const std::string& dataset,
                                    std::vector<GroupMetrics> SystemDatasetResult::*groups);
// Per dataset: a row per group (category, call type, tool count), two columns
// per system (BFCL, exact), and a parse rate beside them for the groups with
// items that expect no call, where output that does not parse passes.
Table GroupTable(const EvalReport& report, const std::string& dataset, const std::string& heading,
                 std::vector<GroupMetrics> SystemDatasetResult::*groups);
Table ComparisonTable(const EvalReport& report);

std::string MarkdownTable(const Table& table);
std::string HtmlTable(const Table& table);

}  // namespace needle::reports

#endif  // NEEDLE_REPORTS_SRC_TABLES_H_
