#include "needle/bench/system_info.h"

#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <thread>

#include "needle/str_cat.h"

namespace needle::bench {
namespace {

std::string CpuModel() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  // x86 names the model; many ARM kernels only name the board.
  for (const char* key : {"model name", "Hardware"}) {
    cpuinfo.clear();
    cpuinfo.seekg(0);
    while (std::getline(cpuinfo, line)) {
      const size_t colon = line.find(':');
      if (line.rfind(key, 0) == 0 && colon != std::string::npos && colon + 2 <= line.size()) {
        return line.substr(colon + 2);
      }
    }
  }
  return "unknown CPU";
}

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

}  // namespace

std::string SourceCommit(const std::string& source_dir) {
  const std::string command = StrCat("git -C '", source_dir, "' describe --always --dirty 2>/dev/null");
  std::string commit;
  if (FILE* pipe = popen(command.c_str(), "r")) {
    char buffer[128];
    while (std::fgets(buffer, sizeof(buffer), pipe) != nullptr) commit += buffer;
    pclose(pipe);
  }
  while (!commit.empty() && (commit.back() == '\n' || commit.back() == ' ')) commit.pop_back();
  return commit.empty() ? "unknown" : commit;
}

SystemInfo LocalSystemInfo(const std::string& source_dir) {
  SystemInfo info;
  info.host = HostName();
  info.cpu_info = CpuModel();
  info.n_cpu_cores = static_cast<int>(std::thread::hardware_concurrency());
  info.build_commit = SourceCommit(source_dir);
  utsname names{};
  if (uname(&names) == 0) info.os_version = StrCat(names.sysname, " ", names.release);
  return info;
}

std::string UtcTimestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

absl::Status ResetPeakRss() {
  std::ofstream clear_refs("/proc/self/clear_refs");
  clear_refs << "5";
  clear_refs.close();
  if (!clear_refs) return absl::UnavailableError("cannot reset the peak RSS: /proc/self/clear_refs is not writable");
  return absl::OkStatus();
}

int64_t PeakRssBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtoll(line.c_str() + 6, nullptr, 10) * 1024;
  }
  return -1;
}

absl::StatusOr<std::vector<int>> ParseCpuMask(std::string_view hex) {
  std::string_view digits = hex;
  if (digits.rfind("0x", 0) == 0 || digits.rfind("0X", 0) == 0) digits.remove_prefix(2);
  if (digits.empty()) return absl::InvalidArgumentError(StrCat("--cpu-mask: \"", hex, "\" is not a hex mask"));
  std::vector<int> cpus;
  for (size_t i = 0; i < digits.size(); ++i) {
    const char c = digits[digits.size() - 1 - i];  // lowest CPUs last, as taskset writes them
    int nibble = 0;
    if (c >= '0' && c <= '9') {
      nibble = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      nibble = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      nibble = c - 'A' + 10;
    } else {
      return absl::InvalidArgumentError(StrCat("--cpu-mask: \"", hex, "\" is not a hex mask"));
    }
    for (int bit = 0; bit < 4; ++bit) {
      if (nibble & (1 << bit)) cpus.push_back(static_cast<int>(4 * i) + bit);
    }
  }
  if (cpus.empty()) return absl::InvalidArgumentError(StrCat("--cpu-mask: ", hex, " selects no CPU"));
  if (cpus.back() >= CPU_SETSIZE) {
    return absl::InvalidArgumentError(StrCat("--cpu-mask: CPU ", cpus.back(), " is beyond ", CPU_SETSIZE));
  }
  return cpus;
}

absl::Status SetCpuMask(std::string_view hex) {
  absl::StatusOr<std::vector<int>> cpus = ParseCpuMask(hex);
  if (!cpus.ok()) return cpus.status();
  if (absl::Status set = SetCpus(*cpus); !set.ok()) {
    return absl::InvalidArgumentError(StrCat("--cpu-mask ", hex, ": ", std::string(set.message())));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int>> CurrentCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) {
    return absl::InternalError(StrCat("cannot read the CPU affinity: ", std::strerror(errno)));
  }
  std::vector<int> cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  return cpus;
}

absl::Status SetCpus(const std::vector<int>& cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int cpu : cpus) CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    return absl::InvalidArgumentError(StrCat("cannot pin to these CPUs: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace needle::bench
