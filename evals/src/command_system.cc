// A system behind a subprocess. The protocol, one JSON object per line:
//
//   request (our stdout -> its stdin):
//     {"id":"<item id>","query":"...","tools":[<upstream Needle tools, as the model is prompted>],
//      "messages":[<the conversation as the dataset gives it: {"role","content"}, system prompts kept>],
//      "openai_tools":[<the same tools as OpenAI "function" tools, the dataset's JSON Schema kept whole>]}
//   reply (its stdout -> us), exactly one line per request, in order:
//     {"id":"<the same id>","output":"<text as the model wrote it>"}
//     {"id":"<the same id>","calls":[{"name":"...","arguments":{...}}]}   structured calls
//     {"id":"<the same id>","error":"<why this request failed>"}
//   optional reply fields: "ttft_ms" (number), "output_tokens" (integer).
//
// "output" is parsed later like any model output (JSON, Hermes, FunctionGemma
// text); "calls" is serialised with CallsToJson first. stderr is inherited, so
// a system may log there; its stdout must carry replies only. Each copy runs
// as a ChildProcess (needle/subprocess.h): in its own process group, which a
// kill takes down whole (a wrapper script's children too).
//
// Each of the `processes` copies serves one request at a time. A copy that
// misses the timeout, closes its stdout, or answers with anything but a
// well-formed reply to the request it was sent is killed and reaped, the
// request fails naming the command, and a fresh copy starts on the next
// request. An "error" reply fails the request but keeps the copy.
//
// Latency is timed from writing the request to reading the reply, so it
// leaves out waiting for a free copy and starting one.
#include "needle/evals/command_system.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>

#include "elapsed.h"
#include "needle/json.h"
#include "needle/str_cat.h"
#include "needle/subprocess.h"
#include "needle/toolcalls/call.h"
#include "nlohmann/json.hpp"

namespace needle::evals {

using toolcalls::CallsToJson;
using toolcalls::ToolCall;

namespace {

using OJson = nlohmann::ordered_json;

// A reply line longer than this is a runaway process, not a reply.
constexpr size_t kMaxReplyBytes = 64 << 20;

// Milliseconds left for poll(), at least 0.
int RemainingMs(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left + 1, 1 << 30));
}

std::string ErrnoText(int error) { return std::strerror(error); }

// Writing to a pipe whose reader has gone raises SIGPIPE, whose default
// action would kill the whole evaluation. While this is alive the calling
// thread has SIGPIPE blocked (write() then fails with EPIPE), and a SIGPIPE
// raised meanwhile is taken off the thread's pending set before unblocking.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_mask_);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  }
  ~SigpipeGuard() {
    if (!was_pending_) {
      sigset_t pending;
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        const timespec no_wait = {0, 0};
        sigtimedwait(&pipe_, nullptr, &no_wait);
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_mask_;
  bool was_pending_ = false;
};

// One running copy of the command. Not thread-safe: the pool hands it to one caller at a time.
class Process {
 public:
  Process() = default;
  ~Process() { Kill(); }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  bool running() const { return child_.running(); }

  absl::Status Start(const std::vector<std::string>& argv) {
    absl::StatusOr<ChildProcess> child = ChildProcess::Start(argv, ChildProcess::Pipes{/*in=*/true, /*err=*/false});
    if (!child.ok()) return child.status();
    child_ = *std::move(child);
    fcntl(child_.in(), F_SETFL, fcntl(child_.in(), F_GETFL) | O_NONBLOCK);
    fcntl(child_.out(), F_SETFL, fcntl(child_.out(), F_GETFL) | O_NONBLOCK);
    buffer_.clear();
    return absl::OkStatus();
  }

  absl::Status Write(std::string_view data, Clock::time_point deadline) {
    SigpipeGuard guard;
    while (!data.empty()) {
      const ssize_t n = write(child_.in(), data.data(), data.size());
      if (n > 0) {
        data.remove_prefix(static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EPIPE) return absl::UnavailableError("closed its stdin");
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        return absl::InternalError(StrCat("writing the request: ", ErrnoText(errno)));
      }
      pollfd fd = {child_.in(), POLLOUT, 0};
      const int ready = poll(&fd, 1, RemainingMs(deadline));
      if (ready == 0) return absl::DeadlineExceededError("did not read its request in time");
      if (ready < 0 && errno != EINTR) return absl::InternalError(StrCat("poll: ", ErrnoText(errno)));
    }
    return absl::OkStatus();
  }

  // The next line of its stdout, without the "\n".
  absl::StatusOr<std::string> ReadLine(Clock::time_point deadline) {
    size_t scanned = 0;
    while (true) {
      const size_t newline = buffer_.find('\n', scanned);
      if (newline != std::string::npos) {
        std::string line = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return line;
      }
      scanned = buffer_.size();
      if (buffer_.size() > kMaxReplyBytes) {
        return absl::ResourceExhaustedError(StrCat("wrote more than ", kMaxReplyBytes, " bytes without a newline"));
      }
      pollfd fd = {child_.out(), POLLIN, 0};
      const int ready = poll(&fd, 1, RemainingMs(deadline));
      if (ready == 0) return absl::DeadlineExceededError("gave no reply in time");
      if (ready < 0) {
        if (errno == EINTR) continue;
        return absl::InternalError(StrCat("poll: ", ErrnoText(errno)));
      }
      char chunk[65536];
      const ssize_t n = read(child_.out(), chunk, sizeof(chunk));
      if (n > 0) {
        buffer_.append(chunk, static_cast<size_t>(n));
      } else if (n == 0) {
        return absl::UnavailableError(StrCat("closed its stdout", buffer_.empty() ? "" : " in the middle of a line"));
      } else if (errno != EAGAIN && errno != EINTR) {
        return absl::InternalError(StrCat("reading the reply: ", ErrnoText(errno)));
      }
    }
  }

  // Closes the pipes and reaps the process, killing it unless it exits
  // within `grace`. Returns how it ended ("" when nothing was running).
  std::string Kill(std::chrono::milliseconds grace = std::chrono::milliseconds(0)) { return child_.Kill(grace); }

 private:
  ChildProcess child_;
  std::string buffer_;
};

// What a reply line says, checked against the protocol.
absl::StatusOr<Prediction> ReadReply(const std::string& line, const std::string& id) {
  auto excerpt = [&line] { return line.size() > 200 ? line.substr(0, 200) + "..." : line; };
  // Ordered: the arguments as sent.
  const OJson reply = ParseJson<OJson>(line).value_or(OJson(OJson::value_t::discarded));
  if (reply.is_discarded() || !reply.is_object()) {
    return absl::DataLossError(StrCat("replied with a line that is not a JSON object: ", excerpt()));
  }
  auto reply_id = reply.find("id");
  if (reply_id == reply.end() || *reply_id != id) {
    return absl::DataLossError(
        StrCat("replied with id ", reply_id == reply.end() ? "(none)" : reply_id->dump(), " to request \"", id, "\""));
  }
  Prediction prediction;
  if (auto output = reply.find("output"); output != reply.end()) {
    if (!output->is_string()) return absl::DataLossError(StrCat("\"output\" is not a string: ", excerpt()));
    prediction.text = output->get<std::string>();
  } else if (auto calls = reply.find("calls"); calls != reply.end()) {
    if (!calls->is_array()) return absl::DataLossError(StrCat("\"calls\" is not a list: ", excerpt()));
    std::vector<ToolCall> parsed;
    for (size_t i = 0; i < calls->size(); ++i) {
      const OJson& call = (*calls)[i];
      ToolCall tool_call;
      if (!call.is_object() || !call.contains("name") || !call["name"].is_string()) {
        return absl::DataLossError(StrCat("calls[", i, "] has no string \"name\": ", excerpt()));
      }
      tool_call.name = call["name"].get<std::string>();
      if (call.contains("arguments")) {
        if (!call["arguments"].is_object()) {
          return absl::DataLossError(StrCat("calls[", i, "].arguments is not an object: ", excerpt()));
        }
        tool_call.arguments = call["arguments"];
      }
      parsed.push_back(std::move(tool_call));
    }
    prediction.text = CallsToJson(parsed);
  } else if (auto error = reply.find("error"); error != reply.end()) {
    // Not a protocol failure: the copy stays, the request fails.
    return absl::AbortedError(StrCat("reported an error for request \"", id,
                                     "\": ", error->is_string() ? error->get<std::string>() : error->dump()));
  } else {
    return absl::DataLossError(StrCat("reply has none of \"output\", \"calls\", \"error\": ", excerpt()));
  }
  if (auto ttft = reply.find("ttft_ms"); ttft != reply.end() && !ttft->is_null()) {
    if (!ttft->is_number()) return absl::DataLossError(StrCat("\"ttft_ms\" is not a number: ", excerpt()));
    prediction.ttft_ms = ttft->get<double>();
  }
  if (auto tokens = reply.find("output_tokens"); tokens != reply.end() && !tokens->is_null()) {
    if (!tokens->is_number_integer()) {
      return absl::DataLossError(StrCat("\"output_tokens\" is not an integer: ", excerpt()));
    }
    prediction.output_tokens = tokens->get<int>();
  }
  return prediction;
}

class CommandSystem : public System {
 public:
  explicit CommandSystem(CommandOptions options) : options_(std::move(options)), processes_(options_.processes) {
    std::string command_line;
    for (const std::string& arg : options_.argv) command_line += (command_line.empty() ? "" : " ") + arg;
    label_ = StrCat("command \"", options_.name, "\" (", command_line, ")");
    for (int i = 0; i < options_.processes; ++i) free_.push_back(i);
  }

  ~CommandSystem() override {
    // Closing stdin asks every copy to finish; those still running after the grace period are killed.
    std::vector<std::thread> stoppers;
    for (auto& process : processes_) {
      stoppers.emplace_back([&process] { process.Kill(std::chrono::seconds(2)); });
    }
    for (std::thread& stopper : stoppers) stopper.join();
  }

  absl::Status StartAll() {
    for (Process& process : processes_) {
      if (absl::Status status = process.Start(options_.argv); !status.ok()) return Annotate(status);
    }
    return absl::OkStatus();
  }

  const std::string& name() const override { return options_.name; }

  absl::StatusOr<Prediction> Predict(const EvalItem& item) const override {
    const OJson tools = ParseJson<OJson>(item.tools_json.empty() ? std::string("[]") : item.tools_json)
                            .value_or(OJson(OJson::value_t::discarded));
    if (tools.is_discarded()) {
      return absl::InvalidArgumentError(StrCat("item \"", item.id, "\": tools_json is not valid JSON"));
    }
    absl::StatusOr<OJson> openai_tools = OpenAiTools(item);
    if (!openai_tools.ok()) return openai_tools.status();
    const std::string request = OJson{{"id", item.id},
                                      {"query", item.query},
                                      {"tools", tools},
                                      {"messages", ChatMessages(item)},
                                      {"openai_tools", *std::move(openai_tools)}}
                                    .dump(-1, ' ', false, OJson::error_handler_t::replace) +
                                "\n";

    const int slot = Acquire();
    absl::StatusOr<Prediction> prediction = Exchange(processes_[slot], request, item.id);
    Release(slot);
    return prediction;
  }

 private:
  int Acquire() const {
    std::unique_lock<std::mutex> lock(mutex_);
    free_cv_.wait(lock, [this] { return !free_.empty(); });
    const int slot = free_.back();
    free_.pop_back();
    return slot;
  }

  void Release(int slot) const {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      free_.push_back(slot);
    }
    free_cv_.notify_one();
  }

  absl::Status Annotate(const absl::Status& status) const {
    return absl::Status(status.code(), StrCat(label_, ": ", std::string(status.message())));
  }

  absl::StatusOr<Prediction> Exchange(Process& process, const std::string& request, const std::string& id) const {
    if (!process.running()) {
      if (absl::Status status = process.Start(options_.argv); !status.ok()) return Annotate(status);
    }
    const Clock::time_point start = Clock::now();
    // Capped so that an "infinite" timeout cannot overflow the clock.
    const Clock::time_point deadline =
        start + std::chrono::duration_cast<Clock::duration>(
                    std::chrono::duration<double>(std::min(options_.timeout_seconds, 1e7)));
    absl::Status status = process.Write(request, deadline);
    absl::StatusOr<std::string> line = status.ok() ? process.ReadLine(deadline) : status;
    absl::StatusOr<Prediction> prediction = line.ok() ? ReadReply(*line, id) : line.status();
    if (prediction.ok()) {
      prediction->latency_ms = MillisecondsSince(start);
      return prediction;
    }
    if (absl::IsAborted(prediction.status())) return Annotate(prediction.status());
    // The copy is out of step or gone: it is replaced on the next request.
    const bool timed_out = absl::IsDeadlineExceeded(prediction.status());
    const std::string ended = process.Kill(timed_out ? std::chrono::milliseconds(0) : std::chrono::milliseconds(200));
    std::string message = StrCat("request \"", id, "\": ", std::string(prediction.status().message()));
    if (timed_out) message += StrCat(" (timeout ", options_.timeout_seconds, " s); killed it");
    if (!timed_out && !ended.empty()) message += StrCat("; it ", ended);
    return absl::Status(prediction.status().code(), StrCat(label_, ": ", message, "; a fresh copy starts next time"));
  }

  const CommandOptions options_;
  std::string label_;
  mutable std::vector<Process> processes_;
  mutable std::mutex mutex_;
  mutable std::condition_variable free_cv_;
  mutable std::vector<int> free_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<System>> MakeCommandSystem(const CommandOptions& options) {
  if (options.argv.empty() || options.argv[0].empty()) {
    return absl::InvalidArgumentError(StrCat("command \"", options.name, "\": no program given (argv is empty)"));
  }
  if (options.processes < 1) {
    return absl::InvalidArgumentError(
        StrCat("command \"", options.name, "\": processes must be >= 1, got ", options.processes));
  }
  if (!(options.timeout_seconds > 0)) {
    return absl::InvalidArgumentError(
        StrCat("command \"", options.name, "\": timeout_seconds must be > 0, got ", options.timeout_seconds));
  }
  auto system = std::make_unique<CommandSystem>(options);
  // Starting every copy now makes a wrong path fail before any item is run.
  if (absl::Status status = system->StartAll(); !status.ok()) return status;
  return system;
}

}  // namespace needle::evals
