// needle-bench: prefill and decode speed of Needle engines, as llama-bench
// reports it for llama.cpp.
//
//   needle-bench -m model.safetensors -p 1024 -n 100 -t 1,2 -r 5 -o md
//
// Every combination of models, engines, precisions and thread counts runs
// every test; the table (or CSV, JSON, JSON lines) goes to stdout, notes and
// progress to stderr. Details: docs/bench.md.
#include <cstdio>
#include <string>
#include <vector>

#include "needle/bench/output.h"
#include "needle/bench/params.h"
#include "needle/bench/runner.h"
#include "needle/bench/system_info.h"

namespace {

using needle::bench::Params;
using needle::bench::Plan;
using needle::bench::ProgressFn;
using needle::bench::Row;

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "needle-bench: %s\n", std::string(status.message()).c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  absl::StatusOr<Params> params = needle::bench::ParseArgs(args, NEEDLE_DEFAULT_MODEL_DIR "/needle.safetensors");
  if (!params.ok()) {
    std::fprintf(stderr, "needle-bench: %s (see needle-bench --help)\n",
                 std::string(params.status().message()).c_str());
    return 1;
  }
  if (params->help) {
    std::printf("%s", needle::bench::Usage().c_str());
    return 0;
  }
  absl::StatusOr<Plan> plan = needle::bench::ExpandPlan(*params);
  if (!plan.ok()) return Fail(plan.status());
  for (const std::string& note : plan->notes) std::fprintf(stderr, "needle-bench: %s\n", note.c_str());
  // Pinned before any engine starts its threads, which inherit the mask.
  if (!params->cpu_mask.empty()) {
    if (absl::Status pinned = needle::bench::SetCpuMask(params->cpu_mask); !pinned.ok()) return Fail(pinned);
  }

  ProgressFn progress;
  if (params->progress) {
    progress = [](std::string_view line) {
      std::fprintf(stderr, "needle-bench: %.*s\n", static_cast<int>(line.size()), line.data());
    };
  }
  const needle::bench::SystemInfo system = needle::bench::LocalSystemInfo(NEEDLE_SOURCE_DIR);
  absl::StatusOr<std::vector<Row>> rows = needle::bench::RunPlan(*params, *plan, system, progress);
  if (!rows.ok()) return Fail(rows.status());
  absl::StatusOr<std::string> text = needle::bench::FormatRows(*rows, params->output);
  if (!text.ok()) return Fail(text.status());
  std::fwrite(text->data(), 1, text->size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}
