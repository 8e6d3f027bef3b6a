// Rows as needle-bench's runner fills them, for the output and roofline tests.
#ifndef NEEDLE_TESTS_BENCH_ROWS_H_
#define NEEDLE_TESTS_BENCH_ROWS_H_

#include <string>
#include <vector>

#include "needle/bench/params.h"
#include "needle/bench/row.h"

namespace needle::test {

// One measured test of `spec`, a repetition per entry of `seconds`. Tok/s
// follow from the times as in the runner; TTFT is the time plus 10 ms, so that
// tests can tell the two apart.
inline bench::Row MeasuredRow(const bench::TestSpec& spec, const std::vector<double>& seconds) {
  bench::Row row;
  row.host = "host";
  row.cpu_info = "Test CPU, \"quoted\"";
  row.n_cpu_cores = 2;
  row.build_commit = "abc1234";
  row.model_filename = spec.model;
  row.engine = spec.engine;
  row.precision = spec.precision;
  row.isa = spec.engine == "optimized" ? "avx512" : "";
  row.n_threads = spec.threads;
  row.n_prompt = spec.n_prompt;
  row.n_gen = spec.n_gen;
  row.n_depth = spec.n_depth;
  row.test = spec.TestName();
  row.repetitions = static_cast<int>(seconds.size());
  row.warmup = 1;
  const int tokens = spec.n_prompt + spec.n_gen;
  for (double s : seconds) {
    row.samples_ns.push_back(static_cast<int64_t>(s * 1e9));
    row.samples_ts.push_back(tokens / s);
    row.samples_ttft_ms.push_back(s * 1e3 + 10);
  }
  bench::Summarize(row);
  row.test_time = "2026-11-26T18:00:00Z";
  return row;
}

}  // namespace needle::test

#endif  // NEEDLE_TESTS_BENCH_ROWS_H_
