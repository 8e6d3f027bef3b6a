// Running another program to completion (needle-bench: a peer runtime timing
// itself, or adb talking to a phone). Programs can hang (a stuck device, a
// runaway script), so every run has a deadline after which the program and
// its children are killed.
#ifndef NEEDLE_SUBPROCESS_H_
#define NEEDLE_SUBPROCESS_H_

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace needle {

struct CommandResult {
  int exit_code = -1;  // -1 when a signal ended it
  int signal = 0;
  std::string out;
  std::string err;

  bool Succeeded() const { return exit_code == 0; }
  // "exited with status 2: <last line of stderr>" for error messages.
  std::string Describe() const;
};

// Runs argv (argv[0] searched on PATH) with stdin from /dev/null and collects
// its stdout and stderr. A program that cannot be started is NotFound; one
// still running at `timeout` is killed with its process group and is
// DeadlineExceeded. A non-zero exit is a result, not an error: callers decide.
absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

// "a b 'c d'": argv joined for messages and for remote shells, quoted for sh.
std::string ShellJoin(const std::vector<std::string>& argv);

}  // namespace needle

#endif  // NEEDLE_SUBPROCESS_H_
