// needle-eval: score systems on datasets and write reports.
//
//   needle-eval --system needle --system keyword
//       --dataset bfcl:../shared/datasets/bfcl/BFCL_v4_simple_python.json --out reports/latest
//   needle-eval ... --out DIR --resume      go on with an interrupted run
//   needle-eval score --predictions DIR/predictions.jsonl --dataset ... [--out NEW]
//                                           score saved predictions again, with the current rules
//   needle-eval list [--dataset ...]        datasets with their categories, system kinds, engines
//
// --system and --dataset repeat. Writes OUT/predictions.jsonl (every
// prediction, parsed and scored), OUT/report.json, OUT/report.md and
// OUT/report.html; prints the Markdown summary to stdout and a progress line
// to stderr. predictions.jsonl is written as each item finishes, so an
// interrupted run keeps what it did; at the end it is rewritten in item order.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "cli/model_flags.h"
#include "needle/bench/system_info.h"
#include "needle/config.h"
#include "needle/evals/dataset.h"
#include "needle/evals/runner.h"
#include "needle/evals/system_spec.h"
#include "needle/reports/eval_report.h"
#include "needle/str_cat.h"

ABSL_FLAG(bool, constrained, true, "Needle: constrain tool names and argument keys to the given tools");
ABSL_FLAG(int, max_new_tokens, needle::kMaxGeneratedTokens,
          "generation limit per request: Needle's, and max_tokens for openai systems");
ABSL_FLAG(bool, stream, true, "openai systems: stream responses (gives time to first token)");
ABSL_FLAG(double, timeout, 120, "seconds per request for openai and command systems");
ABSL_FLAG(int, processes, 1, "command systems: copies run in parallel");
ABSL_FLAG(int, parallel, 0, "requests in flight at once (0: one per CPU core)");
ABSL_FLAG(double, limit, 0,
          "score only the first N items of each dataset, or with 0 < N < 1 that fraction of each, rounded up "
          "(0: all)");
ABSL_FLAG(std::vector<std::string>, underscore_to_dot, {},
          "systems (by name) that get BFCL's underscore_to_dot: tool names with '.' shown and checked with '_'");
ABSL_FLAG(int64_t, sample_seed, -1,
          "with --limit: score N items drawn at random with this seed (kept in file order), not the first N");
ABSL_FLAG(std::string, out, "", "directory for predictions.jsonl and report.{json,md,html}");
ABSL_FLAG(bool, resume, false,
          "with --out: keep the predictions an interrupted run left in OUT/predictions.jsonl and ask only for the "
          "rest; the report is the one an uninterrupted run writes");
ABSL_FLAG(std::string, predictions, "", "score: the predictions.jsonl to score again");
ABSL_FLAG(bool, progress, true, "progress line on stderr");

namespace {

using needle::StrCat;

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "needle-eval: %s\n", std::string(status.message()).c_str());
  return 1;
}

// Takes every "--NAME VALUE" / "--NAME=VALUE" out of args: absl flags hold
// one value per flag, and systems and datasets repeat.
std::vector<std::string> TakeRepeated(std::vector<std::string>& args, const std::string& flag) {
  std::vector<std::string> values, kept;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--" + flag && i + 1 < args.size()) {
      values.push_back(args[++i]);
    } else if (args[i].rfind("--" + flag + "=", 0) == 0) {
      values.push_back(args[i].substr(flag.size() + 3));
    } else {
      kept.push_back(args[i]);
    }
  }
  args = kept;
  return values;
}

// Saved predictions by system, dataset and item id.
using SavedKey = std::tuple<std::string, std::string, std::string>;
using SavedPredictions = std::map<SavedKey, absl::StatusOr<needle::evals::Prediction>>;

// Reads a predictions.jsonl. Lines that do not read (the last line of a run
// killed mid-write) are left out and counted; `lines` gets those that read,
// and `systems` the system names in the order they first appear.
absl::StatusOr<SavedPredictions> ReadSaved(const std::string& path, std::vector<std::string>* lines,
                                           std::vector<std::string>* systems, int* unreadable) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(StrCat("cannot read ", path, ": ", std::strerror(errno)));
  SavedPredictions saved;
  std::string line;
  while (std::getline(file, line)) {
    absl::StatusOr<needle::reports::SavedPrediction> record = needle::reports::ReadPredictionRecord(line);
    if (!record.ok()) {
      ++*unreadable;
      continue;
    }
    if (std::find(systems->begin(), systems->end(), record->system) == systems->end()) {
      systems->push_back(record->system);
    }
    saved.insert_or_assign(SavedKey{record->system, record->dataset, record->id}, std::move(record->prediction));
    lines->push_back(line + "\n");
  }
  return saved;
}

int List(const std::vector<std::string>& dataset_specs) {
  std::printf("systems (--system [NAME=]SPEC):\n");
  std::printf(
      "  needle[:ENGINE[:PRECISION]]  engines: optimized (default), reference; precisions: auto (default), "
      "fp32, bf16, int8, int4, w8a8, w4a8\n");
  std::printf("  keyword                      the keyword-matching floor\n");
  std::printf("  openai:URL[#MODEL]           an OpenAI-compatible server (llama.cpp, vLLM, Ollama, needle-serve)\n");
  std::printf("  command:PROGRAM ARGS         a JSON-lines subprocess\n");
  std::vector<std::string> specs = dataset_specs;
  if (specs.empty()) {
    for (const char* split : {"test", "dev"}) {
      specs.push_back(StrCat("needle:", NEEDLE_SOURCE_DIR, "/datasets/needle15/", split, ".jsonl"));
    }
  }
  std::printf("datasets (--dataset [needle:|bfcl:|generic:]PATH):\n");
  for (const std::string& spec : specs) {
    absl::StatusOr<needle::evals::Dataset> dataset = needle::evals::LoadDataset(spec);
    if (!dataset.ok()) {
      std::printf("  %s: %s\n", spec.c_str(), std::string(dataset.status().message()).c_str());
      continue;
    }
    std::map<std::string, int> categories, call_types;
    for (const needle::evals::EvalItem& item : dataset->items) {
      ++categories[item.category];
      ++call_types[item.call_type];
    }
    std::printf("  %s (%s format, %zu items): %s\n", dataset->name.c_str(), dataset->format.c_str(),
                dataset->items.size(), spec.c_str());
    for (const auto& [title, counts] : {std::pair{"categories", &categories}, {"call types", &call_types}}) {
      std::string listed;
      for (const auto& [name, count] : *counts) listed += StrCat(listed.empty() ? "" : ", ", name, " ", count);
      std::printf("    %s: %s\n", title, listed.c_str());
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  const std::vector<std::string> system_specs = TakeRepeated(args, "system");
  const std::vector<std::string> dataset_specs = TakeRepeated(args, "dataset");
  std::vector<char*> arg_ptrs;
  for (std::string& arg : args) arg_ptrs.push_back(arg.data());
  const std::vector<char*> positional = needle::cli::ParseCommandLine(
      static_cast<int>(arg_ptrs.size()), arg_ptrs.data(),
      "needle-eval --system SPEC [--system SPEC...] --dataset SPEC [--dataset SPEC...] [--out DIR]\n"
      "systems: [NAME=]needle[:ENGINE[:PRECISION]] | keyword | openai:URL[#MODEL] | command:PROGRAM ARGS...\n"
      "datasets: [needle:|bfcl:|generic:]PATH (BFCL answers are read from possible_answer/ beside PATH)\n"
      "needle-eval score --predictions FILE --dataset SPEC... [--out DIR]: score saved predictions again\n"
      "needle-eval list [--dataset SPEC...]: datasets with their categories, system kinds");
  const std::string command = positional.size() > 1 ? positional[1] : "";
  if (command == "list" && positional.size() == 2) return List(dataset_specs);
  const bool rescore = command == "score" && positional.size() == 2;
  if ((positional.size() != 1 && !rescore) || (system_specs.empty() && !rescore) || dataset_specs.empty()) {
    std::fprintf(stderr, "%s\n", absl::ProgramUsageMessage().data());
    return 2;
  }
  if (rescore && (!system_specs.empty() || absl::GetFlag(FLAGS_predictions).empty())) {
    return Fail(absl::InvalidArgumentError("score takes --predictions FILE and no --system"));
  }
  const std::string out = absl::GetFlag(FLAGS_out);
  if (absl::GetFlag(FLAGS_resume) && (out.empty() || rescore)) {
    return Fail(absl::InvalidArgumentError("--resume goes on with the run in --out DIR; give --out"));
  }

  std::vector<needle::evals::Dataset> datasets;
  for (const std::string& spec : dataset_specs) {
    absl::StatusOr<needle::evals::Dataset> dataset = needle::evals::LoadDataset(spec);
    if (!dataset.ok()) return Fail(dataset.status());
    for (const needle::evals::DatasetError& error : dataset->errors) {
      std::fprintf(stderr, "needle-eval: skipped %s:%d: %s\n", error.file.c_str(), error.line, error.message.c_str());
    }
    for (const auto& [what, count] : dataset->mapped) {
      std::fprintf(stderr, "needle-eval: %s (%s format): mapped %s: %d\n", spec.c_str(), dataset->format.c_str(),
                   what.c_str(), count);
    }
    if (absl::Status limited =
            needle::evals::LimitItems(*dataset, absl::GetFlag(FLAGS_limit), absl::GetFlag(FLAGS_sample_seed));
        !limited.ok()) {
      return Fail(absl::InvalidArgumentError(StrCat("--", std::string(limited.message()))));
    }
    datasets.push_back(*std::move(dataset));
  }

  absl::StatusOr<needle::cli::ModelChoice> model = needle::cli::ModelFlags();
  if (!model.ok()) return Fail(model.status());
  needle::evals::SystemDefaults defaults;
  defaults.model_path = model->model_path;
  defaults.tokenizer_path = model->tokenizer_path;
  defaults.engine = model->engine;
  defaults.precision = model->options.precision;
  defaults.numerics = model->options.numerics;
  defaults.constrained = absl::GetFlag(FLAGS_constrained);
  defaults.max_new_tokens = absl::GetFlag(FLAGS_max_new_tokens);
  defaults.threads = model->options.threads;
  defaults.stream = absl::GetFlag(FLAGS_stream);
  defaults.timeout_seconds = absl::GetFlag(FLAGS_timeout);
  defaults.processes = absl::GetFlag(FLAGS_processes);
  std::vector<std::unique_ptr<needle::evals::System>> systems;
  std::vector<const needle::evals::System*> system_ptrs;
  std::vector<std::string> system_names;
  // Predictions made before: all of them when scoring again, an interrupted
  // run's when resuming.
  SavedPredictions saved;
  std::vector<std::string> saved_lines, saved_systems;
  int unreadable = 0;
  const std::filesystem::path dir(out);
  if (rescore || (absl::GetFlag(FLAGS_resume) && std::filesystem::exists(dir / "predictions.jsonl"))) {
    const std::string path = rescore ? absl::GetFlag(FLAGS_predictions) : (dir / "predictions.jsonl").string();
    absl::StatusOr<SavedPredictions> read = ReadSaved(path, &saved_lines, &saved_systems, &unreadable);
    if (!read.ok()) return Fail(read.status());
    saved = *std::move(read);
    std::fprintf(stderr, "needle-eval: %s: %zu predictions read, %d unreadable lines left out\n", path.c_str(),
                 saved.size(), unreadable);
  }
  if (rescore) {
    for (const std::string& name : saved_systems) {
      system_names.push_back(name);
      system_ptrs.push_back(nullptr);
    }
  }
  for (const std::string& spec : system_specs) {
    absl::StatusOr<std::unique_ptr<needle::evals::System>> system = needle::evals::MakeSystem(spec, defaults);
    if (!system.ok()) return Fail(system.status());
    for (const std::string& name : system_names) {
      if (name == (*system)->name()) return Fail(absl::InvalidArgumentError(StrCat("two systems named ", name)));
    }
    system_names.push_back((*system)->name());
    system_ptrs.push_back(system->get());
    systems.push_back(*std::move(system));
  }

  // Opened before the run, so that an --out that cannot be written is found
  // before any request is made.
  std::ofstream journal;
  bool journal_failed = false;
  if (!out.empty()) {
    std::error_code error;
    std::filesystem::create_directories(out, error);
    if (error) return Fail(absl::InternalError(StrCat("cannot create ", out, ": ", error.message())));
    journal.open(dir / "predictions.jsonl", std::ios::binary | std::ios::trunc);
    if (!journal) {
      return Fail(absl::InternalError(
          StrCat("cannot write ", (dir / "predictions.jsonl").string(), ": ", std::strerror(errno))));
    }
    // A resumed run's journal starts with the lines that read, without a line cut short.
    if (!rescore) {
      for (const std::string& line : saved_lines) journal << line;
      journal << std::flush;
    }
  }
  const auto prediction_line = [&](const needle::evals::ItemResult& result) {
    return needle::reports::PredictionRecord(system_names[result.system], datasets[result.dataset], result)
               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
           "\n";
  };

  needle::evals::RunOptions options;
  options.parallel = absl::GetFlag(FLAGS_parallel) > 0 ? absl::GetFlag(FLAGS_parallel)
                                                       : static_cast<int>(std::thread::hardware_concurrency());
  for (const std::string& name : absl::GetFlag(FLAGS_underscore_to_dot)) {
    if (std::find(system_names.begin(), system_names.end(), name) == system_names.end()) {
      return Fail(absl::InvalidArgumentError(StrCat("--underscore_to_dot: no system named \"", name, "\"")));
    }
  }
  for (const std::string& name : system_names) {
    const std::vector<std::string> listed = absl::GetFlag(FLAGS_underscore_to_dot);
    options.underscore_to_dot.push_back(std::find(listed.begin(), listed.end(), name) != listed.end());
  }
  if (!saved.empty()) {
    options.saved = [&](int system, int dataset, int item) -> std::optional<absl::StatusOr<needle::evals::Prediction>> {
      auto found = saved.find(SavedKey{system_names[system], datasets[dataset].name, datasets[dataset].items[item].id});
      if (found == saved.end()) return std::nullopt;
      return found->second;
    };
  }
  if (rescore) {
    for (size_t s = 0; s < system_names.size(); ++s) {
      for (const needle::evals::Dataset& dataset : datasets) {
        for (const needle::evals::EvalItem& item : dataset.items) {
          if (saved.count(SavedKey{system_names[s], dataset.name, item.id}) == 0) {
            return Fail(absl::InvalidArgumentError(StrCat("no prediction of ", system_names[s], " for ", dataset.name,
                                                          " item ", item.id, " in ", absl::GetFlag(FLAGS_predictions),
                                                          " (give the datasets and --limit of that run)")));
          }
        }
      }
    }
  }
  const auto start = std::chrono::steady_clock::now();
  int failed = 0, unparsed = 0;
  const bool tty = isatty(STDERR_FILENO) != 0;
  const bool progress = absl::GetFlag(FLAGS_progress);
  options.on_result = [&](int done, int total, const needle::evals::ItemResult& result) {
    if (journal.is_open() && !journal_failed) {
      journal << prediction_line(result) << std::flush;
      journal_failed = !journal;
    }
    if (progress) {
      failed += result.request_status.ok() ? 0 : 1;
      unparsed += result.output.parsed ? 0 : 1;
      // A terminal gets one line rewritten in place; a log gets a line every 5%.
      if (!tty && done != total && done % std::max(1, total / 20) != 0) return;
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::fprintf(stderr, "%s[%d/%d] %.1f s, %.1f req/s, %d failed requests, %d unparsable outputs%s", tty ? "\r" : "",
                   done, total, seconds, done / std::max(seconds, 1e-9), failed, unparsed,
                   tty && done != total ? "" : "\n");
    }
  };
  const std::vector<needle::evals::ItemResult> results = needle::evals::RunEval(system_ptrs, datasets, options);

  needle::reports::EvalReport report = needle::reports::BuildEvalReport(system_names, datasets, results);
  const needle::bench::SystemInfo host = needle::bench::LocalSystemInfo(NEEDLE_SOURCE_DIR);
  report.created_utc = needle::bench::UtcTimestamp();
  report.build_commit = host.build_commit;
  report.host = StrCat(host.cpu_info, ", ", host.n_cpu_cores, " cores");
  report.parallel = options.parallel;
  const std::string markdown = needle::reports::RenderMarkdown(report);
  std::cout << markdown;

  std::cout.flush();
  const bool stdout_failed = !std::cout;

  if (!out.empty()) {
    journal.close();
    if (absl::Status status = needle::reports::WriteEvalFiles(out, system_names, datasets, results, report);
        !status.ok()) {
      return Fail(status);
    }
    std::fprintf(stderr, "needle-eval: wrote %s/{predictions.jsonl,report.json,report.md,report.html}\n", out.c_str());
  }
  if (stdout_failed) return Fail(absl::InternalError("cannot write the report to stdout"));
  return 0;
}
