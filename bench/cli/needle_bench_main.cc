// needle-bench: prefill and decode speed of Needle engines, as llama-bench
// reports it for llama.cpp, here, on phones over adb, and for peer runtimes.
//
//   needle-bench -m model.safetensors -p 1024 -n 100 -t 1,2 -r 5 -o md
//   needle-bench --peer pytorch,onnxruntime -e reference,optimized -P fp32
//   needle-bench --farm farm.json -o json > phones.json
//
// Every combination of models, engines, precisions and thread counts runs
// every test; the table (or CSV, JSON, JSON lines, HTML) goes to stdout, notes
// and progress to stderr. Exit status: 0, 1 on an error, 3 when some device
// failed but rows from the others were printed. Details: docs/bench.md.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "needle/bench/device.h"
#include "needle/bench/output.h"
#include "needle/bench/params.h"
#include "needle/bench/runner.h"
#include "needle/bench/system_info.h"
#include "needle/str_cat.h"
#include "needle/subprocess.h"

namespace {

using needle::StrCat;
using needle::bench::Params;
using needle::bench::Plan;
using needle::bench::ProgressFn;
using needle::bench::Row;

constexpr int kExitRowsLost = 3;

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
  params->peer_dir = NEEDLE_SOURCE_DIR "/bench/peers";
  ProgressFn progress;
  if (params->progress) progress = [](std::string_view line) { Note(std::string(line)); };

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

  std::vector<Row> rows;
  for (const std::string& path : params->inputs) {
    absl::StatusOr<std::vector<Row>> read = ReadRows(path);
    if (!read.ok()) return Fail(read.status());
    rows.insert(rows.end(), read->begin(), read->end());
  }

  absl::StatusOr<Plan> plan = needle::bench::ExpandPlan(*params);
  if (!plan.ok()) return Fail(plan.status());
  bool rows_lost = false;  // a device or a peer failed; the other rows are still printed
  std::vector<needle::bench::MachinePeak> peaks;
  if (!devices.empty()) {
    absl::StatusOr<std::string> binary = DeviceBinary(*params, progress);
    if (!binary.ok()) return Fail(binary.status());
    needle::bench::DeviceJob job;
    job.adb = params->adb;
    job.binary = *binary;
    job.models = params->models;
    job.bench_args = needle::bench::DeviceArgs(*params);
    job.threads = params->threads;
    job.timeout = std::chrono::seconds(params->timeout_seconds);
    for (const std::string& model : job.models) {
      if (!std::filesystem::is_regular_file(model))
        return Fail(absl::NotFoundError(StrCat(model, ": no such model file")));
    }
    for (needle::bench::DeviceResult& result : needle::bench::RunOnDevices(devices, job, progress)) {
      if (!result.status.ok()) {
        rows_lost = true;
        Note(StrCat("device adb:", result.device.serial, " failed: ", std::string(result.status.message())));
        continue;
      }
      rows.insert(rows.end(), result.rows.begin(), result.rows.end());
    }
  }

  if (local) {
    for (const std::string& note : plan->notes) Note(note);
    // Pinned before any engine starts its threads, which inherit the mask.
    if (!params->cpu_mask.empty()) {
      if (absl::Status pinned = needle::bench::SetCpuMask(params->cpu_mask); !pinned.ok()) return Fail(pinned);
    }
    const needle::bench::SystemInfo system = needle::bench::LocalSystemInfo(NEEDLE_SOURCE_DIR);
    // Measured after pinning, on the CPUs the rows will run on, and before any engine loads.
    if (params->roofline) peaks = needle::bench::MeasurePlanPeaks(*plan, progress);
    absl::StatusOr<needle::bench::PlanResult> measured =
        needle::bench::RunPlan(*params, *plan, system, progress, peaks);
    if (!measured.ok()) return Fail(measured.status());
    for (const absl::Status& failure : measured->peer_failures) {
      rows_lost = true;
      Note(StrCat("skipped ", std::string(failure.message())));
    }
    rows.insert(rows.end(), measured->rows.begin(), measured->rows.end());
  }

  absl::StatusOr<std::string> text = needle::bench::FormatRows(rows, params->output, peaks);
  if (!text.ok()) return Fail(text.status());
  std::fwrite(text->data(), 1, text->size(), stdout);
  if (std::fflush(stdout) != 0) return 1;
  return rows_lost ? kExitRowsLost : 0;
}
