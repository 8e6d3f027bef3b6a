// Running other programs: ChildProcess starts one with pipes to it, and the
// two ways the project talks to programs are built on it: RunCommand runs one
// to completion (needle-bench: a peer runtime timing itself, adb talking to a
// phone), and the eval harness's command system keeps one running and
// exchanges a line per request. Programs can hang (a stuck device, a runaway
// script), so callers give deadlines, and a killed program takes its process
// group (what a shell started) with it.
#ifndef NEEDLE_SUBPROCESS_H_
#define NEEDLE_SUBPROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace needle {

// A started program. Its stdout is always a pipe; its stdin is a pipe or
// /dev/null, its stderr a pipe or the caller's. It runs in a process group of
// its own, with an empty signal mask and default signal dispositions (the
// caller may block SIGPIPE or handle SIGTERM; the program starts clean).
// Destroying a running one kills it.
class ChildProcess {
 public:
  struct Pipes {
    bool in = false;  // false: stdin is /dev/null
    bool err = true;  // false: stderr is inherited
  };
  // argv[0] is searched on PATH; a program that cannot be started is NotFound.
  static absl::StatusOr<ChildProcess> Start(const std::vector<std::string>& argv, Pipes pipes);

  ChildProcess() = default;
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ~ChildProcess() { Kill(); }

  bool running() const { return pid_ > 0; }
  int in() const { return in_; }  // -1 when closed or not a pipe
  int out() const { return out_; }
  int err() const { return err_; }
  void CloseIn() { Close(in_); }
  void CloseOut() { Close(out_); }
  void CloseErr() { Close(err_); }

  // Its wait status (see DescribeWaitStatus) if it has exited, reaping it.
  std::optional<int> TryReap();
  // Closes the pipes, gives it `grace` to exit, then kills its process group,
  // and reaps it. How it ended ("exited with status 1"), "" when not running.
  std::string Kill(std::chrono::milliseconds grace = std::chrono::milliseconds(0));

 private:
  static void Close(int& fd);
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1, err_ = -1;
};

// "exited with status 2", "was killed by signal 9 (Killed)".
std::string DescribeWaitStatus(int status);

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
