// needle-serve: one loaded Needle model behind an OpenAI-compatible HTTP API.
//
//   POST /v1/chat/completions   query + tools -> tool_calls (streamed as SSE when asked)
//   GET  /v1/models             the one model served
//   GET  /health                {"status":"ok"}
#ifndef NEEDLE_SERVE_SERVER_H_
#define NEEDLE_SERVE_SERVER_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "needle/generate.h"

namespace needle::serve {

// Threads a server may start, workers and connection threads alike.
inline constexpr int kMaxThreads = 1024;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;   // 0: any free port; Start() says which
  int parallel = 4;  // requests generating at once; further ones wait their turn
  size_t max_body_bytes = 4 << 20;
  // Connections are read on their own threads, apart from the workers, until
  // a whole request has arrived: slow or idle clients never hold a worker.
  int max_connections = 128;            // open at once; past it a new connection gets 503
  int max_connections_per_client = 32;  // open at once from one address; past it 429
  // A request's header and body must arrive within this, counted from its
  // first byte (a new connection's from its opening); past it, 408.
  int request_timeout_seconds = 10;
  int keep_alive_seconds = 5;       // an idle connection is closed after this
  std::string model_id = "needle";  // reported in responses and /v1/models
  bool constrained = true;          // constrained decoding of names and argument keys
  // Upper bound on generated tokens; a request's max_tokens can only lower it.
  int max_new_tokens = kMaxGeneratedTokens;
};

class Server {
 public:
  // The caller is shared by all requests; each runs in its own Session.
  Server(std::shared_ptr<const ToolCaller> caller, ServerOptions options);
  ~Server();  // Stop()s
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, then serves on background threads; returns the bound port.
  absl::StatusOr<int> Start();
  // Stops accepting, cuts running generations short and waits for the
  // workers. Safe to call more than once.
  void Stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace needle::serve

#endif  // NEEDLE_SERVE_SERVER_H_
