// How needle-serve holds its connections: every connection is read on an
// intake thread until one whole request (header and body) has arrived, within
// an overall deadline, and only then does a worker run it. Slow, idle or
// oversized clients therefore cost an intake thread for a bounded time, never a
// worker, and each client address may hold only so many connections.
//
// Debian's httplib 0.11 is a compiled library whose own connection loop reads
// with a per-read timeout on its worker threads; ConnectionServer replaces
// that loop (process_and_close_socket) and hands each framed request to
// httplib's request handling (process_request).
#ifndef NEEDLE_SERVE_CONNECTION_H_
#define NEEDLE_SERVE_CONNECTION_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "httplib.h"

namespace needle::serve {

// Where one request ends in the bytes read so far.
struct Framing {
  enum class State { kNeedMore, kComplete, kError };
  State state = State::kNeedMore;
  size_t total_bytes = 0;         // header and body, when complete
  bool expects_continue = false;  // "Expect: 100-continue"
  // The "Expect" line, [begin, end): the intake answers it, so httplib must not answer it again.
  size_t expect_begin = 0, expect_end = 0;
  bool bodyless_method = false;  // GET or HEAD: served without waiting for a worker
  int error_status = 0;          // kError: 400, 411, 413 or 431
  std::string error_message;
};

// Largest request line plus headers accepted.
inline constexpr size_t kMaxHeaderBytes = 64 << 10;

// Frames the first request in `bytes`, reading Content-Length; a declared body
// over max_body_bytes is an error at once, before any of it is read.
Framing FrameRequest(std::string_view bytes, size_t max_body_bytes);

// Limits of ConnectionServer, from ServerOptions.
struct ConnectionLimits {
  int workers = 4;                                     // requests run at once
  int max_connections = 128;                           // open at once; past it a new one gets 503
  int max_connections_per_client = 32;                 // open at once from one address; past it 429
  std::chrono::milliseconds request_timeout{10000};    // header and body of one request
  std::chrono::milliseconds keep_alive_timeout{5000};  // waiting for the next request
  std::chrono::milliseconds write_timeout{10000};      // a response that cannot be sent
  size_t max_body_bytes = 4 << 20;
};

class ConnectionServer : public httplib::Server {
 public:
  explicit ConnectionServer(ConnectionLimits limits);
  ~ConnectionServer() override;

  // Debian's httplib listens with a backlog of 5: a burst of more new
  // connections than that (the load test's 16 clients) makes the kernel answer
  // with SYN cookies, and a connection whose cookie then fails is reset.
  // Calling listen() again on the bound socket raises the backlog.
  bool WidenListenBacklog();

  // The limits' errors are written before httplib sees the request; this
  // turns them into the body clients expect (an OpenAI error object).
  using ErrorBody = std::function<std::string(int status, const std::string& message)>;
  void SetErrorBody(ErrorBody error_body) { error_body_ = std::move(error_body); }

 private:
  bool process_and_close_socket(socket_t sock) override;

  // False once stop() has closed the listening socket. (httplib's is_running()
  // stays true until every connection has ended, so it cannot end them.)
  bool Listening() const { return svr_sock_ != INVALID_SOCKET; }

  // Reads until one request is framed, the deadline passes or the client goes.
  enum class Wait { kFramed, kClosed, kTimedOut };
  Wait ReadRequest(socket_t sock, std::string& buffer, std::chrono::steady_clock::time_point first_byte_deadline,
                   Framing& framing);
  void WriteError(socket_t sock, int status, const std::string& message);

  const ConnectionLimits limits_;
  ErrorBody error_body_;

  std::mutex clients_mutex_;
  std::map<std::string, int> connections_by_client_;

  // Requests that generate run on these threads, never on an intake thread:
  // the engine keeps scratch buffers per thread, so generating on up to
  // max_connections different threads grew memory by hundreds of MB.
  std::unique_ptr<httplib::ThreadPool> workers_;
};

}  // namespace needle::serve

#endif  // NEEDLE_SERVE_CONNECTION_H_
