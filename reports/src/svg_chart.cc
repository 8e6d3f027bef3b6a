#include "needle/reports/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <map>

#include "fmt/format.h"

namespace needle::reports {
namespace {

using Out = std::back_insert_iterator<std::string>;

// Colour-blind-safe palette (Okabe-Ito), cycled.
const char* const kPalette[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"};
const char* Colour(size_t index) { return kPalette[index % std::size(kPalette)]; }

constexpr double kLeft = 64, kRight = 24, kTop = 40, kPlotHeight = 260;

std::string Tick(double value, bool percent) {
  return percent ? fmt::format("{:.0f}%", 100 * value) : fmt::format("{:g}", value);
}

void Legend(Out out, const std::vector<std::string>& names, double x, double y) {
  for (size_t i = 0; i < names.size(); ++i) {
    const double row_y = y + 18.0 * static_cast<double>(i);
    fmt::format_to(out, R"svg(<rect x="{:.1f}" y="{:.1f}" width="12" height="12" fill="{}"/>)svg", x, row_y - 10,
                   Colour(i));
    fmt::format_to(out, R"svg(<text x="{:.1f}" y="{:.1f}" font-size="12">{}</text>)svg", x + 18, row_y,
                   EscapeHtml(names[i]));
  }
}

// The <svg> element with its title, and the y axis: grid lines, ticks and label.
void OpenChart(Out out, const char* kind, const std::string& title, double width, double height, double plot_width,
               double y_max, bool percent, const std::string& y_label) {
  fmt::format_to(out,
                 R"svg(<svg class="chart {3}" xmlns="http://www.w3.org/2000/svg" width="{0:.0f}" height="{1:.0f}" )svg"
                 R"svg(viewBox="0 0 {0:.0f} {1:.0f}" role="img" aria-label="{2}" font-family="sans-serif">)svg",
                 width, height, EscapeHtml(title), kind);
  fmt::format_to(out, R"svg(<text x="{:.1f}" y="20" font-size="15" font-weight="bold">{}</text>)svg", kLeft,
                 EscapeHtml(title));
  const double y0 = kTop + kPlotHeight;
  for (int tick = 0; tick <= 5; ++tick) {
    const double value = y_max * tick / 5.0;
    const double y = y0 - tick / 5.0 * kPlotHeight;
    fmt::format_to(out, R"svg(<line x1="{0:.1f}" x2="{1:.1f}" y1="{2:.1f}" y2="{2:.1f}" stroke="#ddd"/>)svg", kLeft,
                   kLeft + plot_width, y);
    fmt::format_to(out, R"svg(<text x="{:.1f}" y="{:.1f}" font-size="11" text-anchor="end">{}</text>)svg", kLeft - 6,
                   y + 4, Tick(value, percent));
  }
  fmt::format_to(
      out, R"svg(<text transform="translate(16,{:.1f}) rotate(-90)" font-size="12" text-anchor="middle">{}</text>)svg",
      kTop + kPlotHeight / 2, EscapeHtml(y_label));
}

}  // namespace

std::string EscapeHtml(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string RenderBarChart(const BarChart& chart) {
  const double bar = 14, gap = 18;
  const double bars_width = bar * static_cast<double>(std::max<size_t>(chart.series.size(), 1));
  const double groups = static_cast<double>(std::max<size_t>(chart.categories.size(), 1));
  const double plot_width = std::max(360.0, (bars_width + gap) * groups);
  const double group_width = plot_width / groups;  // few categories spread over the plot
  const double legend_width = 180;
  const double width = kLeft + plot_width + kRight + legend_width;
  const double label_room = 110;  // category labels are slanted below the axis
  const double height = kTop + kPlotHeight + label_room;
  const double y0 = kTop + kPlotHeight;
  auto y_of = [&](double value) { return y0 - std::clamp(value / chart.y_max, 0.0, 1.0) * kPlotHeight; };

  std::string svg;
  Out out(svg);
  OpenChart(out, "bar-chart", chart.title, width, height, plot_width, chart.y_max, chart.percent, chart.y_label);
  for (size_t c = 0; c < chart.categories.size(); ++c) {
    const double group_x = kLeft + group_width * static_cast<double>(c) + (group_width - bars_width) / 2;
    for (size_t s = 0; s < chart.series.size(); ++s) {
      const BarSeries& series = chart.series[s];
      if (c >= series.values.size()) continue;
      const double x = group_x + bar * static_cast<double>(s);
      const double value = series.values[c];
      fmt::format_to(out,
                     R"svg(<rect class="bar" data-series="{}" data-category="{}" data-value="{:.4f}" x="{:.1f}" )svg"
                     R"svg(y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}"><title>{}: {} {}</title></rect>)svg",
                     EscapeHtml(series.name), EscapeHtml(chart.categories[c]), value, x, y_of(value), bar - 2,
                     y0 - y_of(value), Colour(s), EscapeHtml(series.name), EscapeHtml(chart.categories[c]),
                     Tick(value, chart.percent));
      if (c < series.low.size() && c < series.high.size()) {
        const double mid = x + (bar - 2) / 2;
        fmt::format_to(out, R"svg(<line x1="{0:.1f}" x2="{0:.1f}" y1="{1:.1f}" y2="{2:.1f}" stroke="#333"/>)svg", mid,
                       y_of(series.low[c]), y_of(series.high[c]));
      }
    }
    const double label_x = group_x + bars_width / 2;
    fmt::format_to(
        out,
        R"svg(<text transform="translate({:.1f},{:.1f}) rotate(-35)" font-size="11" text-anchor="end">{}</text>)svg",
        label_x, y0 + 14, EscapeHtml(chart.categories[c]));
  }
  fmt::format_to(out, R"svg(<line x1="{0:.1f}" x2="{1:.1f}" y1="{2:.1f}" y2="{2:.1f}" stroke="#333"/>)svg", kLeft,
                 kLeft + plot_width, y0);
  std::vector<std::string> names;
  for (const BarSeries& series : chart.series) names.push_back(series.name);
  Legend(out, names, kLeft + plot_width + kRight, kTop + 12);
  fmt::format_to(out, "</svg>");
  return svg;
}

std::string RenderScatterChart(const ScatterChart& chart) {
  const double plot_width = 480, legend_width = 180;
  const double width = kLeft + plot_width + kRight + legend_width;
  const double height = kTop + kPlotHeight + 50;
  const double y0 = kTop + kPlotHeight;

  auto transform_x = [&](double x) { return chart.log_x ? std::log10(std::max(x, 1e-9)) : x; };
  double x_min = 0, x_max = 1;
  if (!chart.points.empty()) {
    x_min = x_max = transform_x(chart.points.front().x);
    for (const ScatterPoint& p : chart.points) {
      x_min = std::min(x_min, transform_x(p.x));
      x_max = std::max(x_max, transform_x(p.x));
    }
  }
  if (chart.log_x) {
    x_min = std::floor(x_min);
    x_max = std::max(std::ceil(x_max), x_min + 1);
  } else {
    x_min = std::min(x_min, 0.0);
    x_max = x_max > x_min ? x_max * 1.1 : x_min + 1;
  }
  double y_max = chart.y_percent ? 1 : 0;
  for (const ScatterPoint& p : chart.points) y_max = std::max(y_max, p.y);
  if (y_max <= 0) y_max = 1;
  auto px = [&](double x) { return kLeft + (transform_x(x) - x_min) / (x_max - x_min) * plot_width; };
  auto py = [&](double y) { return y0 - std::clamp(y / y_max, 0.0, 1.0) * kPlotHeight; };

  std::string svg;
  Out out(svg);
  OpenChart(out, "scatter-chart", chart.title, width, height, plot_width, y_max, chart.y_percent, chart.y_label);
  const int x_ticks = chart.log_x ? static_cast<int>(x_max - x_min) : 5;
  for (int tick = 0; tick <= x_ticks; ++tick) {
    const double t = x_min + (x_max - x_min) * tick / x_ticks;
    const double x_value = chart.log_x ? std::pow(10.0, t) : t;
    const double x = kLeft + (t - x_min) / (x_max - x_min) * plot_width;
    fmt::format_to(out, R"svg(<line x1="{0:.1f}" x2="{0:.1f}" y1="{1:.1f}" y2="{2:.1f}" stroke="#eee"/>)svg", x, kTop,
                   y0);
    fmt::format_to(out, R"svg(<text x="{:.1f}" y="{:.1f}" font-size="11" text-anchor="middle">{:g}</text>)svg", x,
                   y0 + 16, x_value);
  }
  fmt::format_to(out, R"svg(<text x="{:.1f}" y="{:.1f}" font-size="12" text-anchor="middle">{}</text>)svg",
                 kLeft + plot_width / 2, y0 + 36, EscapeHtml(chart.x_label));
  fmt::format_to(out, R"svg(<line x1="{0:.1f}" x2="{1:.1f}" y1="{2:.1f}" y2="{2:.1f}" stroke="#333"/>)svg", kLeft,
                 kLeft + plot_width, y0);

  std::vector<std::string> names;
  std::map<std::string, size_t> colour_of;
  for (const ScatterPoint& p : chart.points) {
    if (colour_of.emplace(p.series, names.size()).second) names.push_back(p.series);
  }
  for (const ScatterPoint& p : chart.points) {
    fmt::format_to(out,
                   R"svg(<circle class="point" data-series="{}" cx="{:.1f}" cy="{:.1f}" r="6" fill="{}">)svg"
                   R"svg(<title>{} {}: {:g}, {}</title></circle>)svg",
                   EscapeHtml(p.series), px(p.x), py(p.y), Colour(colour_of[p.series]), EscapeHtml(p.series),
                   EscapeHtml(p.label), p.x, Tick(p.y, chart.y_percent));
    fmt::format_to(out, R"svg(<text x="{:.1f}" y="{:.1f}" font-size="10">{}</text>)svg", px(p.x) + 8, py(p.y) - 6,
                   EscapeHtml(p.label));
  }
  Legend(out, names, kLeft + plot_width + kRight, kTop + 12);
  fmt::format_to(out, "</svg>");
  return svg;
}

}  // namespace needle::reports
