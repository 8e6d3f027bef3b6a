#include "needle/bench/compare.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include "needle/str_cat.h"
#include "nlohmann/json.hpp"

namespace needle::bench {
namespace {

struct KeyColumn {
  const char* name;
  std::function<std::string(const Row&)> value;
};

const std::vector<KeyColumn>& KeyColumns() {
  static const std::vector<KeyColumn> columns = {
      {"runtime", [](const Row& r) { return r.runtime; }},
      {"device", [](const Row& r) { return r.device; }},
      // Two checkouts name one model by different paths: the file name is what identifies it.
      {"model", [](const Row& r) { return std::filesystem::path(r.model_filename).filename().string(); }},
      {"engine", [](const Row& r) { return r.engine; }},
      {"precision", [](const Row& r) { return r.precision; }},
      {"threads", [](const Row& r) { return std::to_string(r.n_threads); }},
      {"cpu_mask", [](const Row& r) { return r.cpu_mask; }},
      {"test", [](const Row& r) { return r.test; }},
  };
  return columns;
}

bool Varies(const std::vector<Row>& rows, const KeyColumn& column) {
  return std::any_of(rows.begin(), rows.end(),
                     [&](const Row& row) { return column.value(row) != column.value(rows.front()); });
}

// "build 1a2b3c, local, Intel Xeon (2 cores)": what each run was, its distinct values joined.
std::string Describe(const std::vector<Row>& rows) {
  const auto distinct = [&](const std::function<std::string(const Row&)>& value) {
    std::vector<std::string> seen;
    for (const Row& row : rows) {
      if (std::find(seen.begin(), seen.end(), value(row)) == seen.end()) seen.push_back(value(row));
    }
    return fmt::format("{}", fmt::join(seen, " / "));
  };
  return StrCat("build ", distinct([](const Row& r) { return r.build_commit; }), ", ", distinct([](const Row& r) {
                  return r.device_model.empty() ? r.device : StrCat(r.device, " (", r.device_model, ")");
                }),
                ", ", distinct([](const Row& r) { return StrCat(r.cpu_info, " (", r.n_cpu_cores, " cores)"); }));
}

std::string Speed(const Row* row) {
  return row == nullptr ? "" : fmt::format("{:.2f} ± {:.2f}", row->avg_ts, row->stddev_ts);
}

std::string Speedup(const ComparedRow& row) {
  return row.a == nullptr || row.b == nullptr || row.a->avg_ts <= 0
             ? ""
             : fmt::format("{:.2f}", row.b->avg_ts / row.a->avg_ts);
}

std::string CsvQuote(const std::string& text) {
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

}  // namespace

RunComparison CompareRuns(const std::vector<Row>& a, const std::vector<Row>& b) {
  RunComparison comparison;
  std::vector<const KeyColumn*> key_columns;
  for (const KeyColumn& column : KeyColumns()) {
    if ((!a.empty() && Varies(a, column)) || (!b.empty() && Varies(b, column))) {
      key_columns.push_back(&column);
      comparison.key_columns.push_back(column.name);
    }
  }
  const auto key_of = [&](const Row& row) {
    std::vector<std::string> key;
    for (const KeyColumn* column : key_columns) key.push_back(column->value(row));
    return key;
  };
  std::map<std::vector<std::string>, size_t> index;  // key -> position in comparison.rows
  for (const Row& row : a) {
    std::vector<std::string> key = key_of(row);
    if (index.count(key) != 0) {
      ++comparison.duplicates_a;
      continue;
    }
    index[key] = comparison.rows.size();
    comparison.rows.push_back({std::move(key), &row, nullptr});
  }
  std::set<std::vector<std::string>> seen_b;
  for (const Row& row : b) {
    std::vector<std::string> key = key_of(row);
    if (!seen_b.insert(key).second) {
      ++comparison.duplicates_b;
      continue;
    }
    const auto found = index.find(key);
    if (found != index.end()) {
      comparison.rows[found->second].b = &row;
    } else {
      comparison.rows.push_back({std::move(key), nullptr, &row});
    }
  }
  return comparison;
}

absl::StatusOr<std::string> FormatComparison(const RunComparison& comparison, const std::vector<Row>& a,
                                             const std::vector<Row>& b, std::string_view a_name,
                                             std::string_view b_name, std::string_view format) {
  const std::vector<std::string>& keys = comparison.key_columns;
  if (format == "json") {
    nlohmann::ordered_json out;
    out["a"] = {{"file", std::string(a_name)}, {"run", Describe(a)}};
    out["b"] = {{"file", std::string(b_name)}, {"run", Describe(b)}};
    out["key_columns"] = keys;
    out["rows"] = nlohmann::ordered_json::array();
    for (const ComparedRow& row : comparison.rows) {
      nlohmann::ordered_json item;
      for (size_t k = 0; k < keys.size(); ++k) item[keys[k]] = row.key[k];
      for (const auto& [side, measured] : {std::pair{"a", row.a}, std::pair{"b", row.b}}) {
        item[StrCat(side, "_avg_ts")] =
            measured == nullptr ? nlohmann::ordered_json() : nlohmann::ordered_json(measured->avg_ts);
        item[StrCat(side, "_stddev_ts")] =
            measured == nullptr ? nlohmann::ordered_json() : nlohmann::ordered_json(measured->stddev_ts);
      }
      item["speedup"] =
          Speedup(row).empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(row.b->avg_ts / row.a->avg_ts);
      out["rows"].push_back(std::move(item));
    }
    out["duplicates_a"] = comparison.duplicates_a;
    out["duplicates_b"] = comparison.duplicates_b;
    return out.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
  }
  if (format == "csv") {
    std::string out;
    for (const std::string& key : keys) out += key + ",";
    out += "a_avg_ts,a_stddev_ts,b_avg_ts,b_stddev_ts,speedup\n";
    for (const ComparedRow& row : comparison.rows) {
      for (const std::string& value : row.key) out += CsvQuote(value) + ",";
      for (const Row* measured : {row.a, row.b}) {
        out += measured == nullptr ? "," : fmt::format("{},{},", measured->avg_ts, measured->stddev_ts);
      }
      out += Speedup(row) + "\n";
    }
    return out;
  }
  if (format != "md") {
    return absl::InvalidArgumentError(StrCat("compare: unknown format \"", format, "\" (md, csv, json)"));
  }
  std::string out = StrCat("A: ", a_name, ": ", Describe(a), "\nB: ", b_name, ": ", Describe(b), "\n\n");
  std::vector<std::string> header = keys;
  header.insert(header.end(), {"t/s A", "t/s B", "B/A"});
  std::vector<std::vector<std::string>> lines;
  for (const ComparedRow& row : comparison.rows) {
    if (row.a == nullptr || row.b == nullptr) continue;
    std::vector<std::string> cells = row.key;
    cells.insert(cells.end(), {Speed(row.a), Speed(row.b), Speedup(row)});
    lines.push_back(std::move(cells));
  }
  // Width in code points: "±" is two bytes but one column.
  const auto width_of = [](const std::string& text) {
    return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) { return (c & 0xC0) != 0x80; }));
  };
  std::vector<size_t> widths;
  for (const std::string& name : header) widths.push_back(std::max<size_t>(3, width_of(name)));
  for (const auto& cells : lines) {
    for (size_t c = 0; c < cells.size(); ++c) widths[c] = std::max(widths[c], width_of(cells[c]));
  }
  const auto line = [&](const std::vector<std::string>& cells) {
    std::string text = "|";
    for (size_t c = 0; c < cells.size(); ++c) {
      const std::string fill(widths[c] - width_of(cells[c]), ' ');
      text += " " + (c < keys.size() ? cells[c] + fill : fill + cells[c]) + " |";  // numbers to the right
    }
    return text + "\n";
  };
  out += line(header) + "|";
  for (size_t c = 0; c < header.size(); ++c) {
    out += " " + std::string(widths[c] - 1, '-') + (c < keys.size() ? "-" : ":") + " |";
  }
  out += "\n";
  for (const auto& cells : lines) out += line(cells);
  if (lines.empty()) out += "(no row of A matches a row of B)\n";
  std::string unmatched;
  for (const ComparedRow& row : comparison.rows) {
    if (row.a != nullptr && row.b != nullptr) continue;
    std::vector<std::string> parts;
    for (size_t k = 0; k < keys.size(); ++k) parts.push_back(StrCat(keys[k], " ", row.key[k]));
    unmatched += fmt::format("only in {}: {}\n", row.a != nullptr ? "A" : "B", fmt::join(parts, ", "));
  }
  if (!unmatched.empty()) out += "\n" + unmatched;
  if (comparison.duplicates_a + comparison.duplicates_b > 0) {
    out += fmt::format("\nrows with a key seen before in the same run, left out: {} in A, {} in B\n",
                       comparison.duplicates_a, comparison.duplicates_b);
  }
  return out;
}

}  // namespace needle::bench
