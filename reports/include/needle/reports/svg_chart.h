// Small self-contained SVG charts for the HTML reports: no script, no external
// files, so a report is one file that renders anywhere (and in CI's headless
// browser).
#ifndef NEEDLE_REPORTS_SVG_CHART_H_
#define NEEDLE_REPORTS_SVG_CHART_H_

#include <string>
#include <vector>

namespace needle::reports {

// Grouped vertical bars: one group per category, one bar per series, with an
// optional interval drawn as an error bar. Values are in [0, y_max].
struct BarSeries {
  std::string name;
  std::vector<double> values;  // one per category
  std::vector<double> low;     // empty, or one per category
  std::vector<double> high;
};
struct BarChart {
  std::string title;
  std::string y_label;
  // The axis runs to y_max rounded up to a round tick (1, 2 or 5 x 10^k).
  double y_max = 1;
  bool percent = true;  // axis ticks as percentages
  // A logarithmic axis, ticks at powers of ten, for values that span orders
  // of magnitude (a reference engine beside an optimized one); the bars rise
  // from the decade below the smallest value.
  bool log_y = false;
  std::vector<std::string> categories;
  std::vector<BarSeries> series;
  // Per category and series, a note for the bar's tooltip (e.g. a parse rate); may be empty.
  std::vector<std::vector<std::string>> notes;
};
std::string RenderBarChart(const BarChart& chart);

// Points with labels; x may be logarithmic (latencies span decades).
struct ScatterPoint {
  std::string series;
  std::string label;
  double x = 0;
  double y = 0;
};
struct ScatterChart {
  std::string title;
  std::string x_label;
  std::string y_label;
  bool log_x = false;
  bool y_percent = true;
  std::vector<ScatterPoint> points;
};
// Labels go beside their points where they overlap no other label or point;
// a point whose label fits nowhere gets a number, and the chart a key below
// it ("1: label").
std::string RenderScatterChart(const ScatterChart& chart);

// Round axis ticks: from 0 up to the first multiple of a step of 1, 2 or 5 x
// 10^k at or above `max`, about `target` steps.
std::vector<double> NiceTicks(double max, int target = 5);

// Escapes text for HTML/SVG content and attributes.
std::string EscapeHtml(const std::string& text);

}  // namespace needle::reports

#endif  // NEEDLE_REPORTS_SVG_CHART_H_
