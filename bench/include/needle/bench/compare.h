// Two needle-bench runs side by side (two commits, two phones), as llama.cpp's
// compare-llama-bench.py: rows matched on what identifies them, the tok/s of
// each and the speedup B/A.
#ifndef NEEDLE_BENCH_COMPARE_H_
#define NEEDLE_BENCH_COMPARE_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "needle/bench/row.h"

namespace needle::bench {

struct ComparedRow {
  std::vector<std::string> key;  // one value per RunComparison::key_columns
  const Row* a = nullptr;        // nullptr: only B has this row
  const Row* b = nullptr;        // nullptr: only A has it
};

struct RunComparison {
  // The identifying columns (runtime, device, model, engine, precision,
  // threads, cpu_mask, test) that vary within either run. One that is
  // constant within each run is what the two runs differ in (the device of
  // two phones), so it cannot tell rows apart and is left out of the key.
  std::vector<std::string> key_columns;
  std::vector<ComparedRow> rows;  // A's order, then B's rows A lacks
  // Rows of one run whose key an earlier row of that run already had (e.g. a
  // file holding two builds): the first is compared, these are counted.
  int duplicates_a = 0, duplicates_b = 0;
};

// `a` and `b` must outlive the result, which points into them.
RunComparison CompareRuns(const std::vector<Row>& a, const std::vector<Row>& b);

// md (a table, then the rows only one run has, each on a line), csv (one line
// per key; empty cells where a run lacks the row) or json. `a_name` and
// `b_name` (the files) head the table, with each run's build, device and CPU.
absl::StatusOr<std::string> FormatComparison(const RunComparison& comparison, const std::vector<Row>& a,
                                             const std::vector<Row>& b, std::string_view a_name,
                                             std::string_view b_name, std::string_view format);

}  // namespace needle::bench

#endif  // NEEDLE_BENCH_COMPARE_H_
