// needle-eval: score systems on datasets and write reports.
//
//   needle-eval --system needle --system keyword
//       --dataset bfcl:../shared/datasets/bfcl/BFCL_v4_simple_python.json --out reports/latest
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
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "needle/bench/system_info.h"
#include "needle/config.h"
#include "needle/evals/dataset.h"
#include "needle/evals/runner.h"
#include "needle/evals/system_spec.h"
#include "needle/reports/eval_report.h"
#include "needle/str_cat.h"

ABSL_FLAG(std::string, model, NEEDLE_DEFAULT_MODEL_DIR "/needle.safetensors", "Needle checkpoint for needle systems");
ABSL_FLAG(std::string, tokenizer, NEEDLE_DEFAULT_MODEL_DIR "/tokenizer.model", "Needle SentencePiece model");
ABSL_FLAG(bool, constrained, true, "Needle: constrain tool names and argument keys to the given tools");
ABSL_FLAG(int, max_new_tokens, needle::kMaxGeneratedTokens,
          "generation limit per request: Needle's, and max_tokens for openai systems");
ABSL_FLAG(int, threads, 0, "Needle: engine threads per model (0: all cores)");
ABSL_FLAG(bool, stream, true, "openai systems: stream responses (gives time to first token)");
ABSL_FLAG(double, timeout, 120, "seconds per request for openai and command systems");
ABSL_FLAG(int, processes, 1, "command systems: copies run in parallel");
ABSL_FLAG(int, parallel, 0, "requests in flight at once (0: one per CPU core)");
ABSL_FLAG(int, limit, 0, "score only the first N items of each dataset (0: all)");
ABSL_FLAG(std::vector<std::string>, underscore_to_dot, {},
          "systems (by name) that get BFCL's underscore_to_dot: tool names with '.' shown and checked with '_'");
ABSL_FLAG(int64_t, sample_seed, -1,
          "with --limit: score N items drawn at random with this seed (kept in file order), not the first N");
ABSL_FLAG(std::string, out, "", "directory for predictions.jsonl and report.{json,md,html}");
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

absl::Status WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary);
  file << text;
  file.close();
  if (!file) return absl::InternalError(StrCat("cannot write ", path.string()));
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "needle-eval --system SPEC [--system SPEC...] --dataset SPEC [--dataset SPEC...] [--out DIR]\n"
      "systems: [NAME=]needle[:ENGINE[:PRECISION]] | keyword | openai:URL[#MODEL] | command:PROGRAM ARGS...\n"
      "datasets: [needle:|bfcl:|generic:]PATH (BFCL answers are read from possible_answer/ beside PATH)");
  std::vector<std::string> args(argv, argv + argc);
  const std::vector<std::string> system_specs = TakeRepeated(args, "system");
  const std::vector<std::string> dataset_specs = TakeRepeated(args, "dataset");
  std::vector<char*> arg_ptrs;
  for (std::string& arg : args) arg_ptrs.push_back(arg.data());
  const std::vector<char*> positional = absl::ParseCommandLine(static_cast<int>(arg_ptrs.size()), arg_ptrs.data());
  if (positional.size() != 1 || system_specs.empty() || dataset_specs.empty()) {
    std::fprintf(stderr, "%s\n", absl::ProgramUsageMessage().data());
    return 2;
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
    if (const int limit = absl::GetFlag(FLAGS_limit); limit > 0 && static_cast<int>(dataset->items.size()) > limit) {
      if (const int64_t seed = absl::GetFlag(FLAGS_sample_seed); seed >= 0) {
        // A partial Fisher-Yates shuffle picks the sample; sorting the picks keeps file order.
        std::mt19937_64 random(static_cast<uint64_t>(seed));
        std::vector<size_t> order(dataset->items.size());
        std::iota(order.begin(), order.end(), 0);
        for (size_t i = 0; i < static_cast<size_t>(limit); ++i) {
          std::swap(order[i], order[i + random() % (order.size() - i)]);
        }
        order.resize(limit);
        std::sort(order.begin(), order.end());
        std::vector<needle::evals::EvalItem> sample;
        for (size_t index : order) sample.push_back(std::move(dataset->items[index]));
        dataset->items = std::move(sample);
      } else {
        dataset->items.resize(limit);
      }
    }
    datasets.push_back(*std::move(dataset));
  }

  needle::evals::SystemDefaults defaults;
  defaults.model_path = absl::GetFlag(FLAGS_model);
  defaults.tokenizer_path = absl::GetFlag(FLAGS_tokenizer);
  defaults.constrained = absl::GetFlag(FLAGS_constrained);
  defaults.max_new_tokens = absl::GetFlag(FLAGS_max_new_tokens);
  defaults.threads = absl::GetFlag(FLAGS_threads);
  defaults.stream = absl::GetFlag(FLAGS_stream);
  defaults.timeout_seconds = absl::GetFlag(FLAGS_timeout);
  defaults.processes = absl::GetFlag(FLAGS_processes);
  std::vector<std::unique_ptr<needle::evals::System>> systems;
  std::vector<const needle::evals::System*> system_ptrs;
  std::vector<std::string> system_names;
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
  const std::string out = absl::GetFlag(FLAGS_out);
  const std::filesystem::path dir(out);
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
    std::string predictions;
    for (const needle::evals::ItemResult& result : results) predictions += prediction_line(result);
    for (const auto& [name, text] :
         {std::pair<std::string, std::string>{"predictions.jsonl", predictions},
          {"report.json",
           needle::reports::ReportToJson(report).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"},
          {"report.md", markdown},
          {"report.html", needle::reports::RenderHtml(report)}}) {
      if (absl::Status status = WriteFile(dir / name, text); !status.ok()) return Fail(status);
    }
    std::fprintf(stderr, "needle-eval: wrote %s/{predictions.jsonl,report.json,report.md,report.html}\n", out.c_str());
  }
  if (stdout_failed) return Fail(absl::InternalError("cannot write the report to stdout"));
  return 0;
}
