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
#include <utility>

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

absl::StatusOr<ChildProcess> ChildProcess::Start(const std::vector<std::string>& argv, Pipes pipes) {
  if (argv.empty()) return absl::InvalidArgumentError("no command to run");
  if (!ProgramExists(argv[0])) {
    return absl::NotFoundError(StrCat("cannot run \"", argv[0], "\": ", std::strerror(ENOENT)));
  }
  // [0] ours, [1] the child's end, for stdin, stdout, stderr; -1 where not a pipe.
  int ends[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
  auto close_all = [&ends] {
    for (auto& pair : ends) {
      for (int fd : pair) {
        if (fd >= 0) close(fd);
      }
    }
  };
  const bool wanted[3] = {pipes.in, true, pipes.err};
  for (int i = 0; i < 3; ++i) {
    if (!wanted[i]) continue;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
      const int error = errno;
      close_all();
      return absl::InternalError(StrCat("pipe: ", std::strerror(error)));
    }
    // stdin's pipe is read by the child; stdout's and stderr's are written by it.
    ends[i][0] = i == 0 ? fds[1] : fds[0];
    ends[i][1] = i == 0 ? fds[0] : fds[1];
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (pipes.in) {
    posix_spawn_file_actions_adddup2(&actions, ends[0][1], 0);
  } else {
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&actions, ends[1][1], 1);
  if (pipes.err) posix_spawn_file_actions_adddup2(&actions, ends[2][1], 2);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setpgroup(&attributes, 0);
  sigset_t none, defaults;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  // Handlers do not survive exec, but ignored signals would stay ignored.
  sigemptyset(&defaults);
  for (int signal : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD}) sigaddset(&defaults, signal);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int spawn_error = posix_spawnp(&pid, args[0], &actions, &attributes, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  for (auto& pair : ends) {
    if (pair[1] >= 0) close(pair[1]);
    pair[1] = -1;
  }
  if (spawn_error != 0) {
    close_all();
    return absl::NotFoundError(StrCat("cannot run \"", argv[0], "\": ", std::strerror(spawn_error)));
  }
  ChildProcess child;
  child.pid_ = pid;
  child.in_ = ends[0][0];
  child.out_ = ends[1][0];
  child.err_ = ends[2][0];
  return child;
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept { *this = std::move(other); }

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    Kill();
    std::swap(pid_, other.pid_);
    std::swap(in_, other.in_);
    std::swap(out_, other.out_);
    std::swap(err_, other.err_);
  }
  return *this;
}

void ChildProcess::Close(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

std::optional<int> ChildProcess::TryReap() {
  if (!running()) return std::nullopt;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) != pid_) return std::nullopt;
  pid_ = -1;
  return status;
}

std::string ChildProcess::Kill(std::chrono::milliseconds grace) {
  CloseIn();
  CloseOut();
  CloseErr();
  if (!running()) return "";
  int status = 0;
  pid_t reaped = 0;
  const Clock::time_point deadline = Clock::now() + grace;
  while ((reaped = waitpid(pid_, &status, WNOHANG)) == 0 && Clock::now() < deadline) usleep(5000);
  if (reaped == 0) {
    kill(-pid_, SIGKILL);
    kill(pid_, SIGKILL);
    while ((reaped = waitpid(pid_, &status, 0)) < 0 && errno == EINTR) {
    }
  }
  pid_ = -1;
  return reaped > 0 ? DescribeWaitStatus(status) : "could not be reaped";
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return StrCat("exited with status ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return StrCat("was killed by signal ", WTERMSIG(status), " (", strsignal(WTERMSIG(status)), ")");
  }
  return "stopped";
}

absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  absl::StatusOr<ChildProcess> child = ChildProcess::Start(argv, ChildProcess::Pipes{/*in=*/false, /*err=*/true});
  if (!child.ok()) return child.status();

  CommandResult result;
  const Clock::time_point deadline = Clock::now() + timeout;
  pollfd fds[2] = {{child->out(), POLLIN, 0}, {child->err(), POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_pipes = 2;
  std::optional<int> status;
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
        fds[i].fd = -1;
        --open_pipes;
        i == 0 ? child->CloseOut() : child->CloseErr();
      }
    }
    if (!status && (status = child->TryReap())) drain_until = Clock::now() + std::chrono::milliseconds(200);
  }
  child->CloseOut();
  child->CloseErr();
  while (!status && Clock::now() < deadline) {
    if (!(status = child->TryReap())) usleep(10000);
  }
  if (!status) {
    child->Kill();
    return absl::DeadlineExceededError(
        StrCat("\"", ShellJoin(argv), "\" did not finish within ", timeout.count() / 1000.0, " s and was killed"));
  }
  if (WIFEXITED(*status)) {
    result.exit_code = WEXITSTATUS(*status);
  } else if (WIFSIGNALED(*status)) {
    result.signal = WTERMSIG(*status);
  }
  return result;
}

}  // namespace needle
