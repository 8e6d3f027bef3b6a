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

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port; Start() says which
  int threads = 4;  // requests served at once; further connections wait their turn
  size_t max_body_bytes = 4 << 20;
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
