// needle-bench: prefill and decode speed of Needle engines, as llama-bench
// reports it for llama.cpp, here, on phones over adb, and for peer runtimes.
//
//   needle-bench -m model.safetensors -p 1024 -n 100 -t 1,2 -r 5 -o md
//   needle-bench --peer pytorch,onnxruntime -e reference,optimized -P fp32
//   needle-bench --farm farm.json -o json > phones.json
//   needle-bench compare before.json after.json
//
// Every combination of models, engines, precisions and thread counts runs
// every test; the table (or CSV, JSON, JSON lines, HTML) goes to stdout as the
// rows are measured, notes and progress to stderr. Exit status: 0, 1 on an
// error, 3 when some device failed but rows from the others were printed, 130
// (143) when SIGINT (SIGTERM) stopped the run, after printing the rows so far.
// Details: docs/bench.md.
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "needle/bench/compare.h"
#include "needle/bench/device.h"
#include "needle/bench/output.h"
#include "needle/bench/params.h"
#include "needle/bench/runner.h"
#include "needle/bench/system_info.h"
#include "needle/cpu.h"
#include "needle/str_cat.h"
#include "needle/subprocess.h"

namespace {

using needle::StrCat;
using needle::bench::Params;
using needle::bench::Plan;
using needle::bench::ProgressFn;
using needle::bench::Row;

constexpr int kExitRowsLost = 3;

// The signal that asked the run to stop (0: none). The handler only stores
// it; the runner asks between runs, so the row under way is dropped and the
// rows so far and the footer are still printed. A second signal kills at once.
std::atomic<int> g_stop_signal{0};

extern "C" void OnStopSignal(int signal) {
  g_stop_signal.store(signal);
  std::signal(signal, SIG_DFL);
}

// stdout and the optional -oe copy on stderr, written as the rows come.
class Outputs {
 public:
  Outputs(const Params& params, const needle::bench::TableShape& shape,
          const std::vector<needle::bench::MachinePeak>& peaks)
      : main_(params.output, shape, peaks) {
    if (!params.second_output.empty()) {
      second_ = std::make_unique<needle::bench::RowWriter>(params.second_output, shape, peaks);
    }
  }
  // The header waits for the first row, so that an error found before any
  // row (a bad model file) leaves stdout empty.
  void Add(const Row& row) {
    Begin();
    Write(main_.Add(row), second_ ? second_->Add(row) : "");
  }
  void End() {
    Begin();
    Write(main_.End(), second_ ? second_->End() : "");
  }
  // After an error: closes what was begun (a JSON array stays valid), prints nothing otherwise.
  void EndIfBegun() {
    if (begun_) End();
  }
  bool ok() const { return ok_; }

 private:
  void Begin() {
    if (begun_) return;
    begun_ = true;
    Write(main_.Begin(), second_ ? second_->Begin() : "");
  }
  void Write(const std::string& out, const std::string& err) {
    // Flushed at once: a pipe reader sees each row as it is measured.
    if (!out.empty() && (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0)) {
      ok_ = false;
    }
    if (!err.empty()) {
      std::fwrite(err.data(), 1, err.size(), stderr);
      std::fflush(stderr);
    }
  }
  needle::bench::RowWriter main_;
  std::unique_ptr<needle::bench::RowWriter> second_;
  bool begun_ = false;
  bool ok_ = true;
};

std::string Duration(double seconds) {
  const long rounded = std::lround(seconds);
  if (rounded < 60) return StrCat(std::max(rounded, 1L), " s");
  if (rounded < 3600) return StrCat(rounded / 60, " min ", rounded % 60, " s");
  return StrCat(rounded / 3600, " h ", rounded % 3600 / 60, " min");
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "needle-bench: %s\n", std::string(status.message()).c_str());
  return 1;
}

void Note(const std::string& line) { std::fprintf(stderr, "needle-bench: %s\n", line.c_str()); }

absl::StatusOr<std::vector<Row>> ReadRows(const std::string& path) {
  std::ifstream file(path);
  if (!file) return absl::NotFoundError(StrCat(path, ": cannot open"));
  std::stringstream text;
  text << file.rdbuf();
  absl::StatusOr<std::vector<Row>> rows = needle::bench::ParseRows(text.str());
  if (!rows.ok()) return absl::InvalidArgumentError(StrCat(path, ": ", std::string(rows.status().message())));
  return rows;
}

// The static aarch64 needle-bench: as given, or the cross build's, built first when missing.
absl::StatusOr<std::string> DeviceBinary(const Params& params, const ProgressFn& progress) {
  std::string path = params.device_binary;
  if (path.empty()) {
    path = NEEDLE_SOURCE_DIR "/build/aarch64/needle-bench";
    if (!std::filesystem::exists(path)) {
      Note("cross-building the static aarch64 needle-bench (cmake --preset aarch64)");
      if (progress) progress("cross build started");
      absl::StatusOr<needle::CommandResult> built =
          needle::RunCommand({"/bin/sh", "-c",
                              "cd " NEEDLE_SOURCE_DIR " && cmake --preset aarch64 >&2 && "
                              "cmake --build build/aarch64 --target needle-bench >&2"},
                             std::chrono::seconds(params.timeout_seconds));
      if (!built.ok()) return built.status();
      if (!built->Succeeded()) return absl::InternalError(StrCat("the aarch64 cross build ", built->Describe()));
    }
  }
  if (absl::Status checked = needle::bench::CheckDeviceBinary(path); !checked.ok()) return checked;
  return path;
}

// needle-bench compare A B [-o md|csv|json]
int Compare(const std::vector<std::string>& args) {
  std::vector<std::string> files;
  std::string format = "md";
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "-o" || args[i] == "--output") {
      if (i + 1 >= args.size()) return Fail(absl::InvalidArgumentError(StrCat("compare: ", args[i], " needs a value")));
      format = args[++i];
      if (format != "md" && format != "csv" && format != "json") {
        return Fail(absl::InvalidArgumentError(StrCat("compare: unknown format \"", format, "\" (md, csv, json)")));
      }
    } else if (args[i].rfind("--output=", 0) == 0) {
      format = args[i].substr(9);
      if (format != "md" && format != "csv" && format != "json") {
        return Fail(absl::InvalidArgumentError(StrCat("compare: unknown format \"", format, "\" (md, csv, json)")));
      }
    } else if (!args[i].empty() && args[i][0] == '-') {
      return Fail(absl::InvalidArgumentError(StrCat("compare: unknown flag \"", args[i], "\"")));
    } else {
      files.push_back(args[i]);
    }
  }
  if (files.size() != 2) {
    return Fail(absl::InvalidArgumentError(
        StrCat("compare takes two files of rows (-o json or jsonl), A and B; got ", files.size())));
  }
  absl::StatusOr<std::vector<Row>> a = ReadRows(files[0]);
  if (!a.ok()) return Fail(a.status());
  absl::StatusOr<std::vector<Row>> b = ReadRows(files[1]);
  if (!b.ok()) return Fail(b.status());
  for (const auto& [path, rows] : {std::pair{&files[0], &*a}, std::pair{&files[1], &*b}}) {
    if (rows->empty()) return Fail(absl::InvalidArgumentError(StrCat(*path, ": no rows")));
  }
  const needle::bench::RunComparison comparison = needle::bench::CompareRuns(*a, *b);
  absl::StatusOr<std::string> text = needle::bench::FormatComparison(comparison, *a, *b, files[0], files[1], format);
  if (!text.ok()) return Fail(text.status());
  std::fwrite(text->data(), 1, text->size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

// --list-devices: this machine, the phones adb sees, the farm's.
int ListDevices(const Params& params, const ProgressFn& command_log) {
  const needle::bench::SystemInfo system = needle::bench::LocalSystemInfo(NEEDLE_SOURCE_DIR);
  std::printf("local: %s, %d logical cores, kernels %s, %s\n", system.cpu_info.c_str(), system.n_cpu_cores,
              std::string(needle::IsaName(needle::DefaultIsa())).c_str(), system.os_version.c_str());
  absl::StatusOr<std::vector<std::string>> adb = needle::bench::ListAdbDevices(params.adb, command_log);
  if (absl::IsNotFound(adb.status())) {
    std::printf("adb: %s not found (no phones listed)\n", params.adb.c_str());
  } else if (!adb.ok()) {
    std::printf("adb: %s\n", std::string(adb.status().message()).c_str());
  } else if (adb->empty()) {
    std::printf("adb: no device attached\n");
  } else {
    for (const std::string& line : *adb) std::printf("adb:%s\n", line.c_str());
  }
  if (!params.farm.empty()) {
    absl::StatusOr<std::vector<needle::bench::Device>> farm = needle::bench::ReadFarm(params.farm);
    if (!farm.ok()) return Fail(farm.status());
    for (const needle::bench::Device& device : *farm) {
      std::string line = StrCat("farm: adb:", device.serial);
      if (!device.name.empty()) line += StrCat(" \"", device.name, "\"");
      if (!device.cpu_mask.empty()) line += StrCat(", cpu_mask ", device.cpu_mask);
      if (!device.threads.empty()) line += fmt::format(", threads {}", fmt::join(device.threads, ","));
      std::printf("%s\n", line.c_str());
    }
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}

// The optional columns a table printed before its rows needs: what the plan,
// the devices and the rows read back will bring.
needle::bench::TableShape ExpectedShape(const Params& params, const Plan& plan, bool local,
                                        const std::vector<needle::bench::Device>& devices,
                                        const std::vector<Row>& inputs) {
  needle::bench::TableShape shape = needle::bench::ShapeOf(inputs);
  const bool runs = local || !devices.empty();
  if (!runs) return shape;
  bool reference = false, other = false, prompt = false, gen = false;
  for (const needle::bench::TestSpec& spec : plan.tests) {
    (spec.peer < 0 && spec.engine == "reference" ? reference : other) = true;
    prompt |= spec.n_prompt > 0;
    gen |= spec.n_gen > 0;
  }
  shape.runtime |= local && !plan.peers.empty();
  shape.device |= !devices.empty();
  for (const std::string& mask : params.cpu_masks) shape.cpu_mask |= local && !mask.empty();
  for (const needle::bench::Device& device : devices) shape.cpu_mask |= !device.cpu_mask.empty();
  shape.x_ref |= reference && other;
  shape.compute |= params.roofline && prompt;
  shape.bandwidth |= params.roofline && gen;
  return shape;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "compare") return Compare({args.begin() + 1, args.end()});
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
  params->peer_dir = NEEDLE_SOURCE_DIR "/bench/peers";
  ProgressFn progress;
  if (params->progress || params->verbose) progress = [](std::string_view line) { Note(std::string(line)); };
  ProgressFn command_log;
  if (params->verbose) command_log = [](std::string_view line) { Note(std::string(line)); };
  if (params->list_devices) return ListDevices(*params, command_log);

  std::vector<needle::bench::Device> devices;
  bool local = false;
  for (const std::string& device : params->devices) {
    if (device == "local") {
      local = true;
    } else {
      devices.push_back({device.substr(4), "", "", {}});
    }
  }
  if (!params->farm.empty()) {
    absl::StatusOr<std::vector<needle::bench::Device>> farm = needle::bench::ReadFarm(params->farm);
    if (!farm.ok()) return Fail(farm.status());
    devices.insert(devices.end(), farm->begin(), farm->end());
  }
  // Rows read back from files are output only, unless a run is asked for too.
  if (params->devices.empty() && params->farm.empty() && params->inputs.empty()) local = true;

  std::vector<Row> inputs;
  for (const std::string& path : params->inputs) {
    absl::StatusOr<std::vector<Row>> read = ReadRows(path);
    if (!read.ok()) return Fail(read.status());
    inputs.insert(inputs.end(), read->begin(), read->end());
  }

  absl::StatusOr<Plan> plan = needle::bench::ExpandPlan(*params);
  if (!plan.ok()) return Fail(plan.status());

  needle::bench::DeviceJob job;
  if (!devices.empty()) {
    job.adb = params->adb;
    job.models = params->models;
    job.bench_args = needle::bench::DeviceArgs(*params);
    job.threads = params->threads;
    job.timeout = std::chrono::seconds(params->timeout_seconds);
    job.command_log = command_log;
    for (const std::string& model : job.models) {
      if (!std::filesystem::is_regular_file(model))
        return Fail(absl::NotFoundError(StrCat(model, ": no such model file")));
    }
    // Seconds, not the minutes of a cross build, to find a typo in a serial or an unplugged phone.
    if (absl::Status reachable = needle::bench::CheckDevices(devices, job); !reachable.ok()) return Fail(reachable);
    absl::StatusOr<std::string> binary = DeviceBinary(*params, progress);
    if (!binary.ok()) return Fail(binary.status());
    job.binary = *binary;
  }

  if (local) {
    for (const std::string& note : plan->notes) Note(note);
    // On a terminal (or with -v), how long the run will take, roughly.
    if (isatty(STDERR_FILENO) || params->verbose) {
      if (absl::StatusOr<double> seconds = needle::bench::EstimatePlanSeconds(*params, *plan); seconds.ok()) {
        Note(
            fmt::format("{} rows x ({} warm-up + {} timed runs): about {} here (an estimate from a model of the "
                        "engines' speed, not a measurement)",
                        plan->tests.size(), params->warmup, params->repetitions, Duration(*seconds)));
      }
    }
  }
  std::signal(SIGINT, OnStopSignal);
  std::signal(SIGTERM, OnStopSignal);

  // Measured before any engine loads, each pinned to its mask; the Markdown footer lists them.
  std::vector<needle::bench::MachinePeak> peaks;
  if (local && params->roofline) {
    absl::StatusOr<std::vector<needle::bench::MachinePeak>> measured = needle::bench::MeasurePlanPeaks(*plan, progress);
    if (!measured.ok()) return Fail(measured.status());
    peaks = *std::move(measured);
  }
  Outputs outputs(*params, ExpectedShape(*params, *plan, local, devices, inputs), peaks);
  for (const Row& row : inputs) outputs.Add(row);

  bool rows_lost = false;  // a device or a peer failed; the other rows are still printed
  if (!devices.empty()) {
    for (needle::bench::DeviceResult& result : needle::bench::RunOnDevices(devices, job, progress)) {
      if (!result.status.ok()) {
        rows_lost = true;
        Note(StrCat("device adb:", result.device.serial, " failed: ", std::string(result.status.message())));
        continue;
      }
      for (const Row& row : result.rows) outputs.Add(row);
    }
  }

  std::string interrupted;
  if (local && g_stop_signal.load() == 0) {
    const needle::bench::SystemInfo system = needle::bench::LocalSystemInfo(NEEDLE_SOURCE_DIR);
    needle::bench::RunHooks hooks;
    hooks.progress = progress;
    hooks.verbose = params->verbose;
    hooks.on_row = [&](const Row& row) { outputs.Add(row); };
    hooks.stop = [] { return g_stop_signal.load() != 0; };
    absl::StatusOr<needle::bench::PlanResult> measured = needle::bench::RunPlan(*params, *plan, system, hooks, peaks);
    if (!measured.ok()) {
      outputs.EndIfBegun();  // the rows so far stay readable
      return Fail(measured.status());
    }
    for (const absl::Status& failure : measured->peer_failures) {
      rows_lost = true;
      Note(StrCat("skipped ", std::string(failure.message())));
    }
    interrupted = measured->interrupted;
  }
  outputs.End();
  if (const int signal = g_stop_signal.load(); signal != 0) {
    Note(StrCat("interrupted by ", signal == SIGINT ? "SIGINT" : "SIGTERM",
                interrupted.empty() ? "" : StrCat(": ", interrupted), "; the rows above are complete"));
    return 128 + signal;
  }
  if (!outputs.ok()) return 1;
  return rows_lost ? kExitRowsLost : 0;
}
