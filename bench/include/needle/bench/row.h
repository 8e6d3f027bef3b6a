// One measured row of needle-bench, and its JSON form.
//
// Rows are self-describing (machine, build, model, settings, every sample) so
// that rows measured elsewhere, on a phone or by another runtime on the same
// weights, can be read back from JSON and merged into one table.
#ifndef NEEDLE_BENCH_ROW_H_
#define NEEDLE_BENCH_ROW_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace needle::bench {

struct Row {
  // Where: the runtime ("needle" for this project's engines; a peer names
  // itself), the device ("local", or e.g. "adb:SERIAL") and its machine.
  std::string runtime = "needle";
  std::string device = "local";
  std::string host;
  std::string cpu_info;
  int n_cpu_cores = 0;
  std::string build_commit;
  // A phone's model and Android version ("" locally), and its battery charge
  // (percent) and temperature (degrees C) before and after its run; -1: unknown.
  std::string device_model;
  std::string os_version;
  int battery_before = -1;
  int battery_after = -1;
  double temp_before_c = -1;
  double temp_after_c = -1;

  // The model file.
  std::string model_filename;
  std::string model_type;  // shape summary, e.g. "needle d512 h8/4 L12+8 v8192" (heads/KV heads, layers enc+dec)
  int64_t model_size = 0;  // file bytes
  int64_t model_n_params = 0;

  // How it ran.
  std::string engine;
  std::string precision;
  std::string isa;  // kernels' instruction set; empty when the engine has none
  int n_threads = 0;
  std::string cpu_mask;  // empty: not pinned

  // The test.
  std::string test;
  int n_prompt = 0;
  int n_gen = 0;
  int n_depth = 0;
  int repetitions = 0;
  int warmup = 0;

  // Results: one sample per repetition.
  std::vector<int64_t> samples_ns;  // timed part of each repetition
  std::vector<double> samples_ts;   // tokens per second of each repetition
  std::vector<double> samples_ttft_ms;
  double avg_ns = 0, stddev_ns = 0;
  double avg_ts = 0, stddev_ts = 0;
  double avg_ttft_ms = 0;
  int64_t peak_rss_bytes = -1;  // process-wide high-water mark during the row; -1: unknown
  std::string test_time;        // UTC, ISO 8601, when the row started

  // Roofline (--roofline, needle/bench/roofline.h); -1: not measured. The
  // least operations and bytes read of the timed part, this machine's peak
  // operations per second at the row's precision, and its DRAM read bandwidth.
  double work_flop = -1;
  double work_bytes = -1;
  double peak_flops = -1;
  double peak_bytes_per_s = -1;
};

// Mean and sample standard deviation (0 for fewer than two values).
double Mean(const std::vector<double>& values);
double StdDev(const std::vector<double>& values);

// Fills avg_* and stddev_* from the samples.
void Summarize(Row& row);

// Field names in output order; the CSV header and the JSON keys.
const std::vector<std::string>& RowFields();

// Keys in RowFields() order.
nlohmann::ordered_json RowToJson(const Row& row);
// Every field of RowFields() must be present with its type, except the
// roofline fields, which rows from builds before them lack (-1 then).
absl::StatusOr<Row> RowFromJson(const nlohmann::json& json);
// A JSON array of rows (-o json) or one row per line (-o jsonl).
absl::StatusOr<std::vector<Row>> ParseRows(std::string_view text);

}  // namespace needle::bench

#endif  // NEEDLE_BENCH_ROW_H_
