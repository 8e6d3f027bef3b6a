// needle-serve: a Needle model behind an OpenAI-compatible endpoint.
//
//   needle-serve --port 8080
//   curl http://127.0.0.1:8080/v1/chat/completions -d '{"messages":[{"role":"user","content":"..."}],
//        "tools":[{"type":"function","function":{"name":"get_weather","parameters":{...}}}]}'
//
// Prints "listening on http://HOST:PORT" to stderr once it accepts requests;
// SIGINT or SIGTERM stops it after the requests in flight.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "cli/model_flags.h"
#include "needle/generate.h"
#include "needle/serve/server.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "address to listen on");
ABSL_FLAG(int, port, 8080, "port to listen on; 0 picks a free one");
ABSL_FLAG(int, parallel, 4, "requests generating at once (each uses --threads engine threads)");
ABSL_FLAG(int64_t, max_body_bytes, 4 << 20, "largest request body accepted (larger ones get HTTP 413)");
ABSL_FLAG(int, max_connections, 128, "connections open at once (past it HTTP 503)");
ABSL_FLAG(int, max_connections_per_client, 32, "connections open at once from one address (past it HTTP 429)");
ABSL_FLAG(int, request_timeout_seconds, 10, "time for a request's header and body to arrive (then HTTP 408)");
ABSL_FLAG(int, keep_alive_seconds, 5, "an idle connection is closed after this");
ABSL_FLAG(std::string, model_id, "needle", "model name reported in responses and /v1/models");
ABSL_FLAG(bool, constrained, true, "constrain tool names and argument keys to the given tools");
ABSL_FLAG(int, max_new_tokens, needle::kMaxGeneratedTokens, "generation limit; a request's max_tokens can lower it");

namespace {

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "needle-serve: %s\n", std::string(status.message()).c_str());
  return 1;
}

// Before this flag set was shared, --threads counted requests and
// --engine_threads engine threads; the old spelling is refused, not guessed at.
bool UsesRenamedFlag(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--engine_threads" || arg.rfind("--engine_threads=", 0) == 0) return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (UsesRenamedFlag(argc, argv)) {
    std::fprintf(stderr,
                 "needle-serve: --engine_threads is now --threads (engine threads, as in every needle tool); "
                 "requests generating at once are --parallel\n");
    return 2;
  }
  std::vector<char*> positional = needle::cli::ParseCommandLine(
      argc, argv,
      "needle-serve [--port P] [--host H] [--parallel REQUESTS] [--engine E --precision P --threads N] [--model M "
      "--tokenizer T]");
  if (positional.size() != 1) {
    std::fprintf(stderr, "needle-serve: unexpected argument \"%s\"\n%s\n", positional[1],
                 absl::ProgramUsageMessage().data());
    return 2;
  }
  if (absl::GetFlag(FLAGS_max_body_bytes) < 1) return Fail(absl::InvalidArgumentError("--max_body_bytes must be >= 1"));

  // Blocked before any thread starts, so every thread inherits the mask and
  // the signals wait for sigwait below instead of killing mid-request.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  absl::StatusOr<needle::cli::ModelChoice> choice = needle::cli::ModelFlags();
  if (!choice.ok()) return Fail(choice.status());
  auto caller = needle::ToolCaller::Load(choice->model_path, choice->tokenizer_path, choice->engine, choice->options);
  if (!caller.ok()) return Fail(caller.status());
  needle::serve::ServerOptions options;
  options.host = absl::GetFlag(FLAGS_host);
  options.port = absl::GetFlag(FLAGS_port);
  options.parallel = absl::GetFlag(FLAGS_parallel);
  options.max_body_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_max_body_bytes));
  options.max_connections = absl::GetFlag(FLAGS_max_connections);
  options.max_connections_per_client = absl::GetFlag(FLAGS_max_connections_per_client);
  options.request_timeout_seconds = absl::GetFlag(FLAGS_request_timeout_seconds);
  options.keep_alive_seconds = absl::GetFlag(FLAGS_keep_alive_seconds);
  options.model_id = absl::GetFlag(FLAGS_model_id);
  options.constrained = absl::GetFlag(FLAGS_constrained);
  options.max_new_tokens = absl::GetFlag(FLAGS_max_new_tokens);
  needle::serve::Server server(*std::move(caller), options);
  absl::StatusOr<int> port = server.Start();
  if (!port.ok()) return Fail(port.status());
  // An IPv6 address needs brackets in a URL.
  const bool ipv6 = options.host.find(':') != std::string::npos;
  std::fprintf(stderr, "listening on http://%s%s%s:%d\n", ipv6 ? "[" : "", options.host.c_str(), ipv6 ? "]" : "",
               *port);
  std::fflush(stderr);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  std::fprintf(stderr, "needle-serve: %s, stopping\n", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
  server.Stop();
  return 0;
}
