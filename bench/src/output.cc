#include "needle/bench/output.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>

#include "needle/reports/svg_chart.h"
#include "needle/str_cat.h"

namespace needle::bench {

// A table column: its header and how a row fills it.
struct Column {
  std::string header;
  bool right_aligned;
  std::function<std::string(const Row&)> cell;
};

namespace {

// A file name or CPU string that is not UTF-8 must not abort the output.
constexpr auto kReplaceBadUtf8 = nlohmann::ordered_json::error_handler_t::replace;

std::string Size(double bytes) {
  constexpr double kMiB = 1024.0 * 1024.0, kGiB = kMiB * 1024.0;
  return bytes >= kGiB ? fmt::format("{:.2f} GiB", bytes / kGiB) : fmt::format("{:.2f} MiB", bytes / kMiB);
}

std::string Count(int64_t count) {
  return count >= 1000000000 ? fmt::format("{:.2f} B", count / 1e9) : fmt::format("{:.2f} M", count / 1e6);
}

std::string Basename(const std::string& path) { return std::filesystem::path(path).filename().string(); }

template <typename Member>
bool AnyDiffers(const std::vector<Row>& rows, Member member, const std::string& usual) {
  return std::any_of(rows.begin(), rows.end(), [&](const Row& row) { return row.*member != usual; });
}

std::string CsvQuote(const std::string& text) {
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

std::string CsvValue(const nlohmann::ordered_json& value) {
  if (value.is_string()) return CsvQuote(value.get<std::string>());
  if (!value.is_array()) return value.dump(-1, ' ', false, kReplaceBadUtf8);
  std::string joined;
  for (const auto& item : value) joined += (joined.empty() ? "" : ";") + item.dump(-1, ' ', false, kReplaceBadUtf8);
  return CsvQuote(joined);
}

// The reference engine's row for the same model, device and test: the base of the ratio column.
const Row* ReferenceRow(const std::vector<Row>& rows, const Row& row) {
  for (const Row& other : rows) {
    if (other.runtime == "needle" && other.engine == "reference" && other.device == row.device &&
        other.model_filename == row.model_filename && other.test == row.test && other.avg_ts > 0) {
      return &other;
    }
  }
  return nullptr;
}

std::string Label(const Row& row) {
  return row.runtime == "needle" ? StrCat(row.engine, " ", row.precision)
                                 : StrCat(row.engine, " ", row.precision, " (", row.runtime, ")");
}

std::string Speed(double ts) { return ts >= 100 ? fmt::format("{:.0f}", ts) : fmt::format("{:.2f}", ts); }

// Roofline columns: the achieved rate of the row's least work over its mean
// time, and that rate over the machine's peak. Prefill is held against the
// arithmetic peak, decode against DRAM bandwidth; a combined test shows both,
// each over its whole time.
bool HasRoofline(const Row& r) {
  return r.work_flop > 0 && r.work_bytes > 0 && r.peak_flops > 0 && r.peak_bytes_per_s > 0 && r.avg_ns > 0;
}
bool ShowsCompute(const Row& r) { return HasRoofline(r) && r.n_prompt > 0; }
bool ShowsBandwidth(const Row& r) { return HasRoofline(r) && r.n_gen > 0; }
double FlopPerSecond(const Row& r) { return r.work_flop / (r.avg_ns / 1e9); }
double BytesPerSecond(const Row& r) { return r.work_bytes / (r.avg_ns / 1e9); }

// Three significant digits or more.
std::string Rate(double value) {
  return fmt::format(value >= 100 ? "{:.0f}" : value >= 10 ? "{:.1f}" : "{:.2f}", value);
}

void AddRooflineColumns(const TableShape& shape, std::vector<Column>& columns) {
  if (shape.compute) {
    columns.push_back({"GFLOP/s", true,
                       [](const Row& r) { return ShowsCompute(r) ? Rate(FlopPerSecond(r) / 1e9) : std::string("-"); }});
    columns.push_back({"% peak", true, [](const Row& r) {
                         return ShowsCompute(r) ? fmt::format("{:.1f}", 100 * FlopPerSecond(r) / r.peak_flops)
                                                : std::string("-");
                       }});
  }
  if (shape.bandwidth) {
    columns.push_back({"GB/s", true, [](const Row& r) {
                         return ShowsBandwidth(r) ? Rate(BytesPerSecond(r) / 1e9) : std::string("-");
                       }});
    columns.push_back({"% BW", true, [](const Row& r) {
                         return ShowsBandwidth(r) ? fmt::format("{:.1f}", 100 * BytesPerSecond(r) / r.peak_bytes_per_s)
                                                  : std::string("-");
                       }});
  }
}

// `rows` is read when a cell is made, so a table printed as it runs can hold
// the rows so far there.
std::vector<Column> TableColumns(const std::vector<Row>& rows, const TableShape& shape) {
  std::vector<Column> columns;
  // Merged runs say which runtime and device a row came from; a plain local run does not need to.
  if (shape.runtime) {
    columns.push_back({"runtime", false, [](const Row& r) { return r.runtime; }});
  }
  if (shape.device) {
    columns.push_back({"device", false, [](const Row& r) {
                         return r.device_model.empty() ? r.device : StrCat(r.device, " (", r.device_model, ")");
                       }});
  }
  columns.push_back({"model", false, [](const Row& r) { return Basename(r.model_filename); }});
  columns.push_back({"size", true, [](const Row& r) { return Size(static_cast<double>(r.model_size)); }});
  columns.push_back({"params", true, [](const Row& r) { return Count(r.model_n_params); }});
  columns.push_back({"engine", false, [](const Row& r) { return r.engine; }});
  columns.push_back({"precision", false, [](const Row& r) { return r.precision; }});
  columns.push_back({"threads", true, [](const Row& r) { return std::to_string(r.n_threads); }});
  if (shape.cpu_mask) {
    columns.push_back({"cpu_mask", false, [](const Row& r) { return r.cpu_mask.empty() ? "-" : r.cpu_mask; }});
  }
  columns.push_back({"isa", false, [](const Row& r) { return r.isa.empty() ? "-" : r.isa; }});
  columns.push_back({"test", true, [](const Row& r) { return r.test; }});
  columns.push_back({"t/s", true, [](const Row& r) { return fmt::format("{:.2f} ± {:.2f}", r.avg_ts, r.stddev_ts); }});
  if (shape.x_ref) {
    columns.push_back({"x ref", true, [&rows](const Row& r) {
                         const Row* reference = ReferenceRow(rows, r);
                         return reference == nullptr ? std::string("-")
                                                     : fmt::format("{:.2f}", r.avg_ts / reference->avg_ts);
                       }});
  }
  AddRooflineColumns(shape, columns);
  columns.push_back({"TTFT ms", true, [](const Row& r) { return fmt::format("{:.2f}", r.avg_ttft_ms); }});
  columns.push_back({"peak RSS", true, [](const Row& r) {
                       return r.peak_rss_bytes < 0 ? std::string("-") : Size(static_cast<double>(r.peak_rss_bytes));
                     }});
  return columns;
}

// Where the figures come from, once per distinct machine and build.
std::vector<std::string> SourceFooters(const std::vector<Row>& rows) {
  std::vector<std::string> footers;
  for (const Row& row : rows) {
    std::string footer = fmt::format("build: {}, CPU: {} ({} cores)", row.build_commit, row.cpu_info, row.n_cpu_cores);
    if (!row.os_version.empty()) footer += StrCat(", ", row.os_version);
    if (row.device != "local") {
      footer = StrCat(row.device, row.device_model.empty() ? "" : StrCat(" ", row.device_model), ": ", footer);
      if (row.battery_before >= 0 || row.temp_before_c >= 0) {
        footer += fmt::format("; battery {}% -> {}%, {:.1f} C -> {:.1f} C", row.battery_before, row.battery_after,
                              row.temp_before_c, row.temp_after_c);
      }
    }
    if (std::find(footers.begin(), footers.end(), footer) == footers.end()) footers.push_back(footer);
  }
  return footers;
}

// Under the Markdown table: the peaks, the peer ratios, where the rows come from.
std::string MarkdownFooter(const std::vector<Row>& rows, const std::vector<MachinePeak>& peaks) {
  std::string out;
  if (!peaks.empty()) out += "\n";
  for (const MachinePeak& peak : peaks) out += DescribePeak(peak) + "\n";
  const std::vector<std::string> comparisons = PeerComparisons(rows);
  if (!comparisons.empty()) out += "\n";
  for (const std::string& line : comparisons) out += line + "\n";
  const std::vector<std::string> footers = SourceFooters(rows);
  if (!footers.empty()) out += "\n";
  for (const std::string& footer : footers) out += footer + "\n";
  return out;
}

// Width in code points: "±" is two bytes but one column.
size_t DisplayWidth(const std::string& text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

std::string Pad(const std::string& text, size_t width, bool right_aligned) {
  const std::string fill(width - std::min(width, DisplayWidth(text)), ' ');
  return right_aligned ? fill + text : text + fill;
}

std::string MarkdownLine(const std::vector<std::string>& cells, const std::vector<Column>& columns,
                         const std::vector<size_t>& widths) {
  std::string out = "|";
  for (size_t c = 0; c < columns.size(); ++c) out += " " + Pad(cells[c], widths[c], columns[c].right_aligned) + " |";
  return out + "\n";
}

std::string MarkdownHeader(const std::vector<Column>& columns, const std::vector<size_t>& widths) {
  std::vector<std::string> names;
  for (const Column& column : columns) names.push_back(column.header);
  std::string out = MarkdownLine(names, columns, widths) + "|";
  for (size_t c = 0; c < columns.size(); ++c) {
    out += " " + std::string(widths[c] - 1, '-') + (columns[c].right_aligned ? ":" : "-") + " |";
  }
  return out + "\n";
}

// A table printed before its rows exist cannot fit its columns to them, so, as
// llama-bench, it uses widths that fit the usual values; a longer value
// shifts its line but stays one cell.
size_t StreamedWidth(const std::string& header) {
  static const std::map<std::string, size_t> kWidths = {
      {"runtime", 11}, {"device", 24},   {"model", 24},  {"size", 10},    {"params", 8},
      {"engine", 9},   {"precision", 9}, {"threads", 7}, {"cpu_mask", 8}, {"isa", 10},
      {"test", 13},    {"t/s", 20},      {"x ref", 6},   {"TTFT ms", 10}, {"peak RSS", 10}};
  const auto found = kWidths.find(header);
  return std::max<size_t>(std::max<size_t>(3, header.size()), found == kWidths.end() ? 0 : found->second);
}

std::string IndentLines(const std::string& text, const std::string& indent) {
  std::string out = indent;
  for (char c : text) {
    out += c;
    if (c == '\n') out += indent;
  }
  return out;
}

std::vector<std::vector<std::string>> Cells(const std::vector<Row>& rows, const std::vector<Column>& columns) {
  std::vector<std::vector<std::string>> cells(rows.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    for (const Column& column : columns) cells[r].push_back(column.cell(rows[r]));
  }
  return cells;
}

// A linear axis squeezes the slower rows to nothing when the fastest is 100
// times faster or more (the reference engine beside the optimized one).
bool SpansDecades(const std::vector<const Row*>& group) {
  double low = 0, high = 0;
  for (const Row* row : group) {
    if (row->avg_ts <= 0) continue;
    low = low == 0 ? row->avg_ts : std::min(low, row->avg_ts);
    high = std::max(high, row->avg_ts);
  }
  return low > 0 && high / low >= 100;
}

// One chart per device, model and test: tok/s against threads, a bar per
// engine and precision (error bars: one standard deviation).
std::vector<reports::BarChart> ThreadCharts(const std::vector<Row>& rows) {
  std::vector<std::string> keys;
  for (const Row& row : rows) {
    const std::string key = StrCat(row.device, "\n", row.model_filename, "\n", row.test);
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
  }
  std::vector<reports::BarChart> charts;
  for (const std::string& key : keys) {
    std::vector<const Row*> group;
    for (const Row& row : rows) {
      if (StrCat(row.device, "\n", row.model_filename, "\n", row.test) == key) group.push_back(&row);
    }
    const Row& first = *group.front();
    reports::BarChart chart;
    chart.title = StrCat(first.test, ", ", Basename(first.model_filename),
                         first.device == "local" ? "" : StrCat(", ", first.device));
    chart.y_label = "tokens per second";
    chart.percent = false;
    std::vector<int> threads;
    for (const Row* row : group) {
      if (std::find(threads.begin(), threads.end(), row->n_threads) == threads.end()) threads.push_back(row->n_threads);
    }
    std::sort(threads.begin(), threads.end());
    for (int count : threads) chart.categories.push_back(StrCat(count, count == 1 ? " thread" : " threads"));
    double top = 0;
    for (const Row* row : group) {
      const std::string name = Label(*row);
      auto series = std::find_if(chart.series.begin(), chart.series.end(),
                                 [&](const reports::BarSeries& s) { return s.name == name; });
      if (series == chart.series.end()) {
        chart.series.push_back({name, std::vector<double>(threads.size(), 0.0),
                                std::vector<double>(threads.size(), 0.0), std::vector<double>(threads.size(), 0.0)});
        series = chart.series.end() - 1;
      }
      const size_t c = std::find(threads.begin(), threads.end(), row->n_threads) - threads.begin();
      series->values[c] = row->avg_ts;
      series->low[c] = std::max(0.0, row->avg_ts - row->stddev_ts);
      series->high[c] = row->avg_ts + row->stddev_ts;
      top = std::max(top, series->high[c]);
    }
    chart.y_max = top > 0 ? top : 1;
    chart.log_y = SpansDecades(group);
    charts.push_back(std::move(chart));
  }
  return charts;
}

// With rows from more than one device: per model and test, the devices side
// by side, a bar per engine, precision and thread count. Empty otherwise.
std::vector<reports::BarChart> DeviceCharts(const std::vector<Row>& rows) {
  std::vector<std::string> devices, keys;
  const auto add = [](std::vector<std::string>& list, const std::string& value) {
    if (std::find(list.begin(), list.end(), value) == list.end()) list.push_back(value);
  };
  const auto device_name = [](const Row& r) {
    return r.device_model.empty() ? r.device : StrCat(r.device, " (", r.device_model, ")");
  };
  for (const Row& row : rows) {
    add(devices, device_name(row));
    add(keys, StrCat(row.model_filename, "\n", row.test));
  }
  std::vector<reports::BarChart> charts;
  if (devices.size() < 2) return charts;
  for (const std::string& key : keys) {
    std::vector<const Row*> group;
    for (const Row& row : rows) {
      if (StrCat(row.model_filename, "\n", row.test) == key) group.push_back(&row);
    }
    reports::BarChart chart;
    chart.title = StrCat(group.front()->test, ", ", Basename(group.front()->model_filename), ": devices side by side");
    chart.y_label = "tokens per second";
    chart.percent = false;
    for (const Row* row : group) add(chart.categories, device_name(*row));
    double top = 0;
    for (const Row* row : group) {
      const std::string name = StrCat(Label(*row), ", ", row->n_threads, row->n_threads == 1 ? " thread" : " threads");
      auto series = std::find_if(chart.series.begin(), chart.series.end(),
                                 [&](const reports::BarSeries& s) { return s.name == name; });
      if (series == chart.series.end()) {
        const size_t n = chart.categories.size();
        chart.series.push_back(
            {name, std::vector<double>(n, 0.0), std::vector<double>(n, 0.0), std::vector<double>(n, 0.0)});
        series = chart.series.end() - 1;
      }
      const size_t c =
          std::find(chart.categories.begin(), chart.categories.end(), device_name(*row)) - chart.categories.begin();
      series->values[c] = row->avg_ts;
      series->low[c] = std::max(0.0, row->avg_ts - row->stddev_ts);
      series->high[c] = row->avg_ts + row->stddev_ts;
      top = std::max(top, series->high[c]);
    }
    chart.y_max = top > 0 ? top : 1;
    chart.log_y = SpansDecades(group);
    charts.push_back(std::move(chart));
  }
  return charts;
}

// Settings (not results) that every row shares: said once above the table.
bool IsSetting(const std::string& header) {
  static const char* const kSettings[] = {"runtime",   "device",  "model",    "size", "params", "engine",
                                          "precision", "threads", "cpu_mask", "isa",  "test"};
  return std::find(std::begin(kSettings), std::end(kSettings), header) != std::end(kSettings);
}

}  // namespace

// One line per precision of ours on each device, model, test and thread count:
// our fastest row at that precision against the strongest peer at the same
// precision, "pp1024, 2 threads: optimized w8a8 6120 t/s = 2.04x onnxruntime
// w8a8 (onnxruntime 1.30.0) (3001 t/s), the strongest of 1 w8a8 peer". A
// precision no peer ran is held against the strongest peer at any precision,
// and the line says so: a ratio across precisions is not like for like.
std::vector<std::string> PeerComparisons(const std::vector<Row>& rows) {
  const auto same_test = [](const Row& a, const Row& b) {
    return a.device == b.device && a.model_filename == b.model_filename && a.test == b.test &&
           a.n_threads == b.n_threads;
  };
  const auto is_peer = [](const Row& row) { return row.runtime != "needle" && row.avg_ts > 0; };
  // The fastest row among those `keep` selects, or nullptr; with its count.
  const auto fastest = [&](const auto& keep) {
    const Row* best = nullptr;
    int count = 0;
    for (const Row& row : rows) {
      if (!keep(row)) continue;
      ++count;
      if (best == nullptr || row.avg_ts > best->avg_ts) best = &row;
    }
    return std::make_pair(best, count);
  };
  std::vector<std::string> lines;
  for (const Row& ours : rows) {
    if (ours.runtime != "needle" || ours.avg_ts <= 0) continue;
    const auto [best_ours, _] = fastest([&](const Row& row) {
      return row.runtime == "needle" && same_test(row, ours) && row.precision == ours.precision;
    });
    if (best_ours != &ours) continue;  // one line per precision: its fastest row
    auto [peer, peers] = fastest(
        [&](const Row& row) { return is_peer(row) && same_test(row, ours) && row.precision == ours.precision; });
    std::string strongest = fmt::format("the strongest of {} {} peer{}", peers, ours.precision, peers == 1 ? "" : "s");
    if (peer == nullptr) {
      std::tie(peer, peers) = fastest([&](const Row& row) { return is_peer(row) && same_test(row, ours); });
      if (peer == nullptr) continue;
      strongest = fmt::format("no {} peer ran: the strongest of {} peer{} at any precision", ours.precision, peers,
                              peers == 1 ? "" : "s");
    }
    std::string line = fmt::format("{}, {} thread{}: {} {} t/s = {:.2f}x {} ({} t/s), {}", ours.test, ours.n_threads,
                                   ours.n_threads == 1 ? "" : "s", Label(ours), Speed(ours.avg_ts),
                                   ours.avg_ts / peer->avg_ts, Label(*peer), Speed(peer->avg_ts), strongest);
    if (ours.device != "local") line = StrCat(ours.device, ": ", line);
    lines.push_back(std::move(line));
  }
  return lines;
}

TableShape ShapeOf(const std::vector<Row>& rows) {
  TableShape shape;
  shape.runtime = AnyDiffers(rows, &Row::runtime, "needle");
  shape.device = AnyDiffers(rows, &Row::device, "local");
  shape.cpu_mask = AnyDiffers(rows, &Row::cpu_mask, "");
  shape.x_ref = std::any_of(rows.begin(), rows.end(),
                            [&](const Row& r) { return ReferenceRow(rows, r) != nullptr && r.engine != "reference"; });
  shape.compute = std::any_of(rows.begin(), rows.end(), ShowsCompute);
  shape.bandwidth = std::any_of(rows.begin(), rows.end(), ShowsBandwidth);
  return shape;
}

TableShape& TableShape::operator|=(const TableShape& other) {
  runtime |= other.runtime;
  device |= other.device;
  cpu_mask |= other.cpu_mask;
  x_ref |= other.x_ref;
  compute |= other.compute;
  bandwidth |= other.bandwidth;
  return *this;
}

std::string FormatMarkdown(const std::vector<Row>& rows, const std::vector<MachinePeak>& peaks) {
  const std::vector<Column> columns = TableColumns(rows, ShapeOf(rows));
  const std::vector<std::vector<std::string>> cells = Cells(rows, columns);
  std::vector<size_t> widths;
  for (const Column& column : columns) widths.push_back(std::max<size_t>(3, column.header.size()));
  for (const std::vector<std::string>& row_cells : cells) {
    for (size_t c = 0; c < columns.size(); ++c) widths[c] = std::max(widths[c], DisplayWidth(row_cells[c]));
  }
  std::string out = MarkdownHeader(columns, widths);
  for (const std::vector<std::string>& row_cells : cells) out += MarkdownLine(row_cells, columns, widths);
  return out + MarkdownFooter(rows, peaks);
}

RowWriter::RowWriter(std::string format, const TableShape& shape, std::vector<MachinePeak> peaks)
    : format_(std::move(format)), peaks_(std::move(peaks)) {
  if (format_ == "md") {
    columns_ = TableColumns(rows_, shape);
    for (const Column& column : columns_) widths_.push_back(StreamedWidth(column.header));
  }
}

RowWriter::~RowWriter() = default;

std::string RowWriter::Begin() {
  if (format_ == "md") return MarkdownHeader(columns_, widths_);
  if (format_ == "csv") return fmt::format("{}\n", fmt::join(RowFields(), ","));
  if (format_ == "json") return "[";
  return "";
}

std::string RowWriter::Add(const Row& row) {
  rows_.push_back(row);
  if (format_ == "md") {
    std::vector<std::string> cells;
    for (const Column& column : columns_) cells.push_back(column.cell(rows_.back()));
    return MarkdownLine(cells, columns_, widths_);
  }
  if (format_ == "csv") {
    const nlohmann::ordered_json json = RowToJson(row);
    std::string line;
    for (const std::string& name : RowFields()) line += (line.empty() ? "" : ",") + CsvValue(json.at(name));
    return line + "\n";
  }
  if (format_ == "jsonl") return RowToJson(row).dump(-1, ' ', false, kReplaceBadUtf8) + "\n";
  // As nlohmann's dump(2) of the whole array: each item two spaces in.
  if (format_ == "json") {
    return (rows_.size() == 1 ? "\n" : ",\n") + IndentLines(RowToJson(row).dump(2, ' ', false, kReplaceBadUtf8), "  ");
  }
  return "";  // html: drawn at the end
}

std::string RowWriter::End() {
  if (format_ == "md") return MarkdownFooter(rows_, peaks_);
  if (format_ == "json") return rows_.empty() ? "]\n" : "\n]\n";
  if (format_ == "html") return FormatHtml(rows_, peaks_);
  return "";
}

std::string RowWriter::Whole(const std::vector<Row>& rows) {
  std::string out = Begin();
  for (const Row& row : rows) out += Add(row);
  return out + End();
}

std::string FormatHtml(const std::vector<Row>& rows, const std::vector<MachinePeak>& peaks) {
  using reports::EscapeHtml;
  // The table wraps its cells rather than run off the page; the charts shrink to fit.
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>needle-bench</title>\n"
      "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;max-width:100%;font-size:13px}"
      "td,th{border:1px solid #ccc;padding:2px 6px;overflow-wrap:anywhere}td.num{text-align:right;"
      "font-variant-numeric:tabular-nums}.constants{color:#333}"
      ".chart{display:block;margin:1em 0;max-width:100%;height:auto}</style></head><body>\n<h1>needle-bench</h1>\n";
  std::vector<Column> columns = TableColumns(rows, ShapeOf(rows));
  std::vector<std::vector<std::string>> cells = Cells(rows, columns);
  // A setting every row shares is stated once above the table instead of in every row.
  std::vector<std::string> shared;
  for (size_t c = columns.size(); c-- > 0;) {
    const bool same = rows.size() > 1 && IsSetting(columns[c].header) &&
                      std::all_of(cells.begin(), cells.end(), [&](const auto& row) { return row[c] == cells[0][c]; });
    if (!same) continue;
    shared.insert(shared.begin(), StrCat("<b>", EscapeHtml(columns[c].header), "</b> ", EscapeHtml(cells[0][c])));
    columns.erase(columns.begin() + static_cast<std::ptrdiff_t>(c));
    for (auto& row : cells) row.erase(row.begin() + static_cast<std::ptrdiff_t>(c));
  }
  if (!shared.empty())
    out += StrCat("<p class=\"constants\">Every row: ", fmt::format("{}", fmt::join(shared, "; ")), "</p>\n");
  out += "<table class=\"rows\">\n<tr>";
  for (const Column& column : columns) out += "<th>" + EscapeHtml(column.header) + "</th>";
  out += "</tr>\n";
  for (const std::vector<std::string>& row_cells : cells) {
    out += "<tr>";
    for (size_t c = 0; c < columns.size(); ++c) {
      out += StrCat(columns[c].right_aligned ? "<td class=\"num\">" : "<td>", EscapeHtml(row_cells[c]), "</td>");
    }
    out += "</tr>\n";
  }
  out += "</table>\n";
  if (!peaks.empty()) {
    out += "<h2>Measured peaks</h2>\n<ul>\n";
    for (const MachinePeak& peak : peaks) out += "<li>" + EscapeHtml(DescribePeak(peak)) + "</li>\n";
    out += "</ul>\n";
  }
  const std::vector<std::string> comparisons = PeerComparisons(rows);
  if (!comparisons.empty()) {
    out += "<h2>Against peers</h2>\n<ul>\n";
    for (const std::string& line : comparisons) out += "<li>" + EscapeHtml(line) + "</li>\n";
    out += "</ul>\n";
  }
  out += "<h2>Speed against threads</h2>\n";
  for (const reports::BarChart& chart : ThreadCharts(rows)) out += reports::RenderBarChart(chart) + "\n";
  const std::vector<reports::BarChart> device_charts = DeviceCharts(rows);
  if (!device_charts.empty()) out += "<h2>Devices side by side</h2>\n";
  for (const reports::BarChart& chart : device_charts) out += reports::RenderBarChart(chart) + "\n";
  out += "<h2>Where</h2>\n<ul>\n";
  for (const std::string& footer : SourceFooters(rows)) out += "<li>" + EscapeHtml(footer) + "</li>\n";
  out += "</ul>\n</body></html>\n";
  return out;
}

std::string FormatCsv(const std::vector<Row>& rows) { return RowWriter("csv", {}).Whole(rows); }
std::string FormatJson(const std::vector<Row>& rows) { return RowWriter("json", {}).Whole(rows); }
std::string FormatJsonl(const std::vector<Row>& rows) { return RowWriter("jsonl", {}).Whole(rows); }

bool IsOutputFormat(std::string_view format) {
  return format == "md" || format == "csv" || format == "json" || format == "jsonl" || format == "html";
}

absl::StatusOr<std::string> FormatRows(const std::vector<Row>& rows, std::string_view format,
                                       const std::vector<MachinePeak>& peaks) {
  if (format == "md") return FormatMarkdown(rows, peaks);
  if (format == "csv") return FormatCsv(rows);
  if (format == "json") return FormatJson(rows);
  if (format == "jsonl") return FormatJsonl(rows);
  if (format == "html") return FormatHtml(rows, peaks);
  return absl::InvalidArgumentError(StrCat("unknown output format \"", format, "\" (md, csv, json, jsonl, html)"));
}

}  // namespace needle::bench
