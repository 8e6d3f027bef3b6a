// What a row records about the machine and process: CPU, build, memory high
// water mark, CPU pinning, time.
#ifndef NEEDLE_BENCH_SYSTEM_INFO_H_
#define NEEDLE_BENCH_SYSTEM_INFO_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace needle::bench {

struct SystemInfo {
  std::string host;
  std::string cpu_info;  // model name from /proc/cpuinfo
  int n_cpu_cores = 0;
  std::string build_commit;
  std::string os_version;  // "Linux 6.1.0-13-amd64"; a device run says "Android 14"
};

// `git describe --always --dirty` of the source tree, as the eval reports
// record it; "unknown" where there is no checkout (e.g. a binary on a phone).
std::string SourceCommit(const std::string& source_dir);
SystemInfo LocalSystemInfo(const std::string& source_dir);

// "2026-11-26T17:52:00Z".
std::string UtcTimestamp();

// Peak resident set size is process-wide: ResetPeakRss lowers the high-water
// mark to the current RSS (Linux clear_refs), PeakRssBytes reads VmHWM
// (-1 when /proc has none).
absl::Status ResetPeakRss();
int64_t PeakRssBytes();

// "0x3" -> {0, 1}: the CPUs whose bits are set.
absl::StatusOr<std::vector<int>> ParseCpuMask(std::string_view hex);
// Pins the calling thread (and the threads it starts afterwards) to the mask's CPUs.
absl::Status SetCpuMask(std::string_view hex);

// The calling thread's CPUs as they are, and setting them back: a sweep of
// masks returns to them for the tests without one.
absl::StatusOr<std::vector<int>> CurrentCpus();
absl::Status SetCpus(const std::vector<int>& cpus);

}  // namespace needle::bench

#endif  // NEEDLE_BENCH_SYSTEM_INFO_H_
