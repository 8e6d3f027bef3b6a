// Datasets, systems (any adapter, Python callables included) and the eval runner.
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "convert.h"
#include "model.h"
#include "needle/bench/system_info.h"
#include "needle/evals/dataset.h"
#include "needle/evals/needle_system.h"
#include "needle/evals/runner.h"
#include "needle/evals/system.h"
#include "needle/evals/system_spec.h"
#include "needle/reports/eval_report.h"
#include "needle/str_cat.h"

namespace needle::python {
namespace {

using evals::Dataset;
using evals::EvalItem;
using evals::System;

py::list AnswersToPython(const EvalItem& item) {
  py::list answers;
  for (const evals::ExpectedCall& call : item.answers) {
    py::dict params;
    for (const auto& [name, values] : call.params) {
      py::list acceptable;
      for (const nlohmann::json& value : values) acceptable.append(JsonToPython(value));
      params[py::str(name)] = acceptable;
    }
    answers.append(py::dict(py::arg("name") = call.name, py::arg("params") = params));
  }
  return answers;
}

py::dict PredictionToPython(const evals::Prediction& prediction) {
  return py::dict(py::arg("text") = prediction.text, py::arg("latency_ms") = prediction.latency_ms,
                  py::arg("ttft_ms") = prediction.ttft_ms, py::arg("output_tokens") = prediction.output_tokens,
                  py::arg("input_truncated") = prediction.input_truncated);
}

// A system whose requests a Python callable answers: predict(item) returns the
// output text, or a dict with "text" and optionally "ttft_ms" and
// "output_tokens". An exception becomes a failed request, as a crashed
// subprocess would.
class CallableSystem : public System {
 public:
  CallableSystem(std::string name, py::object predict) : name_(std::move(name)), predict_(std::move(predict)) {}
  ~CallableSystem() override {
    py::gil_scoped_acquire gil;
    predict_ = py::object();
  }

  const std::string& name() const override { return name_; }

  absl::StatusOr<evals::Prediction> Predict(const EvalItem& item) const override {
    py::gil_scoped_acquire gil;
    const auto start = std::chrono::steady_clock::now();
    try {
      const py::object output = predict_(item);
      evals::Prediction prediction;
      prediction.latency_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      if (py::isinstance<py::str>(output)) {
        prediction.text = output.cast<std::string>();
        return prediction;
      }
      if (!py::isinstance<py::dict>(output) || !output.contains("text")) {
        return absl::InvalidArgumentError(StrCat(name_, ": predict must return a str or a dict with \"text\", got ",
                                                 py::str(py::type::of(output)).cast<std::string>()));
      }
      const py::dict fields = output.cast<py::dict>();
      prediction.text = fields["text"].cast<std::string>();
      if (fields.contains("ttft_ms")) prediction.ttft_ms = fields["ttft_ms"].cast<double>();
      if (fields.contains("output_tokens")) prediction.output_tokens = fields["output_tokens"].cast<int>();
      return prediction;
    } catch (const std::exception& error) {
      // Python exceptions and unconvertible results alike: the request failed, the eval goes on.
      return absl::InternalError(StrCat(name_, ": ", error.what()));
    }
  }

 private:
  std::string name_;
  py::object predict_;
};

std::shared_ptr<System> SystemFromSpec(const std::string& spec, const std::string& model_path,
                                       const std::string& tokenizer_path, bool constrained, int max_new_tokens,
                                       int threads, bool stream, double timeout_seconds, int processes) {
  evals::SystemDefaults defaults;
  defaults.model_path = model_path;
  defaults.tokenizer_path = tokenizer_path;
  defaults.constrained = constrained;
  defaults.max_new_tokens = max_new_tokens;
  defaults.threads = threads;
  defaults.stream = stream;
  defaults.timeout_seconds = timeout_seconds;
  defaults.processes = processes;
  absl::StatusOr<std::unique_ptr<System>> system;
  {
    py::gil_scoped_release release;
    system = evals::MakeSystem(spec, defaults);
  }
  return ValueOrThrow(std::move(system));
}

// `limit` and `seed` as needle-eval's --limit and --sample_seed (evals::LimitItems).
std::shared_ptr<Dataset> LoadDataset(const std::string& spec, double limit, std::optional<int64_t> seed) {
  if (seed.has_value() && *seed < 0) throw py::value_error(StrCat("seed must be >= 0, got ", *seed));
  // Checked before the file is read: a bad limit should not wait for a large dataset.
  Dataset empty;
  if (absl::Status valid = evals::LimitItems(empty, limit); !valid.ok()) {
    throw py::value_error(std::string(valid.message()));
  }
  absl::StatusOr<Dataset> dataset;
  {
    py::gil_scoped_release release;
    dataset = evals::LoadDataset(spec);
  }
  auto loaded = std::make_shared<Dataset>(ValueOrThrow(std::move(dataset)));
  if (absl::Status limited = evals::LimitItems(*loaded, limit, seed.value_or(-1)); !limited.ok()) {
    throw py::value_error(std::string(limited.message()));
  }
  return loaded;
}

// One finished eval: what needle-eval writes to report.json and
// predictions.jsonl, kept in memory.
struct EvalRun {
  std::vector<std::string> systems;
  std::vector<Dataset> datasets;
  std::vector<evals::ItemResult> results;
  reports::EvalReport report;

  py::object Result(const py::object& system, const py::object& dataset) const {
    const nlohmann::ordered_json json = reports::ReportToJson(report);
    for (const nlohmann::ordered_json& entry : json["results"]) {
      if ((system.is_none() || entry["system"] == system.cast<std::string>()) &&
          (dataset.is_none() || entry["dataset"] == dataset.cast<std::string>())) {
        return JsonToPython(entry);
      }
    }
    throw py::key_error(StrCat("no result for system ", py::str(system).cast<std::string>(), " and dataset ",
                               py::str(dataset).cast<std::string>()));
  }

  py::list Items() const {
    py::list items;
    for (const evals::ItemResult& result : results) {
      items.append(JsonToPython(reports::PredictionRecord(systems[result.system], datasets[result.dataset], result)));
    }
    return items;
  }
};

std::shared_ptr<EvalRun> RunEval(const std::vector<std::shared_ptr<System>>& systems,
                                 const std::vector<std::shared_ptr<Dataset>>& datasets, int parallel,
                                 const py::object& on_result) {
  if (systems.empty() || datasets.empty()) throw py::value_error("run_eval needs at least one system and one dataset");
  auto run = std::make_shared<EvalRun>();
  std::vector<const System*> system_ptrs;
  for (const std::shared_ptr<System>& system : systems) {
    if (!system) throw py::value_error("systems: None is not a system");
    for (const std::string& name : run->systems) {
      if (name == system->name()) throw py::value_error(StrCat("two systems named ", name));
    }
    run->systems.push_back(system->name());
    system_ptrs.push_back(system.get());
  }
  for (const std::shared_ptr<Dataset>& dataset : datasets) {
    if (!dataset) throw py::value_error("datasets: None is not a dataset");
    run->datasets.push_back(*dataset);
  }

  evals::RunOptions options;
  options.parallel = parallel > 0 ? parallel : static_cast<int>(std::thread::hardware_concurrency());
  std::exception_ptr callback_error;
  if (!on_result.is_none()) {
    // The runner calls this from its workers, never concurrently.
    options.on_result = [&](int done, int total, const evals::ItemResult& result) {
      if (callback_error) return;
      py::gil_scoped_acquire gil;
      try {
        on_result(done, total,
                  JsonToPython(
                      reports::PredictionRecord(run->systems[result.system], run->datasets[result.dataset], result)));
      } catch (...) {
        callback_error = std::current_exception();
      }
    };
  }
  {
    py::gil_scoped_release release;
    run->results = evals::RunEval(system_ptrs, run->datasets, options);
    run->report = reports::BuildEvalReport(run->systems, run->datasets, run->results);
    const bench::SystemInfo host = bench::LocalSystemInfo(NEEDLE_SOURCE_DIR);
    run->report.created_utc = bench::UtcTimestamp();
    run->report.build_commit = host.build_commit;
    run->report.host = StrCat(host.cpu_info, ", ", host.n_cpu_cores, " cores");
    run->report.parallel = options.parallel;
  }
  if (callback_error) std::rethrow_exception(callback_error);
  return run;
}

void RegisterDatasets(py::module_& m) {
  py::class_<EvalItem>(m, "EvalItem", "One eval record: a request and the calls that answer it.")
      .def_readonly("id", &EvalItem::id)
      .def_readonly("category", &EvalItem::category)
      .def_readonly("call_type", &EvalItem::call_type)
      .def_readonly("query", &EvalItem::query)
      .def_readonly("tools_json", &EvalItem::tools_json, "The tools in upstream Needle's format, as JSON text.")
      .def_property_readonly("answers", &AnswersToPython,
                             "Acceptable calls, BFCL style: [{'name', 'params': {key: [acceptable values]}}]; "
                             "empty when the right output is no call.")
      .def("__repr__", [](const EvalItem& item) { return StrCat("EvalItem(id=", item.id, ")"); });

  py::class_<evals::DatasetError>(m, "DatasetError", "A record the reader skipped.")
      .def_readonly("file", &evals::DatasetError::file)
      .def_readonly("line", &evals::DatasetError::line)
      .def_readonly("message", &evals::DatasetError::message);

  py::class_<Dataset, std::shared_ptr<Dataset>>(m, "Dataset", "Eval items read from one file.")
      .def_readonly("name", &Dataset::name)
      .def_readonly("items", &Dataset::items, "The items (a list of copies).")
      .def_readonly("errors", &Dataset::errors)
      .def("__len__", [](const Dataset& dataset) { return dataset.items.size(); })
      .def(
          "__iter__",
          [](const Dataset& dataset) { return py::make_iterator(dataset.items.begin(), dataset.items.end()); },
          py::keep_alive<0, 1>(), "The items in file order.")
      .def("__getitem__",
           [](const Dataset& dataset, py::ssize_t index) {
             const auto size = static_cast<py::ssize_t>(dataset.items.size());
             if (index < -size || index >= size) throw py::index_error(StrCat("item ", index, " of ", size));
             return dataset.items[static_cast<size_t>(index < 0 ? index + size : index)];
           })
      .def("__repr__", [](const Dataset& dataset) {
        return StrCat("Dataset(name=", dataset.name, ", items=", dataset.items.size(), ")");
      });

  m.def("load_dataset", &LoadDataset, py::arg("spec"), py::arg("limit") = 0.0, py::arg("seed") = py::none(),
        "Loads '[needle:|bfcl:|generic:]PATH' (format detected without a prefix). limit, as needle-eval's --limit: "
        "0 keeps every item, a fraction in (0, 1) that share (rounded up), a whole number that many; the first "
        "ones, or with seed (needle-eval's --sample_seed) drawn at random, kept in file order. Unreadable records "
        "are skipped and listed in Dataset.errors.");
}

void RegisterSystems(py::module_& m) {
  py::class_<System, std::shared_ptr<System>>(m, "System", "A system under evaluation.")
      .def_property_readonly("name", &System::name)
      .def(
          "predict",
          [](const System& system, const EvalItem& item) {
            absl::StatusOr<evals::Prediction> prediction;
            {
              py::gil_scoped_release release;
              prediction = system.Predict(item);
            }
            return PredictionToPython(ValueOrThrow(std::move(prediction)));
          },
          py::arg("item"),
          "One request: {'text', 'latency_ms', 'ttft_ms', 'output_tokens', 'input_truncated'} (-1: unknown).")
      .def_static("from_spec", &SystemFromSpec, py::arg("spec"), py::kw_only(),
                  py::arg("model_path") = NEEDLE_DEFAULT_MODEL_DIR "/needle.safetensors",
                  py::arg("tokenizer_path") = NEEDLE_DEFAULT_MODEL_DIR "/tokenizer.model",
                  py::arg("constrained") = true, py::arg("max_new_tokens") = kMaxGeneratedTokens,
                  py::arg("threads") = 0, py::arg("stream") = true, py::arg("timeout_seconds") = 120.0,
                  py::arg("processes") = 1,
                  "A system as needle-eval --system names it: '[NAME=]needle[:ENGINE[:PRECISION]]', 'keyword', "
                  "'openai:URL[#MODEL]', 'command:PROGRAM ARGS...'.")
      .def_static(
          "from_model",
          [](const Model& model, const std::optional<std::string>& name, bool constrained, int max_new_tokens) {
            return std::shared_ptr<System>(evals::MakeNeedleSystem(name.value_or("needle-" + model.engine_name),
                                                                   model.caller, constrained, max_new_tokens));
          },
          py::arg("model"), py::arg("name") = py::none(), py::arg("constrained") = true,
          py::arg("max_new_tokens") = kMaxGeneratedTokens, "A loaded Model as a system (no second load).")
      .def_static(
          "from_callable",
          [](const std::string& name, py::object predict) {
            if (!PyCallable_Check(predict.ptr())) throw py::type_error("predict must be callable");
            return std::shared_ptr<System>(std::make_shared<CallableSystem>(name, std::move(predict)));
          },
          py::arg("name"), py::arg("predict"),
          "Any adapter written in Python: predict(item: EvalItem) returns the output text (Needle JSON, Hermes or "
          "FunctionGemma) or a dict with 'text' and optional 'ttft_ms', 'output_tokens'. It runs with the GIL "
          "held; an exception becomes a failed request.")
      .def("__repr__", [](const System& system) { return StrCat("System(name=", system.name(), ")"); });
}

void RegisterRunner(py::module_& m) {
  py::class_<EvalRun, std::shared_ptr<EvalRun>>(m, "EvalRun", "A finished eval: report and per-item results.")
      .def_readonly("systems", &EvalRun::systems)
      .def_property_readonly(
          "report", [](const EvalRun& run) { return JsonToPython(reports::ReportToJson(run.report)); },
          "report.json as needle-eval writes it: per system and dataset the metrics overall, by category and by "
          "call type, latency, and paired comparisons.")
      .def_property_readonly("items", &EvalRun::Items,
                             "predictions.jsonl as a list of dicts: per item the output, parsed calls and score.")
      .def("result", &EvalRun::Result, py::arg("system") = py::none(), py::arg("dataset") = py::none(),
           "The report entry of one system on one dataset (default: the first): 'overall', 'by_category', "
           "'by_call_type', 'by_tool_count', 'latency_ms'.")
      .def(
          "markdown", [](const EvalRun& run) { return reports::RenderMarkdown(run.report); },
          "report.md as needle-eval writes it.")
      .def(
          "html", [](const EvalRun& run) { return reports::RenderHtml(run.report); },
          "report.html: a self-contained page with SVG charts.")
      .def(
          "save",
          [](const EvalRun& run, const std::string& dir) {
            absl::Status status;
            {
              py::gil_scoped_release release;
              status = reports::WriteEvalFiles(dir, run.systems, run.datasets, run.results, run.report);
            }
            ThrowIfError(status);
          },
          py::arg("dir"),
          "Writes what needle-eval --out writes: predictions.jsonl, report.json, report.md and report.html "
          "(`needle-eval score` can score the predictions again).")
      .def("_repr_html_", [](const EvalRun& run) { return reports::RenderHtml(run.report); })
      .def("__repr__", [](const EvalRun& run) {
        std::string datasets;
        for (const Dataset& dataset : run.datasets) datasets += StrCat(datasets.empty() ? "" : ", ", dataset.name);
        std::string systems;
        for (const std::string& system : run.systems) systems += StrCat(systems.empty() ? "" : ", ", system);
        return StrCat("EvalRun(systems=[", systems, "], datasets=[", datasets, "], items=", run.results.size(), ")");
      });

  m.def("run_eval", &RunEval, py::arg("systems"), py::arg("datasets"), py::kw_only(), py::arg("parallel") = 0,
        py::arg("on_result") = py::none(),
        "Runs every system on every item (parallel requests at once, 0 = one per core) with the GIL released and "
        "scores each as needle-eval does. on_result(done, total, item_record) reports progress.");
}

}  // namespace

void RegisterEvals(py::module_& m) {
  RegisterDatasets(m);
  RegisterSystems(m);
  RegisterRunner(m);
}

}  // namespace needle::python
