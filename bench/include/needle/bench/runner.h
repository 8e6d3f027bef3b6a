// Runs a needle-bench plan: loads each model once and each engine once per
// (model, engine, precision, threads), then times every test on fresh sessions.
#ifndef NEEDLE_BENCH_RUNNER_H_
#define NEEDLE_BENCH_RUNNER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "needle/bench/params.h"
#include "needle/bench/roofline.h"
#include "needle/bench/row.h"
#include "needle/bench/system_info.h"
#include "needle/engine.h"

namespace needle::bench {

// `count` pseudo-random ids in [6, vocab_size): never a special token, the
// same for a given seed on every machine.
std::vector<int32_t> PromptTokens(int count, int vocab_size, uint32_t seed);

using ProgressFn = std::function<void(std::string_view line)>;

// Times one test on `engine` (warm-up runs first, then `repetitions`, each on
// a new session) and fills the row's test, settings, samples and summary
// fields; `progress` hears of each run.
//
// Prompt test: tok/s = n_prompt / prefill time. Generation test: after an
// untimed prefill of n_depth ids, n_gen decode steps, each fed the previous
// step's greedy argmax regardless of EOS; tok/s = n_gen / decode time.
// Combined: (n_prompt + n_gen) / (prefill + decode time). TTFT is prefill
// plus the first decode step in every test (a prompt test decodes that one
// step after its timing).
//
// `stop`, when given, is asked before each run; once it says true the test
// ends with a Cancelled error (the row would be short of repetitions). With
// `verbose`, progress hears each run's time too.
absl::StatusOr<Row> RunTest(const Engine& engine, const TestSpec& spec, int warmup, int repetitions,
                            const ProgressFn& progress = nullptr, const std::function<bool()>& stop = nullptr,
                            bool verbose = false);

// Times one test through a peer's command (docs/peers.md): it gets the test's
// shape and repetitions as flags and answers with its samples; tok/s are
// computed here as for our engines. A failing, silent, slow (past `timeout`)
// or malformed peer is an error naming the peer and the problem.
// `log`, when given, hears the command line.
absl::StatusOr<Row> RunPeerTest(const Peer& peer, const TestSpec& spec, int warmup, int repetitions,
                                std::chrono::seconds timeout, const ProgressFn& log = nullptr);

struct PlanResult {
  std::vector<Row> rows;
  // One error per peer row that could not be measured, naming the row; a
  // peer is outside software, so its failure costs its row, not the run.
  std::vector<absl::Status> peer_failures;
  // Set when RunHooks::stop ended the plan early: what was left out.
  std::string interrupted;
};

// What a caller hears of a plan while it runs.
struct RunHooks {
  ProgressFn progress;   // a line per row and run
  bool verbose = false;  // progress hears each run's timings and the peers' commands
  // Each row as soon as it is measured (a long run prints as it goes).
  std::function<void(const Row&)> on_row;
  // Asked between runs (and during --delay); true ends the plan: the rows so
  // far are kept, the row under way is dropped.
  std::function<bool()> stop;
};

// Every row of the plan, with model, machine and memory fields filled in;
// with the peak measured at a row's thread count among `peaks`, its roofline
// fields too (peers' rows included: their work is the same). An error in one
// of our own engines ends the run.
//
// Each test runs pinned to its CPU mask (the process's own affinity when it
// has none); params.delay_seconds pass between tests.
absl::StatusOr<PlanResult> RunPlan(const Params& params, const Plan& plan, const SystemInfo& system,
                                   const RunHooks& hooks, const std::vector<MachinePeak>& peaks = {});
absl::StatusOr<PlanResult> RunPlan(const Params& params, const Plan& plan, const SystemInfo& system,
                                   const ProgressFn& progress = nullptr, const std::vector<MachinePeak>& peaks = {});

// MeasurePeak once for every thread count and CPU mask of the plan, in
// ascending thread order, each pinned to its mask.
absl::StatusOr<std::vector<MachinePeak>> MeasurePlanPeaks(const Plan& plan, const ProgressFn& progress = nullptr);

// A rough guess of how long a plan takes on this machine, in seconds: every
// run's least work (WorkOf) at a modelled speed per engine and thread, plus
// the delays. Not a measurement: it can be off several times either way.
absl::StatusOr<double> EstimatePlanSeconds(const Params& params, const Plan& plan);

}  // namespace needle::bench

#endif  // NEEDLE_BENCH_RUNNER_H_
