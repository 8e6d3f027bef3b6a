// needle-bench on Android phones over adb: push a static aarch64 needle-bench
// and the models, run it (pinned with taskset), pull its JSON rows, and record
// the phone's model, Android version, battery and temperature around the run.
// Devices run in parallel; one that fails or disappears is reported and the
// others go on.
#ifndef NEEDLE_BENCH_DEVICE_H_
#define NEEDLE_BENCH_DEVICE_H_

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "needle/bench/row.h"
#include "needle/bench/runner.h"

namespace needle::bench {

// Where files go on the phone: the one directory a shell user may write and execute in.
inline constexpr char kDeviceDir[] = "/data/local/tmp/needle-bench";

struct Device {
  std::string serial;
  std::string name;          // shown in tables; the serial when the farm gives none
  std::string cpu_mask;      // taskset mask on the phone, e.g. "f0"; empty: not pinned
  std::vector<int> threads;  // empty: the run's -t
};

// A farm file: {"devices": [{"serial": "R58M123", "name": "Pixel 8", "cpu_mask": "0xf0",
// "threads": [4]}, ...]}; only serial is required. Errors name the file and field.
absl::StatusOr<std::vector<Device>> ReadFarm(const std::string& path);

struct DeviceJob {
  std::string adb = "adb";
  std::string binary;               // static aarch64 needle-bench
  std::vector<std::string> models;  // local paths
  // needle-bench flags for the tests (-p, -n, -d, -pg, -r, --warmup, -e, -P);
  // models, threads and the output format are added per device.
  std::vector<std::string> bench_args;
  std::vector<int> threads;
  std::chrono::seconds timeout{3600};  // per adb command, the run included
  ProgressFn command_log;              // hears every adb command line (-v); may be called from any device's thread
};

struct DeviceResult {
  Device device;
  std::vector<Row> rows;
  absl::Status status;  // not OK: why the device produced no rows
};

// Checks that `path` is an aarch64 ELF executable, which is all a phone runs.
absl::Status CheckDeviceBinary(const std::string& path);

// How long the reachability checks may take: a device that does not answer
// get-state in this long is not one to start a long run on.
inline constexpr std::chrono::seconds kCheckTimeout{20};

// Before anything slow (the cross build, the pushes): that `job.adb` runs and
// that every device answers `adb -s SERIAL get-state` with "device". The
// error names the first device that does not, with adb's reason.
absl::Status CheckDevices(const std::vector<Device>& devices, const DeviceJob& job);

// What `adb devices -l` says, one device a line ("R58M123 device product:...
// model:SM_S911B ..."); an error when adb cannot be run.
absl::StatusOr<std::vector<std::string>> ListAdbDevices(const std::string& adb, const ProgressFn& command_log);

// Runs `job` on every device at once, one thread per device.
std::vector<DeviceResult> RunOnDevices(const std::vector<Device>& devices, const DeviceJob& job,
                                       const ProgressFn& progress);

}  // namespace needle::bench

#endif  // NEEDLE_BENCH_DEVICE_H_
