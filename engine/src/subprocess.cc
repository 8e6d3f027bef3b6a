#include "needle/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "needle/str_cat.h"

extern char** environ;

namespace needle {
namespace {

using Clock = std::chrono::steady_clock;

// Output beyond this is a runaway program; the rest is drained and dropped.
constexpr size_t kMaxCapturedBytes = 256 << 20;

std::string LastLine(const std::string& text) {
  std::string trimmed = text;
  while (!trimmed.empty() && (trimmed.back() == '\n' || trimmed.back() == '\r')) trimmed.pop_back();
  const size_t newline = trimmed.rfind('\n');
  return newline == std::string::npos ? trimmed : trimmed.substr(newline + 1);
}

// posix_spawnp cannot report a failed exec everywhere (under qemu-user the
// child just exits with 127), so a missing program is looked up first.
bool IsExecutable(const std::string& path) { return access(path.c_str(), X_OK) == 0; }

bool ProgramExists(const std::string& program) {
  if (program.find('/') != std::string::npos) return IsExecutable(program);
  const char* search = std::getenv("PATH");
  const std::string path = search != nullptr ? search : "/bin:/usr/bin";
  size_t start = 0;
  while (true) {
    const size_t colon = path.find(':', start);
    const std::string dir = path.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    if (IsExecutable((dir.empty() ? std::string(".") : dir) + "/" + program)) return true;
    if (colon == std::string::npos) return false;
    start = colon + 1;
  }
}

// Kills the child's whole process group (a shell's children too) and reaps it.
void KillAndReap(pid_t pid) {
  kill(-pid, SIGKILL);
  kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

std::string CommandResult::Describe() const {
  std::string text = signal != 0 ? StrCat("was killed by signal ", signal) : StrCat("exited with status ", exit_code);
  const std::string detail = LastLine(err.empty() ? out : err);
  if (!detail.empty()) text += ": " + detail;
  return text;
}

std::string ShellJoin(const std::vector<std::string>& argv) {
  std::string joined;
  for (const std::string& arg : argv) {
    if (!joined.empty()) joined += ' ';
    const bool plain = !arg.empty() && std::all_of(arg.begin(), arg.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("-_./=:,+@%", c) != nullptr;
    });
    if (plain) {
      joined += arg;
      continue;
    }
    joined += '\'';
    for (char c : arg) joined += c == '\'' ? std::string("'\\''") : std::string(1, c);
    joined += '\'';
  }
  return joined;
}

absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  if (argv.empty()) return absl::InvalidArgumentError("no command to run");
  if (!ProgramExists(argv[0])) return absl::NotFoundError(StrCat("cannot run \"", argv[0], "\": no such program"));
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return absl::InternalError(StrCat("pipe: ", std::strerror(errno)));
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    return absl::InternalError(StrCat("pipe: ", std::strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  // Its own process group, so that a timeout also kills what a shell started.
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);

  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int spawn_error = posix_spawnp(&pid, args[0], &actions, &attributes, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (spawn_error != 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    return absl::NotFoundError(StrCat("cannot run \"", argv[0], "\": ", std::strerror(spawn_error)));
  }

  CommandResult result;
  const Clock::time_point deadline = Clock::now() + timeout;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_pipes = 2;
  bool exited = false;
  int status = 0;
  // A program may leave a daemon holding its pipes (adb starts its server so):
  // once the program itself has exited, what is still unread gets a short grace.
  Clock::time_point drain_until = Clock::time_point::max();
  while (open_pipes > 0 && Clock::now() < std::min(deadline, drain_until)) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    const int ready = poll(fds, 2, static_cast<int>(std::clamp<long long>(left, 0, 100)));
    if (ready < 0 && errno != EINTR) break;
    for (int i = 0; i < 2 && ready > 0; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buffer[65536];
      const ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
      if (n > 0) {
        if (sinks[i]->size() < kMaxCapturedBytes) sinks[i]->append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_pipes;
      }
    }
    if (!exited && waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      drain_until = Clock::now() + std::chrono::milliseconds(200);
    }
  }
  for (pollfd& fd : fds) {
    if (fd.fd >= 0) close(fd.fd);
  }
  while (!exited && Clock::now() < deadline) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      exited = true;
    } else if (done < 0 && errno != EINTR) {
      return absl::InternalError(StrCat("waitpid: ", std::strerror(errno)));
    } else {
      usleep(10000);
    }
  }
  if (!exited) {
    KillAndReap(pid);
    return absl::DeadlineExceededError(StrCat("\"", ShellJoin(argv), "\" did not finish within ",
                                              timeout.count() / 1000.0, " s and was killed"));
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

}  // namespace needle
