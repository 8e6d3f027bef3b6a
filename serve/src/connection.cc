#include "connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <future>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "needle/str_cat.h"

namespace needle::serve {
namespace {

using Clock = std::chrono::steady_clock;

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

Framing Error(int status, std::string message) {
  Framing framing;
  framing.state = Framing::State::kError;
  framing.error_status = status;
  framing.error_message = std::move(message);
  return framing;
}

// The reason phrases of the statuses the intake answers with.
const char* ReasonPhrase(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Payload Too Large";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

int MillisecondsUntil(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, 1000 * 1000));
}

// Writes all of `data` unless the client stops reading for longer than the deadline allows.
bool WriteAll(socket_t sock, const char* data, size_t size, Clock::time_point deadline) {
  while (size > 0) {
    pollfd fd = {sock, POLLOUT, 0};
    if (poll(&fd, 1, MillisecondsUntil(deadline)) <= 0 || (fd.revents & (POLLERR | POLLHUP))) return false;
    const ssize_t sent = send(sock, data, size, MSG_NOSIGNAL);
    if (sent < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (sent <= 0) return false;
    data += sent;
    size -= static_cast<size_t>(sent);
  }
  return true;
}

// Closing a socket with unread bytes resets the connection, and a reset can
// discard the error response before the client reads it. So the write side
// closes first and what the client still sends is read and dropped, briefly.
void CloseAfterError(socket_t sock, std::chrono::milliseconds linger) {
  shutdown(sock, SHUT_WR);
  const Clock::time_point deadline = Clock::now() + linger;
  char discard[4096];
  pollfd fd = {sock, POLLIN, 0};
  while (poll(&fd, 1, MillisecondsUntil(deadline)) > 0 && recv(sock, discard, sizeof(discard), 0) > 0) {
  }
}

// The address and port of either end of a socket (getpeername or getsockname).
void AddressOf(int (*get_name)(int, sockaddr*, socklen_t*), socket_t sock, std::string& ip, int& port) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (get_name(sock, reinterpret_cast<sockaddr*>(&address), &length) != 0) return;
  char text[INET6_ADDRSTRLEN] = "";
  if (address.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
    inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text));
    port = ntohs(v4->sin_port);
  } else if (address.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
    inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text));
    port = ntohs(v6->sin6_port);
  }
  ip = text;
}

std::string PeerAddress(socket_t sock) {
  std::string ip = "unknown";
  int port = 0;
  AddressOf(getpeername, sock, ip, port);
  return ip;
}

// Whether the client has closed its end: the read side is at its end, with no
// pipelined request waiting. (A client that only half-closed and still waits
// for an answer reads as gone too; HTTP clients do not do that.)
bool PeerHungUp(socket_t sock) {
  char byte;
  const ssize_t n = recv(sock, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

// Set while the accept thread itself runs a connection it has no intake
// thread for: that connection only gets a 503.
thread_local bool intake_full = false;

// The intake threads: a fixed pool that never queues. A connection arriving
// when every thread is taken is answered on the accept thread with a 503, so
// a flood of connections cannot hold later ones in an unbounded queue.
class IntakePool : public httplib::TaskQueue {
 public:
  // Every thread counts as idle from the start, so that connections arriving
  // before the threads first wait are queued for them rather than refused.
  explicit IntakePool(int threads) : idle_(static_cast<size_t>(threads)) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
  }
  ~IntakePool() override { shutdown(); }

  void enqueue(std::function<void()> fn) override {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!stopping_ && jobs_.size() < idle_) {
      jobs_.push_back(std::move(fn));
      lock.unlock();
      job_added_.notify_one();
      return;
    }
    lock.unlock();
    intake_full = true;
    fn();
    intake_full = false;
  }

  void shutdown() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
      stopping_ = true;
    }
    job_added_.notify_all();
    for (std::thread& thread : threads_) thread.join();
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      job_added_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, and nothing left to run
      std::function<void()> job = std::move(jobs_.front());
      jobs_.pop_front();
      --idle_;
      lock.unlock();
      job();
      lock.lock();
      ++idle_;
    }
  }

  std::mutex mutex_;
  std::condition_variable job_added_;
  std::deque<std::function<void()>> jobs_;
  size_t idle_;  // threads not running a job
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// httplib's request handling over one framed request: reads come from the
// bytes the intake read, writes go to the socket within a deadline.
class FramedRequestStream : public httplib::Stream {
 public:
  FramedRequestStream(socket_t sock, std::string request, std::chrono::milliseconds write_timeout)
      : sock_(sock), request_(std::move(request)), write_timeout_(write_timeout) {}

  bool is_readable() const override { return read_ < request_.size(); }
  bool is_writable() const override {
    pollfd fd = {sock_, POLLOUT, 0};
    return poll(&fd, 1, static_cast<int>(write_timeout_.count())) > 0 && !(fd.revents & (POLLERR | POLLHUP));
  }
  ssize_t read(char* ptr, size_t size) override {
    const size_t n = std::min(size, request_.size() - read_);
    std::copy_n(request_.data() + read_, n, ptr);
    read_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    return WriteAll(sock_, ptr, size, Clock::now() + write_timeout_) ? static_cast<ssize_t>(size) : -1;
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override { AddressOf(getpeername, sock_, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { AddressOf(getsockname, sock_, ip, port); }
  socket_t socket() const override { return sock_; }

 private:
  const socket_t sock_;
  const std::string request_;
  size_t read_ = 0;
  const std::chrono::milliseconds write_timeout_;
};

}  // namespace

Framing FrameRequest(std::string_view bytes, size_t max_body_bytes) {
  const size_t header_end = bytes.find("\r\n\r\n");
  if (header_end == std::string_view::npos) {
    if (bytes.size() > kMaxHeaderBytes) {
      return Error(431, StrCat("request header is longer than the server's limit of ", kMaxHeaderBytes, " bytes"));
    }
    return Framing{};
  }
  if (header_end + 4 > kMaxHeaderBytes) {
    return Error(431, StrCat("request header is longer than the server's limit of ", kMaxHeaderBytes, " bytes"));
  }
  Framing framing;
  const size_t request_line_end = bytes.find("\r\n");
  const std::string_view method = bytes.substr(0, std::min(request_line_end, bytes.find(' ')));
  framing.bodyless_method = method == "GET" || method == "HEAD";
  std::optional<uint64_t> content_length;
  for (size_t line = request_line_end + 2; line < header_end + 2;) {
    const size_t line_end = bytes.find("\r\n", line);
    const std::string_view text = bytes.substr(line, line_end - line);
    const size_t colon = text.find(':');
    const std::string_view name = text.substr(0, colon);
    const std::string_view value = colon == std::string_view::npos ? "" : Trim(text.substr(colon + 1));
    if (EqualsIgnoringCase(name, "Transfer-Encoding")) {
      return Error(411, "request bodies sent in chunks are not accepted; send the body with a Content-Length header");
    }
    if (EqualsIgnoringCase(name, "Content-Length")) {
      uint64_t length = 0;
      const bool digits = !value.empty() && value.size() <= 18 &&
                          std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
      for (char c : value) length = length * 10 + static_cast<uint64_t>(c - '0');
      if (!digits || (content_length && *content_length != length)) {
        return Error(400, StrCat("Content-Length \"", std::string(value), "\" is not one decimal byte count"));
      }
      content_length = length;
    }
    if (EqualsIgnoringCase(name, "Expect") && EqualsIgnoringCase(value, "100-continue")) {
      framing.expects_continue = true;
      framing.expect_begin = line;
      framing.expect_end = line_end + 2;
    }
    line = line_end + 2;
  }
  const uint64_t body_bytes = content_length.value_or(0);
  if (body_bytes > max_body_bytes) {
    return Error(413, StrCat("request body of ", body_bytes, " bytes is larger than the server's limit of ",
                             max_body_bytes, " bytes (needle-serve --max_body_bytes)"));
  }
  framing.total_bytes = header_end + 4 + body_bytes;
  framing.state = bytes.size() >= framing.total_bytes ? Framing::State::kComplete : Framing::State::kNeedMore;
  return framing;
}

ConnectionServer::ConnectionServer(ConnectionLimits limits) : limits_(std::move(limits)) {
  const int intake_threads = std::max(limits_.max_connections, 1);
  new_task_queue = [intake_threads] { return new IntakePool(intake_threads); };
  set_payload_max_length(limits_.max_body_bytes);
  workers_ = std::make_unique<httplib::ThreadPool>(static_cast<size_t>(std::max(limits_.workers, 1)));
}

// httplib's ThreadPool must be shut down (its threads joined) before it is destroyed.
ConnectionServer::~ConnectionServer() { workers_->shutdown(); }

bool ConnectionServer::WidenListenBacklog() { return ::listen(svr_sock_, SOMAXCONN) == 0; }

void ConnectionServer::WriteError(socket_t sock, int status, const std::string& message) {
  const std::string body = error_body_ ? error_body_(status, message) : message;
  const std::string response = StrCat("HTTP/1.1 ", status, " ", ReasonPhrase(status),
                                      "\r\nContent-Type: application/json\r\nContent-Length: ", body.size(),
                                      "\r\nConnection: close\r\n\r\n", body);
  WriteAll(sock, response.data(), response.size(), Clock::now() + limits_.write_timeout);
}

ConnectionServer::Wait ConnectionServer::ReadRequest(socket_t sock, std::string& buffer,
                                                     Clock::time_point first_byte_deadline, Framing& framing) {
  // Until the first byte the wait is the keep-alive (or first request's)
  // deadline; from it on, the whole request must arrive within request_timeout.
  Clock::time_point deadline = buffer.empty() ? first_byte_deadline : Clock::now() + limits_.request_timeout;
  bool continue_sent = false;
  while (true) {
    framing = FrameRequest(buffer, limits_.max_body_bytes);
    if (framing.state != Framing::State::kNeedMore) return Wait::kFramed;
    if (framing.expects_continue && !continue_sent) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      if (!WriteAll(sock, kContinue.data(), kContinue.size(), Clock::now() + limits_.write_timeout)) {
        return Wait::kClosed;
      }
      continue_sent = true;
    }
    // Polls in short steps so that a stopping server does not wait out the deadline.
    pollfd fd = {sock, POLLIN, 0};
    const int ready = poll(&fd, 1, std::min(MillisecondsUntil(deadline), 100));
    if (!Listening()) return Wait::kClosed;
    if (ready < 0 && errno != EINTR) return Wait::kClosed;
    if (ready <= 0) {
      if (Clock::now() >= deadline) return Wait::kTimedOut;
      continue;
    }
    char chunk[16 << 10];
    const ssize_t n = recv(sock, chunk, sizeof(chunk), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return Wait::kClosed;
    if (buffer.empty()) deadline = Clock::now() + limits_.request_timeout;
    buffer.append(chunk, static_cast<size_t>(n));
  }
}

bool ConnectionServer::process_and_close_socket(socket_t sock) {
  const auto close_socket = [sock] {
    shutdown(sock, SHUT_RDWR);
    close(sock);
    return true;
  };
  if (intake_full) {
    WriteError(sock, 503,
               StrCat("the server has ", limits_.max_connections,
                      " connections open, its limit (needle-serve --max_connections); try again later"));
    CloseAfterError(sock, std::chrono::milliseconds(0));
    return close_socket();
  }

  const std::string client = PeerAddress(sock);
  int open_from_client = 0;
  {
    std::lock_guard<std::mutex> lock(clients_mutex_);
    open_from_client = ++connections_by_client_[client];
  }
  struct LeaveClient {
    ConnectionServer* server;
    const std::string& client;
    ~LeaveClient() {
      std::lock_guard<std::mutex> lock(server->clients_mutex_);
      if (--server->connections_by_client_[client] == 0) server->connections_by_client_.erase(client);
    }
  } leave{this, client};
  if (open_from_client > limits_.max_connections_per_client) {
    WriteError(sock, 429,
               StrCat(client, " has ", limits_.max_connections_per_client,
                      " connections open, the limit per client (needle-serve --max_connections_per_client)"));
    // No lingering: a client over its limit must not hold intake threads with refused connections.
    CloseAfterError(sock, std::chrono::milliseconds(0));
    return close_socket();
  }

  std::string buffer;
  Clock::time_point first_byte_deadline = Clock::now() + limits_.request_timeout;
  while (Listening()) {
    Framing framing;
    const Wait wait = ReadRequest(sock, buffer, first_byte_deadline, framing);
    if (wait == Wait::kClosed) break;
    if (wait == Wait::kTimedOut) {
      if (!buffer.empty()) {
        WriteError(sock, 408,
                   StrCat("the request did not arrive within ", limits_.request_timeout.count() / 1000,
                          " seconds (needle-serve --request_timeout_seconds)"));
        CloseAfterError(sock, std::chrono::milliseconds(1000));
      }
      break;
    }
    if (framing.state == Framing::State::kError) {
      WriteError(sock, framing.error_status, framing.error_message);
      CloseAfterError(sock, std::chrono::milliseconds(1000));
      break;
    }
    std::string request = buffer.substr(0, framing.total_bytes);
    buffer.erase(0, framing.total_bytes);
    if (framing.expects_continue) request.erase(framing.expect_begin, framing.expect_end - framing.expect_begin);

    // A client that sent its request and hung up, before or while it waited
    // for a worker, is not worth a generation. Requests that generate run on
    // a worker, this thread waiting; GET routes answer here at once.
    bool connection_closed = false;
    bool answered = false;
    const auto answer = [&] {
      if (PeerHungUp(sock)) return;
      FramedRequestStream stream(sock, std::move(request), limits_.write_timeout);
      answered = process_request(stream, /*close_connection=*/false, connection_closed, nullptr);
    };
    if (framing.bodyless_method) {
      answer();
    } else {
      std::promise<void> done;
      workers_->enqueue([&] {
        answer();
        done.set_value();
      });
      done.get_future().wait();
    }
    if (!answered || connection_closed) break;
    first_byte_deadline = Clock::now() + limits_.keep_alive_timeout;
  }
  return close_socket();
}

}  // namespace needle::serve
