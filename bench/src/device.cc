#include "needle/bench/device.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <utility>

#include "needle/bench/system_info.h"
#include "needle/json.h"
#include "needle/str_cat.h"
#include "needle/subprocess.h"
#include "nlohmann/json.hpp"

namespace needle::bench {
namespace {

constexpr uint16_t kElfMachineAarch64 = 183;
// Printed after the remote run: not every adb passes the remote exit status on.
constexpr char kExitMarker[] = "needle-bench-exit=";

std::string Trim(std::string text) {
  const size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  const size_t end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

// The state a phone is in around its run (dumpsys battery's "level: 87" and
// "temperature: 285", the latter in tenths of a degree).
struct DeviceState {
  int battery = -1;
  double temp_c = -1;
};

DeviceState ParseBattery(const std::string& dumpsys) {
  DeviceState state;
  std::istringstream lines(dumpsys);
  std::string line;
  while (std::getline(lines, line)) {
    line = Trim(line);
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = line.substr(0, colon);
    const std::string value = Trim(line.substr(colon + 1));
    char* end = nullptr;
    const long number = std::strtol(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0') continue;
    if (key == "level") state.battery = static_cast<int>(number);
    if (key == "temperature") state.temp_c = number / 10.0;
  }
  return state;
}

// One phone's session: every adb command names its serial and has the job's deadline.
class AdbDevice {
 public:
  AdbDevice(const DeviceJob& job, const Device& device) : job_(job), device_(device) {}

  absl::StatusOr<std::string> Run(const std::vector<std::string>& command) { return Run(command, job_.timeout); }

  absl::StatusOr<std::string> Run(const std::vector<std::string>& command, std::chrono::seconds timeout) {
    std::vector<std::string> argv = {job_.adb, "-s", device_.serial};
    argv.insert(argv.end(), command.begin(), command.end());
    if (job_.command_log) job_.command_log(StrCat("running ", ShellJoin(argv)));
    absl::StatusOr<CommandResult> result = RunCommand(argv, timeout);
    if (!result.ok()) return result.status();
    if (!result->Succeeded()) {
      return absl::UnavailableError(StrCat("adb ", ShellJoin(command), " ", result->Describe()));
    }
    return result->out;
  }

  absl::StatusOr<std::string> Shell(const std::string& command) { return Run({"shell", command}); }

  DeviceState State() {
    absl::StatusOr<std::string> battery = Shell("dumpsys battery");
    return battery.ok() ? ParseBattery(*battery) : DeviceState{};
  }

 private:
  const DeviceJob& job_;
  const Device& device_;
};

// Remote file names: models get their index so that two local files of one name cannot collide.
std::string RemoteModel(size_t index, const std::string& path) {
  return StrCat(kDeviceDir, "/m", index, "-", std::filesystem::path(path).filename().string());
}

absl::StatusOr<std::vector<Row>> RunOnDevice(const Device& device, const DeviceJob& job, const ProgressFn& progress) {
  AdbDevice adb(job, device);
  const auto say = [&](const std::string& what) {
    if (progress) progress(StrCat("adb:", device.serial, ": ", what));
  };
  absl::StatusOr<std::string> state = adb.Run({"get-state"});
  if (!state.ok()) return state.status();
  if (Trim(*state) != "device") return absl::UnavailableError(StrCat("adb get-state says \"", Trim(*state), "\""));
  absl::StatusOr<std::string> model = adb.Shell("getprop ro.product.model");
  if (!model.ok()) return model.status();
  absl::StatusOr<std::string> android = adb.Shell("getprop ro.build.version.release");
  if (!android.ok()) return android.status();
  const DeviceState before = adb.State();

  say("pushing needle-bench and the models");
  if (absl::StatusOr<std::string> made = adb.Shell(StrCat("mkdir -p ", kDeviceDir)); !made.ok()) return made.status();
  const std::string remote_binary = StrCat(kDeviceDir, "/needle-bench");
  if (absl::StatusOr<std::string> pushed = adb.Run({"push", job.binary, remote_binary}); !pushed.ok()) {
    return pushed.status();
  }
  std::vector<std::string> remote_models;
  for (size_t i = 0; i < job.models.size(); ++i) {
    remote_models.push_back(RemoteModel(i, job.models[i]));
    if (absl::StatusOr<std::string> pushed = adb.Run({"push", job.models[i], remote_models.back()}); !pushed.ok()) {
      return pushed.status();
    }
  }

  // Relative to kDeviceDir, where the run starts: the rows then name just the file.
  std::vector<std::string> model_names;
  for (const std::string& remote : remote_models) model_names.push_back(std::filesystem::path(remote).filename());
  std::vector<std::string> bench = {"./needle-bench", "-m", fmt::format("{}", fmt::join(model_names, ","))};
  bench.insert(bench.end(), job.bench_args.begin(), job.bench_args.end());
  const std::vector<int>& threads = device.threads.empty() ? job.threads : device.threads;
  if (!threads.empty()) {
    bench.push_back("-t");
    bench.push_back(fmt::format("{}", fmt::join(threads, ",")));
  }
  bench.push_back("-o");
  bench.push_back("json");
  std::string command = ShellJoin(bench);
  if (!device.cpu_mask.empty()) command = StrCat("taskset ", device.cpu_mask, " ", command);
  const std::string rows_file = StrCat(kDeviceDir, "/rows.json");
  const std::string errors_file = StrCat(kDeviceDir, "/stderr.txt");
  say(StrCat("running ", command));
  absl::StatusOr<std::string> ran =
      adb.Shell(StrCat("chmod 755 ", remote_binary, " && cd ", kDeviceDir, " && rm -f rows.json && ", command,
                       " > rows.json 2> stderr.txt; echo ", kExitMarker, "$?"));
  if (!ran.ok()) return ran.status();
  const size_t marker = ran->rfind(kExitMarker);
  const std::string exit_code = marker == std::string::npos ? "" : Trim(ran->substr(marker + strlen(kExitMarker)));
  if (exit_code != "0") {
    absl::StatusOr<std::string> errors = adb.Shell(StrCat("cat ", errors_file));
    return absl::InternalError(
        StrCat("needle-bench on the device ",
               exit_code.empty() ? "did not report an exit status" : StrCat("exited with status ", exit_code),
               errors.ok() && !Trim(*errors).empty() ? ": " + Trim(*errors) : ""));
  }

  const std::filesystem::path local_rows =
      std::filesystem::temp_directory_path() /
      StrCat("needle-bench-", getpid(), "-", std::hash<std::string>{}(device.serial), ".json");
  if (absl::StatusOr<std::string> pulled = adb.Run({"pull", rows_file, local_rows.string()}); !pulled.ok()) {
    return pulled.status();
  }
  std::ifstream file(local_rows);
  std::stringstream text;
  text << file.rdbuf();
  file.close();
  std::filesystem::remove(local_rows);
  absl::StatusOr<std::vector<Row>> rows = ParseRows(text.str());
  if (!rows.ok())
    return absl::DataLossError(StrCat("rows pulled from the device: ", std::string(rows.status().message())));
  const DeviceState after = adb.State();

  for (Row& row : *rows) {
    row.device = StrCat("adb:", device.serial);
    row.device_model = device.name.empty() ? Trim(*model) : device.name;
    row.os_version = StrCat("Android ", Trim(*android));
    row.battery_before = before.battery;
    row.battery_after = after.battery;
    row.temp_before_c = before.temp_c;
    row.temp_after_c = after.temp_c;
    row.cpu_mask = device.cpu_mask;
    // Tables join rows by model: name the local file the phone's copy came from.
    for (size_t i = 0; i < model_names.size(); ++i) {
      if (row.model_filename == model_names[i]) row.model_filename = job.models[i];
    }
  }
  say(StrCat(rows->size(), " rows"));
  return rows;
}

}  // namespace

absl::Status CheckDevices(const std::vector<Device>& devices, const DeviceJob& job) {
  for (const Device& device : devices) {
    AdbDevice adb(job, device);
    absl::StatusOr<std::string> state = adb.Run({"get-state"}, std::min(job.timeout, kCheckTimeout));
    if (absl::IsNotFound(state.status())) {
      return absl::NotFoundError(StrCat("cannot run adb (", job.adb, "): install it or give its path with --adb"));
    }
    if (!state.ok()) {
      return absl::UnavailableError(
          StrCat("device adb:", device.serial, " is not reachable: ", std::string(state.status().message())));
    }
    if (Trim(*state) != "device") {
      return absl::UnavailableError(
          StrCat("device adb:", device.serial, " is not ready: adb get-state says \"", Trim(*state), "\""));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ListAdbDevices(const std::string& adb, const ProgressFn& command_log) {
  const std::vector<std::string> argv = {adb, "devices", "-l"};
  if (command_log) command_log(StrCat("running ", ShellJoin(argv)));
  absl::StatusOr<CommandResult> result = RunCommand(argv, kCheckTimeout);
  if (!result.ok()) return result.status();
  if (!result->Succeeded()) return absl::UnavailableError(StrCat("adb devices -l ", result->Describe()));
  std::vector<std::string> lines;
  std::istringstream text(result->out);
  std::string line;
  while (std::getline(text, line)) {
    line = Trim(line);
    // The heading and the daemon's start-up chatter are not devices.
    if (line.empty() || line.rfind("List of devices", 0) == 0 || line[0] == '*') continue;
    // adb pads the serial into a column: one space between fields reads as well.
    std::istringstream fields(line);
    std::string field, joined;
    while (fields >> field) joined += (joined.empty() ? "" : " ") + field;
    lines.push_back(joined);
  }
  return lines;
}

absl::StatusOr<std::vector<Device>> ReadFarm(const std::string& path) {
  std::ifstream file(path);
  if (!file) return absl::NotFoundError(StrCat(path, ": cannot open the farm file"));
  std::stringstream text;
  text << file.rdbuf();
  absl::StatusOr<nlohmann::json> parsed = ParseJson(text.str());
  if (!parsed.ok()) return absl::InvalidArgumentError(StrCat(path, ": ", std::string(parsed.status().message())));
  nlohmann::json farm = *std::move(parsed);
  const auto field_error = [&](size_t index, const std::string& why) {
    return absl::InvalidArgumentError(StrCat(path, ": devices[", index, "]: ", why));
  };
  if (!farm.is_object() || !farm.contains("devices") || !farm["devices"].is_array()) {
    return absl::InvalidArgumentError(StrCat(path, ": expected {\"devices\": [...]}"));
  }
  std::vector<Device> devices;
  for (size_t i = 0; i < farm["devices"].size(); ++i) {
    const nlohmann::json& entry = farm["devices"][i];
    if (!entry.is_object()) return field_error(i, "not an object");
    for (const auto& [key, value] : entry.items()) {
      if (key != "serial" && key != "name" && key != "cpu_mask" && key != "threads") {
        return field_error(i, StrCat("unknown field \"", key, "\" (serial, name, cpu_mask, threads)"));
      }
    }
    Device device;
    if (!entry.contains("serial") || !entry["serial"].is_string() || entry["serial"].get<std::string>().empty()) {
      return field_error(i, "serial: a non-empty string is required");
    }
    device.serial = entry["serial"].get<std::string>();
    if (entry.contains("name")) {
      if (!entry["name"].is_string()) return field_error(i, "name: not a string");
      device.name = entry["name"].get<std::string>();
    }
    if (entry.contains("cpu_mask")) {
      if (!entry["cpu_mask"].is_string()) return field_error(i, "cpu_mask: not a string");
      device.cpu_mask = entry["cpu_mask"].get<std::string>();
      if (absl::Status mask = ParseCpuMask(device.cpu_mask).status(); !mask.ok()) {
        return field_error(i, StrCat("cpu_mask: ", std::string(mask.message())));
      }
    }
    if (entry.contains("threads")) {
      const nlohmann::json& threads = entry["threads"];
      if (!threads.is_array() || threads.empty()) return field_error(i, "threads: a non-empty list is required");
      for (const nlohmann::json& count : threads) {
        if (!count.is_number_integer() || count.get<int64_t>() < 1 || count.get<int64_t>() > 1024) {
          return field_error(i, StrCat("threads: ", count.dump(), " is not a thread count in [1, 1024]"));
        }
        device.threads.push_back(count.get<int>());
      }
    }
    for (const Device& other : devices) {
      if (other.serial == device.serial) return field_error(i, StrCat("serial ", device.serial, " is listed twice"));
    }
    devices.push_back(std::move(device));
  }
  if (devices.empty()) return absl::InvalidArgumentError(StrCat(path, ": no devices"));
  return devices;
}

absl::Status CheckDeviceBinary(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(StrCat(path, ": cannot open the device binary"));
  unsigned char header[20] = {};
  file.read(reinterpret_cast<char*>(header), sizeof(header));
  const bool elf =
      file.gcount() == sizeof(header) && header[0] == 0x7f && header[1] == 'E' && header[2] == 'L' && header[3] == 'F';
  // e_machine sits at offset 18, little-endian on every Android ABI.
  const uint16_t machine = static_cast<uint16_t>(header[18] | (header[19] << 8));
  if (!elf || machine != kElfMachineAarch64) {
    return absl::InvalidArgumentError(StrCat(path,
                                             ": not an aarch64 ELF executable (build it with cmake --preset "
                                             "aarch64, or with the Android NDK: docs/bench.md)"));
  }
  return absl::OkStatus();
}

std::vector<DeviceResult> RunOnDevices(const std::vector<Device>& devices, const DeviceJob& job,
                                       const ProgressFn& progress) {
  std::vector<DeviceResult> results(devices.size());
  std::mutex progress_mutex;
  const ProgressFn serialized = [&](std::string_view line) {
    if (!progress) return;
    std::lock_guard<std::mutex> lock(progress_mutex);
    progress(line);
  };
  std::vector<std::thread> threads;
  for (size_t i = 0; i < devices.size(); ++i) {
    threads.emplace_back([&, i] {
      results[i].device = devices[i];
      absl::StatusOr<std::vector<Row>> rows = RunOnDevice(devices[i], job, serialized);
      if (rows.ok()) {
        results[i].rows = *std::move(rows);
      } else {
        results[i].status = rows.status();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  return results;
}

}  // namespace needle::bench
