// A system run as a subprocess speaking JSON lines: one request per line on
// its stdin, one reply per line on its stdout. Protocol in command_system.cc.
#ifndef NEEDLE_EVALS_COMMAND_SYSTEM_H_
#define NEEDLE_EVALS_COMMAND_SYSTEM_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "needle/evals/system.h"

namespace needle::evals {

struct CommandOptions {
  std::string name = "command";
  std::vector<std::string> argv;  // run without a shell
  int processes = 1;              // how many copies serve requests in parallel
  double timeout_seconds = 120;   // per request; the copy is killed and restarted after it
};

absl::StatusOr<std::unique_ptr<System>> MakeCommandSystem(const CommandOptions& options);

}  // namespace needle::evals

#endif  // NEEDLE_EVALS_COMMAND_SYSTEM_H_
