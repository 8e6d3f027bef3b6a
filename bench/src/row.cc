#include "needle/bench/row.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <type_traits>
#include <utility>

#include "needle/json.h"
#include "needle/str_cat.h"

namespace needle::bench {
namespace {

// One accessor table serves both directions, so JSON written is JSON read.
template <typename T>
struct Field {
  const char* name;
  T Row::*member;
};

const Field<std::string> kStringFields[] = {
    {"runtime", &Row::runtime},
    {"device", &Row::device},
    {"host", &Row::host},
    {"cpu_info", &Row::cpu_info},
    {"build_commit", &Row::build_commit},
    {"device_model", &Row::device_model},
    {"os_version", &Row::os_version},
    {"model_filename", &Row::model_filename},
    {"model_type", &Row::model_type},
    {"engine", &Row::engine},
    {"precision", &Row::precision},
    {"isa", &Row::isa},
    {"cpu_mask", &Row::cpu_mask},
    {"test", &Row::test},
    {"test_time", &Row::test_time},
};
const Field<int> kIntFields[] = {
    {"n_cpu_cores", &Row::n_cpu_cores}, {"battery_before", &Row::battery_before},
    {"battery_after", &Row::battery_after}, {"n_threads", &Row::n_threads},
    {"n_prompt", &Row::n_prompt},       {"n_gen", &Row::n_gen},
    {"n_depth", &Row::n_depth},         {"repetitions", &Row::repetitions},
    {"warmup", &Row::warmup},
};
const Field<int64_t> kInt64Fields[] = {
    {"model_size", &Row::model_size},
    {"model_n_params", &Row::model_n_params},
    {"peak_rss_bytes", &Row::peak_rss_bytes},
};
const Field<double> kDoubleFields[] = {
    {"avg_ns", &Row::avg_ns},       {"stddev_ns", &Row::stddev_ns},     {"avg_ts", &Row::avg_ts},
    {"stddev_ts", &Row::stddev_ts}, {"avg_ttft_ms", &Row::avg_ttft_ms}, {"temp_before_c", &Row::temp_before_c},
    {"temp_after_c", &Row::temp_after_c},
};
// Optional on reading: rows written before they existed (an older device binary's) still merge.
const Field<double> kRooflineFields[] = {
    {"work_flop", &Row::work_flop},
    {"work_bytes", &Row::work_bytes},
    {"peak_flops", &Row::peak_flops},
    {"peak_bytes_per_s", &Row::peak_bytes_per_s},
};

template <typename T>
absl::StatusOr<T> Get(const nlohmann::json& json, const char* key) {
  const auto it = json.find(key);
  if (it == json.end()) return absl::InvalidArgumentError(StrCat("row has no \"", key, "\""));
  bool ok = false;
  if constexpr (std::is_same_v<T, std::string>) {
    ok = it->is_string();
  } else if constexpr (std::is_integral_v<T>) {
    ok = it->is_number_integer();
  } else if constexpr (std::is_floating_point_v<T>) {
    ok = it->is_number();
  } else {
    ok = it->is_array() && std::all_of(it->begin(), it->end(), [](const nlohmann::json& item) {
           return std::is_integral_v<typename T::value_type> ? item.is_number_integer() : item.is_number();
         });
  }
  if (!ok) return absl::InvalidArgumentError(StrCat("row field \"", key, "\" has the wrong type: ", it->dump()));
  return it->template get<T>();
}

}  // namespace

double Mean(const std::vector<double>& values) {
  if (values.empty()) return 0;
  double sum = 0;
  for (double v : values) sum += v;
  return sum / values.size();
}

double StdDev(const std::vector<double>& values) {
  if (values.size() < 2) return 0;
  const double mean = Mean(values);
  double squares = 0;
  for (double v : values) squares += (v - mean) * (v - mean);
  return std::sqrt(squares / (values.size() - 1));
}

void Summarize(Row& row) {
  const std::vector<double> ns(row.samples_ns.begin(), row.samples_ns.end());
  row.avg_ns = Mean(ns);
  row.stddev_ns = StdDev(ns);
  row.avg_ts = Mean(row.samples_ts);
  row.stddev_ts = StdDev(row.samples_ts);
  row.avg_ttft_ms = Mean(row.samples_ttft_ms);
}

const std::vector<std::string>& RowFields() {
  static const std::vector<std::string> fields = {
      "runtime",      "device",         "host",        "cpu_info",        "n_cpu_cores",
      "build_commit", "device_model",   "os_version",  "battery_before",  "battery_after",
      "temp_before_c", "temp_after_c",  "model_filename", "model_type",  "model_size",      "model_n_params",
      "engine",       "precision",      "isa",         "n_threads",       "cpu_mask",
      "test",         "n_prompt",       "n_gen",       "n_depth",         "repetitions",
      "warmup",       "avg_ns",         "stddev_ns",   "avg_ts",          "stddev_ts",
      "samples_ns",   "samples_ts",     "avg_ttft_ms", "samples_ttft_ms", "peak_rss_bytes",
      "test_time",    "work_flop",      "work_bytes",  "peak_flops",      "peak_bytes_per_s"};
  return fields;
}

nlohmann::ordered_json RowToJson(const Row& row) {
  nlohmann::ordered_json unordered = nlohmann::ordered_json::object();
  for (const auto& field : kStringFields) unordered[field.name] = row.*field.member;
  for (const auto& field : kIntFields) unordered[field.name] = row.*field.member;
  for (const auto& field : kInt64Fields) unordered[field.name] = row.*field.member;
  for (const auto& field : kDoubleFields) unordered[field.name] = row.*field.member;
  for (const auto& field : kRooflineFields) unordered[field.name] = row.*field.member;
  unordered["samples_ns"] = row.samples_ns;
  unordered["samples_ts"] = row.samples_ts;
  unordered["samples_ttft_ms"] = row.samples_ttft_ms;
  nlohmann::ordered_json ordered = nlohmann::ordered_json::object();
  for (const std::string& name : RowFields()) ordered[name] = unordered.at(name);
  return ordered;
}

absl::StatusOr<Row> RowFromJson(const nlohmann::json& json) {
  if (!json.is_object()) return absl::InvalidArgumentError(StrCat("a row must be a JSON object, not ", json.dump()));
  Row row;
  for (const auto& field : kStringFields) {
    absl::StatusOr<std::string> value = Get<std::string>(json, field.name);
    if (!value.ok()) return value.status();
    row.*field.member = *std::move(value);
  }
  for (const auto& field : kIntFields) {
    absl::StatusOr<int> value = Get<int>(json, field.name);
    if (!value.ok()) return value.status();
    row.*field.member = *value;
  }
  for (const auto& field : kInt64Fields) {
    absl::StatusOr<int64_t> value = Get<int64_t>(json, field.name);
    if (!value.ok()) return value.status();
    row.*field.member = *value;
  }
  for (const auto& field : kDoubleFields) {
    absl::StatusOr<double> value = Get<double>(json, field.name);
    if (!value.ok()) return value.status();
    row.*field.member = *value;
  }
  for (const auto& field : kRooflineFields) {
    if (!json.contains(field.name)) continue;
    absl::StatusOr<double> value = Get<double>(json, field.name);
    if (!value.ok()) return value.status();
    row.*field.member = *value;
  }
  absl::StatusOr<std::vector<int64_t>> samples_ns = Get<std::vector<int64_t>>(json, "samples_ns");
  if (!samples_ns.ok()) return samples_ns.status();
  row.samples_ns = *std::move(samples_ns);
  const Field<std::vector<double>> sample_lists[] = {{"samples_ts", &Row::samples_ts},
                                                     {"samples_ttft_ms", &Row::samples_ttft_ms}};
  for (const auto& field : sample_lists) {
    absl::StatusOr<std::vector<double>> samples = Get<std::vector<double>>(json, field.name);
    if (!samples.ok()) return samples.status();
    row.*field.member = *std::move(samples);
  }
  return row;
}

absl::StatusOr<std::vector<Row>> ParseRows(std::string_view text) {
  std::vector<nlohmann::json> items;
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && text[first] == '[') {
    nlohmann::json array = ParseJson(text).value_or(nlohmann::json(nlohmann::json::value_t::discarded));
    if (array.is_discarded() || !array.is_array()) return absl::InvalidArgumentError("rows: invalid JSON array");
    items.assign(array.begin(), array.end());
  } else {
    std::istringstream lines{std::string(text)};
    std::string line;
    for (int number = 1; std::getline(lines, line); ++number) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      nlohmann::json item = ParseJson(line).value_or(nlohmann::json(nlohmann::json::value_t::discarded));
      if (item.is_discarded()) return absl::InvalidArgumentError(StrCat("rows: line ", number, " is not JSON"));
      items.push_back(std::move(item));
    }
  }
  std::vector<Row> rows;
  for (size_t i = 0; i < items.size(); ++i) {
    absl::StatusOr<Row> row = RowFromJson(items[i]);
    if (!row.ok())
      return absl::InvalidArgumentError(StrCat("rows: item ", i + 1, ": ", std::string(row.status().message())));
    rows.push_back(*std::move(row));
  }
  return rows;
}

}  // namespace needle::bench
