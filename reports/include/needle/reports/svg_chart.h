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
  double y_max = 1;
  bool percent = true;  // axis ticks as percentages
  std::vector<std::string> categories;
  std::vector<BarSeries> series;
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
std::string RenderScatterChart(const ScatterChart& chart);

// Escapes text for HTML/SVG content and attributes.
std::string EscapeHtml(const std::string& text);

}  // namespace needle::reports

#endif  // NEEDLE_REPORTS_SVG_CHART_H_
