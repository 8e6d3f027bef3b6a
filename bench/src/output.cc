#include "needle/bench/output.h"

#include <algorithm>
#include <filesystem>
#include <functional>

#include "needle/str_cat.h"

namespace needle::bench {
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

struct Column {
  std::string header;
  bool right_aligned;
  std::function<std::string(const Row&)> cell;
};

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

}  // namespace

std::string FormatMarkdown(const std::vector<Row>& rows) {
  std::vector<Column> columns;
  // Merged runs say which runtime and device a row came from; a plain local run does not need to.
  if (AnyDiffers(rows, &Row::runtime, "needle")) {
    columns.push_back({"runtime", false, [](const Row& r) { return r.runtime; }});
  }
  if (AnyDiffers(rows, &Row::device, "local")) {
    columns.push_back({"device", false, [](const Row& r) { return r.device; }});
  }
  columns.push_back({"model", false, [](const Row& r) { return Basename(r.model_filename); }});
  columns.push_back({"size", true, [](const Row& r) { return Size(static_cast<double>(r.model_size)); }});
  columns.push_back({"params", true, [](const Row& r) { return Count(r.model_n_params); }});
  columns.push_back({"engine", false, [](const Row& r) { return r.engine; }});
  columns.push_back({"precision", false, [](const Row& r) { return r.precision; }});
  columns.push_back({"threads", true, [](const Row& r) { return std::to_string(r.n_threads); }});
  if (AnyDiffers(rows, &Row::cpu_mask, "")) {
    columns.push_back({"cpu_mask", false, [](const Row& r) { return r.cpu_mask.empty() ? "-" : r.cpu_mask; }});
  }
  columns.push_back({"isa", false, [](const Row& r) { return r.isa.empty() ? "-" : r.isa; }});
  columns.push_back({"test", true, [](const Row& r) { return r.test; }});
  columns.push_back({"t/s", true, [](const Row& r) { return fmt::format("{:.2f} ± {:.2f}", r.avg_ts, r.stddev_ts); }});
  columns.push_back({"TTFT ms", true, [](const Row& r) { return fmt::format("{:.2f}", r.avg_ttft_ms); }});
  columns.push_back({"peak RSS", true, [](const Row& r) {
                       return r.peak_rss_bytes < 0 ? std::string("-") : Size(static_cast<double>(r.peak_rss_bytes));
                     }});

  std::vector<std::vector<std::string>> cells(rows.size());
  std::vector<size_t> widths;
  // Width in code points: "±" is two bytes but one column.
  const auto display_width = [](const std::string& text) {
    return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) { return (c & 0xC0) != 0x80; }));
  };
  for (const Column& column : columns) widths.push_back(std::max<size_t>(3, column.header.size()));
  for (size_t r = 0; r < rows.size(); ++r) {
    for (size_t c = 0; c < columns.size(); ++c) {
      cells[r].push_back(columns[c].cell(rows[r]));
      widths[c] = std::max(widths[c], display_width(cells[r][c]));
    }
  }
  const auto pad = [&](const std::string& text, size_t c) {
    const std::string fill(widths[c] - display_width(text), ' ');
    return columns[c].right_aligned ? fill + text : text + fill;
  };
  std::string out = "|";
  for (size_t c = 0; c < columns.size(); ++c) out += " " + pad(columns[c].header, c) + " |";
  out += "\n|";
  for (size_t c = 0; c < columns.size(); ++c) {
    out += " " + std::string(widths[c] - 1, '-') + (columns[c].right_aligned ? ":" : "-") + " |";
  }
  out += "\n";
  for (const std::vector<std::string>& row_cells : cells) {
    out += "|";
    for (size_t c = 0; c < columns.size(); ++c) out += " " + pad(row_cells[c], c) + " |";
    out += "\n";
  }

  // Where the figures come from, once per distinct machine and build.
  std::vector<std::string> footers;
  for (const Row& row : rows) {
    std::string footer = fmt::format("build: {}, CPU: {} ({} cores)", row.build_commit, row.cpu_info, row.n_cpu_cores);
    if (row.device != "local") footer = StrCat(row.device, ": ", footer);
    if (std::find(footers.begin(), footers.end(), footer) == footers.end()) footers.push_back(footer);
  }
  if (!footers.empty()) out += "\n";
  for (const std::string& footer : footers) out += footer + "\n";
  return out;
}

std::string FormatCsv(const std::vector<Row>& rows) {
  std::string out = fmt::format("{}\n", fmt::join(RowFields(), ","));
  for (const Row& row : rows) {
    const nlohmann::ordered_json json = RowToJson(row);
    std::string line;
    for (const std::string& name : RowFields()) line += (line.empty() ? "" : ",") + CsvValue(json.at(name));
    out += line + "\n";
  }
  return out;
}

std::string FormatJson(const std::vector<Row>& rows) {
  nlohmann::ordered_json array = nlohmann::ordered_json::array();
  for (const Row& row : rows) array.push_back(RowToJson(row));
  return array.dump(2, ' ', false, kReplaceBadUtf8) + "\n";
}

std::string FormatJsonl(const std::vector<Row>& rows) {
  std::string out;
  for (const Row& row : rows) out += RowToJson(row).dump(-1, ' ', false, kReplaceBadUtf8) + "\n";
  return out;
}

bool IsOutputFormat(std::string_view format) {
  return format == "md" || format == "csv" || format == "json" || format == "jsonl";
}

absl::StatusOr<std::string> FormatRows(const std::vector<Row>& rows, std::string_view format) {
  if (format == "md") return FormatMarkdown(rows);
  if (format == "csv") return FormatCsv(rows);
  if (format == "json") return FormatJson(rows);
  if (format == "jsonl") return FormatJsonl(rows);
  return absl::InvalidArgumentError(StrCat("unknown output format \"", format, "\" (md, csv, json, jsonl)"));
}

}  // namespace needle::bench
