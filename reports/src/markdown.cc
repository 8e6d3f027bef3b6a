#include "fmt/format.h"
#include "needle/reports/eval_report.h"
#include "tables.h"

namespace needle::reports {

std::string RenderMarkdown(const EvalReport& report) {
  std::string text = fmt::format("# {}\n\nCreated {} on {}, build {}, {} requests in flight.\n\n", report.title,
                                 report.created_utc, report.host, report.build_commit, report.parallel);
  text += "## Datasets\n\n" + MarkdownTable(DatasetTable(report));
  text +=
      "\n## Summary\n\nBFCL: BFCL's AST verdict. Exact, args, values, param halluc./miss: upstream Needle's metrics. "
      "Brackets: 95% Wilson "
      "interval. Latency per request.\n\n" +
      MarkdownTable(SummaryTable(report));
  for (const DatasetInfo& dataset : report.datasets) {
    text += "\n## " + dataset.name + "\n\n";
    text += MarkdownTable(GroupTable(report, dataset.name, "category", &SystemDatasetResult::by_category)) + "\n";
    text += MarkdownTable(GroupTable(report, dataset.name, "call type", &SystemDatasetResult::by_call_type)) + "\n";
    text += MarkdownTable(GroupTable(report, dataset.name, "tools offered", &SystemDatasetResult::by_tool_count));
  }
  if (!report.comparisons.empty()) {
    text +=
        "\n## Paired comparisons\n\nSame items, A minus B in points; interval from a paired bootstrap; p from an "
        "exact McNemar test.\n\n" +
        MarkdownTable(ComparisonTable(report));
  }
  return text;
}

}  // namespace needle::reports
