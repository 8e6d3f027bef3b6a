// needle-bench from Python: the same plan, runner and rows as the command.
#include <pybind11/stl.h>

#include <algorithm>
#include <exception>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "convert.h"
#include "needle/bench/output.h"
#include "needle/bench/params.h"
#include "needle/bench/row.h"
#include "needle/bench/runner.h"
#include "needle/bench/system_info.h"
#include "needle/str_cat.h"

namespace needle::python {
namespace {

py::list RunBench(const std::optional<std::vector<std::string>>& models, const std::vector<int>& n_prompt,
                  const std::vector<int>& n_gen, const std::vector<int>& n_depth,
                  const std::vector<std::pair<int, int>>& prompt_gen, const std::optional<std::vector<int>>& threads,
                  int repetitions, int warmup, const std::vector<std::string>& engines,
                  const std::vector<std::string>& precisions, const std::vector<std::string>& peers,
                  const py::object& progress) {
  bench::Params params;
  params.models = models.value_or(std::vector<std::string>{NEEDLE_DEFAULT_MODEL_DIR "/needle.safetensors"});
  params.n_prompt = n_prompt;
  params.n_gen = n_gen;
  params.n_depth = n_depth;
  params.prompt_gen = prompt_gen;
  params.peers = peers;
  params.peer_dir = NEEDLE_SOURCE_DIR "/bench/peers";
  // All cores by default, as needle-bench's -t does.
  params.threads =
      threads.value_or(std::vector<int>{std::max(1, static_cast<int>(std::thread::hardware_concurrency()))});
  params.repetitions = repetitions;
  params.warmup = warmup;
  params.engines = engines;
  params.precisions = precisions;
  if (repetitions < 1) throw py::value_error(StrCat("repetitions must be at least 1, got ", repetitions));
  if (warmup < 0) throw py::value_error(StrCat("warmup must be >= 0, got ", warmup));
  for (int depth : n_depth) {
    if (depth < 1) throw py::value_error(StrCat("every n_depth must be at least 1, got ", depth));
  }
  const bench::Plan plan = ValueOrThrow(bench::ExpandPlan(params));

  // Plan notes (combinations left out) and per-run lines go to `progress`,
  // which runs on this thread with the GIL taken back.
  std::exception_ptr callback_error;
  bench::ProgressFn report;
  if (!progress.is_none()) {
    report = [&](std::string_view line) {
      if (callback_error) return;
      py::gil_scoped_acquire gil;
      try {
        progress(std::string(line));
      } catch (...) {
        callback_error = std::current_exception();
      }
    };
    for (const std::string& note : plan.notes) report(note);
  }
  absl::StatusOr<bench::PlanResult> result;
  {
    py::gil_scoped_release release;
    result = bench::RunPlan(params, plan, bench::LocalSystemInfo(NEEDLE_SOURCE_DIR), report);
  }
  if (callback_error) std::rethrow_exception(callback_error);
  const bench::PlanResult measured = ValueOrThrow(std::move(result));
  for (const absl::Status& failure : measured.peer_failures) {
    const std::string message = StrCat("skipped ", std::string(failure.message()));
    if (PyErr_WarnEx(PyExc_RuntimeWarning, message.c_str(), 1) != 0) throw py::error_already_set();
  }
  py::list out;
  for (const bench::Row& row : measured.rows) out.append(JsonToPython(bench::RowToJson(row)));
  return out;
}

std::string FormatBenchRows(const py::list& rows, const std::string& format) {
  const py::module_ json = py::module_::import("json");
  std::vector<bench::Row> parsed;
  for (size_t i = 0; i < rows.size(); ++i) {
    const std::string text = json.attr("dumps")(rows[i]).cast<std::string>();
    absl::StatusOr<bench::Row> row = bench::RowFromJson(nlohmann::json::parse(text));
    if (!row.ok()) {
      RaiseStatus(absl::Status(row.status().code(), StrCat("rows[", i, "]: ", std::string(row.status().message()))));
    }
    parsed.push_back(*std::move(row));
  }
  return ValueOrThrow(bench::FormatRows(parsed, format));
}

}  // namespace

void RegisterBench(py::module_& m) {
  const bench::Params defaults;
  m.def("run_bench", &RunBench, py::kw_only(), py::arg("models") = py::none(), py::arg("n_prompt") = defaults.n_prompt,
        py::arg("n_gen") = defaults.n_gen, py::arg("n_depth") = defaults.n_depth,
        py::arg("prompt_gen") = defaults.prompt_gen, py::arg("threads") = py::none(),
        py::arg("repetitions") = defaults.repetitions, py::arg("warmup") = defaults.warmup,
        py::arg("engines") = defaults.engines, py::arg("precisions") = defaults.precisions,
        py::arg("peers") = defaults.peers, py::arg("progress") = py::none(),
        "Runs needle-bench with the GIL released and returns its rows as dicts (the fields of -o json): every "
        "model x engine x precision x threads runs every prompt (n_prompt), generation (n_gen, after each n_depth "
        "prefill) and combined (prompt_gen pairs) test; peers (\"onnxruntime\", \"pytorch\", \"pytorch2\", \"pytorch2-compile\", \"NAME=COMMAND\") "
        "time other runtimes on the same tests. models default to the default model, threads to all cores. "
        "progress(line) hears plan notes and each run. A peer that fails loses its row to a RuntimeWarning naming it; "
        "the other rows are returned.");
  m.def("format_bench_rows", &FormatBenchRows, py::arg("rows"), py::arg("format") = std::string(bench::kDefaultOutput),
        "Rows (as run_bench returns them) in needle-bench's output formats: md, csv, json, jsonl or html.");
}

}  // namespace needle::python
