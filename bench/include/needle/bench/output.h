// needle-bench's output formats: a Markdown table as llama-bench prints,
// CSV, a JSON array, JSON lines, and an HTML page with the table and charts.
#ifndef NEEDLE_BENCH_OUTPUT_H_
#define NEEDLE_BENCH_OUTPUT_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "needle/bench/roofline.h"
#include "needle/bench/row.h"

namespace needle::bench {

// The ratio lines under the table: for each precision of ours on each device, model,
// test and thread count, our fastest row against the strongest peer at that precision
// (or, when no peer ran it, at any precision, and the line says so).
std::vector<std::string> PeerComparisons(const std::vector<Row>& rows);

// Columns model, size, params, engine, precision, threads, isa, test, t/s
// (mean ± stddev), TTFT ms and peak RSS; runtime, device and cpu mask columns
// appear only when the rows differ in them (merged runs) or are pinned, and
// "x ref" (tok/s over the reference engine's on the same device, model and
// test) when a reference row is there. Rows with roofline fields add GFLOP/s
// and "% peak" (prompt and combined tests) and GB/s and "% BW" (generation and
// combined tests; "-" where a row has none). Below the table: one line per
// measured peak in `peaks`, each peer row against our fastest row at its test
// and threads, then the builds, CPUs and devices the rows came from.
std::string FormatMarkdown(const std::vector<Row>& rows, const std::vector<MachinePeak>& peaks = {});
// The same table, peaks and comparisons, and SVG bar charts of tok/s against
// threads per engine and precision, one per device, model and test; one
// self-contained file.
std::string FormatHtml(const std::vector<Row>& rows, const std::vector<MachinePeak>& peaks = {});
// Header of RowFields(); lists are ';'-separated inside one field.
std::string FormatCsv(const std::vector<Row>& rows);
std::string FormatJson(const std::vector<Row>& rows);
std::string FormatJsonl(const std::vector<Row>& rows);

// The table's optional columns: which a table has, from its rows (ShapeOf),
// or, for a table printed as it runs, from what the run will measure.
struct TableShape {
  bool runtime = false;    // rows from other runtimes
  bool device = false;     // rows from other devices than this machine
  bool cpu_mask = false;   // pinned rows
  bool x_ref = false;      // reference rows beside others: tok/s over the reference's
  bool compute = false;    // roofline GFLOP/s and % peak
  bool bandwidth = false;  // roofline GB/s and % BW
  TableShape& operator|=(const TableShape& other);
};
TableShape ShapeOf(const std::vector<Row>& rows);

struct Column;

// Rows in a format as they come: Begin() before the first, Add() for each,
// End() after the last; the pieces concatenated are the whole output. CSV,
// JSON lines and Markdown print each row as it is added (Markdown at fixed
// column widths, as llama-bench, since later rows are unknown; its footer
// comes at the end); the JSON array is valid once End() closes it; HTML is
// drawn whole by End().
class RowWriter {
 public:
  RowWriter(std::string format, const TableShape& shape, std::vector<MachinePeak> peaks = {});
  ~RowWriter();
  RowWriter(const RowWriter&) = delete;
  RowWriter& operator=(const RowWriter&) = delete;

  std::string Begin();
  std::string Add(const Row& row);
  std::string End();
  // Begin, every row, End.
  std::string Whole(const std::vector<Row>& rows);

 private:
  std::string format_;
  std::vector<MachinePeak> peaks_;
  std::vector<Row> rows_;  // so far: the Markdown footer and "x ref" read them
  std::vector<Column> columns_;
  std::vector<size_t> widths_;
};

// `format` is md, csv, json, jsonl or html; the peaks show in md and html.
absl::StatusOr<std::string> FormatRows(const std::vector<Row>& rows, std::string_view format,
                                       const std::vector<MachinePeak>& peaks = {});
bool IsOutputFormat(std::string_view format);

}  // namespace needle::bench

#endif  // NEEDLE_BENCH_OUTPUT_H_
