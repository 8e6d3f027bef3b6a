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

// Rough text widths, for layout without a font: the average sans-serif glyph
// is about 0.6 em (wider ones are rare in names).
double TextWidth(const std::string& text, double font_size) {
  const double glyphs =
      static_cast<double>(std::count_if(text.begin(), text.end(), [](char c) { return (c & 0xC0) != 0x80; }));
  return glyphs * font_size * 0.6;
}

// Room for the legend: the colour box and the longest name, whole.
double LegendWidth(const std::vector<std::string>& names) {
  double widest = 0;
  for (const std::string& name : names) widest = std::max(widest, TextWidth(name, 12));
  return std::max(120.0, 18 + widest + 12);
}

// A y axis: where a value sits (0 at the bottom, 1 at the top) and the ticks to draw.
struct Axis {
  bool log = false;
  double low = 0, high = 1;  // linear: the values; log: their log10
  std::vector<double> ticks;

  double Fraction(double value) const {
    const double v = log ? std::log10(std::max(value, std::pow(10.0, low))) : value;
    return std::clamp((v - low) / (high - low), 0.0, 1.0);
  }
};

Axis LinearAxis(double max) {
  Axis axis;
  axis.ticks = NiceTicks(max);
  axis.high = axis.ticks.back();
  return axis;
}

// From the power of ten at or below `min` to the one at or above `max`.
Axis LogAxis(double min, double max) {
  Axis axis;
  axis.log = true;
  axis.low = std::floor(std::log10(std::max(min, 1e-12)));
  axis.high = std::max(std::ceil(std::log10(std::max(max, 1e-12))), axis.low + 1);
  for (double p = axis.low; p <= axis.high + 1e-9; ++p) axis.ticks.push_back(std::pow(10.0, p));
  return axis;
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
               const Axis& axis, bool percent, const std::string& y_label) {
  fmt::format_to(out,
                 R"svg(<svg class="chart {3}" xmlns="http://www.w3.org/2000/svg" width="{0:.0f}" height="{1:.0f}" )svg"
                 R"svg(viewBox="0 0 {0:.0f} {1:.0f}" role="img" aria-label="{2}" font-family="sans-serif">)svg",
                 width, height, EscapeHtml(title), kind);
  fmt::format_to(out, R"svg(<text x="{:.1f}" y="20" font-size="15" font-weight="bold">{}</text>)svg", kLeft,
                 EscapeHtml(title));
  const double y0 = kTop + kPlotHeight;
  for (double value : axis.ticks) {
    const double y = y0 - axis.Fraction(value) * kPlotHeight;
    fmt::format_to(out, R"svg(<line x1="{0:.1f}" x2="{1:.1f}" y1="{2:.1f}" y2="{2:.1f}" stroke="#ddd"/>)svg", kLeft,
                   kLeft + plot_width, y);
    fmt::format_to(out, R"svg(<text class="tick" x="{:.1f}" y="{:.1f}" font-size="11" text-anchor="end">{}</text>)svg",
                   kLeft - 6, y + 4, Tick(value, percent));
  }
  fmt::format_to(
      out, R"svg(<text transform="translate(16,{:.1f}) rotate(-90)" font-size="12" text-anchor="middle">{}</text>)svg",
      kTop + kPlotHeight / 2, EscapeHtml(axis.log ? y_label + " (log scale)" : y_label));
}

struct Box {
  double left, top, right, bottom;
  bool Overlaps(const Box& other) const {
    return left < other.right && other.left < right && top < other.bottom && other.top < bottom;
  }
};

}  // namespace

std::vector<double> NiceTicks(double max, int target) {
  if (!(max > 0)) max = 1;
  const double raw = max / std::max(target, 1);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10 * magnitude;
  for (double factor : {1.0, 2.0, 5.0}) {
    if (raw <= factor * magnitude * (1 + 1e-9)) {
      step = factor * magnitude;
      break;
    }
  }
  std::vector<double> ticks = {0};
  // Each tick as i x step, not by adding: 0.1 + 0.2 is not 0.3.
  for (int i = 1; ticks.back() < max * (1 - 1e-9); ++i) ticks.push_back(i * step);
  return ticks;
}

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
  std::vector<std::string> names;
  for (const BarSeries& series : chart.series) names.push_back(series.name);
  const double legend_width = LegendWidth(names);
  const double width = kLeft + plot_width + kRight + legend_width;
  // Category labels are slanted below the axis (35 degrees): room for the longest.
  double longest = 0;
  for (const std::string& category : chart.categories) longest = std::max(longest, TextWidth(category, 11));
  const double label_room = std::max(40.0, 24 + longest * std::sin(35 * 3.14159265358979 / 180));
  const double height = kTop + kPlotHeight + label_room;
  const double y0 = kTop + kPlotHeight;
  Axis axis = LinearAxis(chart.y_max);
  if (chart.log_y) {
    double low = 0, high = 0;
    for (const BarSeries& series : chart.series) {
      for (double value : series.values) {
        if (value > 0) low = low == 0 ? value : std::min(low, value);
      }
      for (const std::vector<double>* values : {&series.values, &series.high}) {
        for (double value : *values) high = std::max(high, value);
      }
    }
    if (low > 0) axis = LogAxis(low, high);
  }
  auto y_of = [&](double value) { return y0 - axis.Fraction(value) * kPlotHeight; };

  std::string svg;
  Out out(svg);
  OpenChart(out, "bar-chart", chart.title, width, height, plot_width, axis, chart.percent, chart.y_label);
  for (size_t c = 0; c < chart.categories.size(); ++c) {
    const double group_x = kLeft + group_width * static_cast<double>(c) + (group_width - bars_width) / 2;
    for (size_t s = 0; s < chart.series.size(); ++s) {
      const BarSeries& series = chart.series[s];
      if (c >= series.values.size()) continue;
      const double x = group_x + bar * static_cast<double>(s);
      const double value = series.values[c];
      const std::string note = c < chart.notes.size() && s < chart.notes[c].size() && !chart.notes[c][s].empty()
                                   ? ", " + chart.notes[c][s]
                                   : "";
      fmt::format_to(out,
                     R"svg(<rect class="bar" data-series="{}" data-category="{}" data-value="{:.4f}" x="{:.1f}" )svg"
                     R"svg(y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}"><title>{}: {} {}{}</title></rect>)svg",
                     EscapeHtml(series.name), EscapeHtml(chart.categories[c]), value, x, y_of(value), bar - 2,
                     y0 - y_of(value), Colour(s), EscapeHtml(series.name), EscapeHtml(chart.categories[c]),
                     chart.percent ? fmt::format("{:.1f}%", 100 * value) : fmt::format("{:.4g}", value),
                     EscapeHtml(note));
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
  Legend(out, names, kLeft + plot_width + kRight, kTop + 12);
  fmt::format_to(out, "</svg>");
  return svg;
}

std::string RenderScatterChart(const ScatterChart& chart) {
  const double plot_width = 480;
  std::vector<std::string> names;
  std::map<std::string, size_t> colour_of;
  for (const ScatterPoint& p : chart.points) {
    if (colour_of.emplace(p.series, names.size()).second) names.push_back(p.series);
  }
  const double legend_width = LegendWidth(names);
  const double width = kLeft + plot_width + kRight + legend_width;
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
  std::vector<double> x_ticks;  // in transformed units
  if (chart.log_x) {
    x_min = std::floor(x_min);
    x_max = std::max(std::ceil(x_max), x_min + 1);
    for (double t = x_min; t <= x_max + 1e-9; ++t) x_ticks.push_back(t);
  } else {
    x_min = std::min(x_min, 0.0);
    x_ticks = NiceTicks(x_max > x_min ? x_max : x_min + 1);
    x_max = x_ticks.back();
  }
  double y_max = chart.y_percent ? 1 : 0;
  for (const ScatterPoint& p : chart.points) y_max = std::max(y_max, p.y);
  const Axis axis = LinearAxis(y_max);
  auto px = [&](double x) { return kLeft + (transform_x(x) - x_min) / (x_max - x_min) * plot_width; };
  auto py = [&](double y) { return y0 - axis.Fraction(y) * kPlotHeight; };

  // Labels: the first free spot around each point, in this order; else a number and a key line.
  constexpr double kFont = 10, kRadius = 6;
  std::vector<Box> taken;
  for (const ScatterPoint& p : chart.points) {
    taken.push_back({px(p.x) - kRadius, py(p.y) - kRadius, px(p.x) + kRadius, py(p.y) + kRadius});
  }
  struct Label {
    double x, y;
    std::string text;
  };
  std::vector<Label> labels;
  std::vector<std::string> key;  // labels that fit nowhere, numbered from 1
  std::vector<std::string> numbers(chart.points.size());
  for (size_t i = 0; i < chart.points.size(); ++i) {
    const ScatterPoint& p = chart.points[i];
    const double x = px(p.x), y = py(p.y), w = TextWidth(p.label, kFont);
    // Text is placed by its baseline; its box spans 8 px above it and 2 below.
    const std::pair<double, double> spots[] = {{x + 8, y - 6},      {x + 8, y + 14},     {x - 8 - w, y - 6},
                                               {x - 8 - w, y + 14}, {x - w / 2, y - 10}, {x - w / 2, y + 20},
                                               {x + 8, y + 4},      {x - 8 - w, y + 4}};
    bool placed = false;
    for (const auto& [left, baseline] : spots) {
      const Box box{left, baseline - 8, left + w, baseline + 2};
      if (box.left < 0 || box.right > kLeft + plot_width + kRight || box.top < kTop - 12 || box.bottom > y0) continue;
      if (std::any_of(taken.begin(), taken.end(), [&](const Box& other) { return box.Overlaps(other); })) continue;
      taken.push_back(box);
      labels.push_back({left, baseline, p.label});
      placed = true;
      break;
    }
    if (!placed) {
      key.push_back(p.label);
      numbers[i] = std::to_string(key.size());
    }
  }
  const double key_top = y0 + 52;
  const double height = key_top + 14.0 * static_cast<double>(key.size());

  std::string svg;
  Out out(svg);
  OpenChart(out, "scatter-chart", chart.title, width, height, plot_width, axis, chart.y_percent, chart.y_label);
  for (double t : x_ticks) {
    const double x_value = chart.log_x ? std::pow(10.0, t) : t;
    const double x = kLeft + (t - x_min) / (x_max - x_min) * plot_width;
    fmt::format_to(out, R"svg(<line x1="{0:.1f}" x2="{0:.1f}" y1="{1:.1f}" y2="{2:.1f}" stroke="#eee"/>)svg", x, kTop,
                   y0);
    fmt::format_to(out,
                   R"svg(<text class="tick" x="{:.1f}" y="{:.1f}" font-size="11" text-anchor="middle">{:g}</text>)svg",
                   x, y0 + 16, x_value);
  }
  fmt::format_to(out, R"svg(<text x="{:.1f}" y="{:.1f}" font-size="12" text-anchor="middle">{}</text>)svg",
                 kLeft + plot_width / 2, y0 + 36, EscapeHtml(chart.x_label));
  fmt::format_to(out, R"svg(<line x1="{0:.1f}" x2="{1:.1f}" y1="{2:.1f}" y2="{2:.1f}" stroke="#333"/>)svg", kLeft,
                 kLeft + plot_width, y0);

  for (size_t i = 0; i < chart.points.size(); ++i) {
    const ScatterPoint& p = chart.points[i];
    fmt::format_to(out,
                   R"svg(<circle class="point" data-series="{}" cx="{:.1f}" cy="{:.1f}" r="{}" fill="{}">)svg"
                   R"svg(<title>{} {}: {:g}, {}</title></circle>)svg",
                   EscapeHtml(p.series), px(p.x), py(p.y), kRadius, Colour(colour_of[p.series]), EscapeHtml(p.series),
                   EscapeHtml(p.label), p.x, Tick(p.y, chart.y_percent));
    if (!numbers[i].empty()) {
      fmt::format_to(out,
                     R"svg(<text class="point-number" x="{:.1f}" y="{:.1f}" font-size="9" fill="#fff" )svg"
                     R"svg(text-anchor="middle">{}</text>)svg",
                     px(p.x), py(p.y) + 3, numbers[i]);
    }
  }
  for (const Label& label : labels) {
    fmt::format_to(out, R"svg(<text class="point-label" x="{:.1f}" y="{:.1f}" font-size="{}">{}</text>)svg", label.x,
                   label.y, kFont, EscapeHtml(label.text));
  }
  for (size_t k = 0; k < key.size(); ++k) {
    fmt::format_to(out, R"svg(<text class="point-key" x="{:.1f}" y="{:.1f}" font-size="{}">{}: {}</text>)svg", kLeft,
                   key_top + 14.0 * static_cast<double>(k), kFont, k + 1, EscapeHtml(key[k]));
  }
  Legend(out, names, kLeft + plot_width + kRight, kTop + 12);
  fmt::format_to(out, "</svg>");
  return svg;
}

}  // namespace needle::reports
