#include "needle/serve/server.h"

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <mutex>
#include <random>
#include <thread>
#include <utility>
#include <variant>

#include "connection.h"
#include "httplib.h"
#include "needle/serve/openai_api.h"
#include "needle/str_cat.h"
#include "needle/toolcalls/convert_tools.h"
#include "needle/tools.h"

namespace needle::serve {
namespace {

constexpr char kJsonType[] = "application/json";

// One chat request reduced to what Generate needs.
struct Job {
  bool run_model = true;  // false: answered with NoCallOutput
  std::string query;
  ToolSet tools;  // the request's tools, parsed once; Generate takes them as they are
  int max_new_tokens = 0;
  bool require_call = false;
  bool include_usage = false;
};

std::variant<Job, ApiError> PrepareJob(const ChatRequest& request, int max_new_tokens) {
  // All tools are converted, so that errors name the field as the client sent it.
  absl::StatusOr<toolcalls::ConvertedTools> converted = toolcalls::ConvertTools(request.tools, "tools");
  if (converted.ok() && request.tool_choice == ToolChoice::kFunction) {
    // A named tool_choice offers the model that tool alone, which is as
    // close as Needle gets to being forced to call it.
    nlohmann::ordered_json chosen = nlohmann::ordered_json::array();
    for (const nlohmann::ordered_json& tool : request.tools) {
      if (tool["function"]["name"] == request.tool_choice_name) chosen.push_back(tool);
    }
    converted = toolcalls::ConvertTools(chosen, "tools");
  }
  absl::StatusOr<ToolSet> tools =
      converted.ok() ? ToolSet::Parse(converted->needle_json) : absl::StatusOr<ToolSet>(converted.status());
  if (!tools.ok()) {
    ApiError error;
    error.message = std::string(tools.status().message());
    error.param = "tools";
    return error;
  }
  Job job;
  job.query = request.query;
  job.tools = *std::move(tools);
  job.max_new_tokens = request.max_tokens > 0 ? std::min(request.max_tokens, max_new_tokens) : max_new_tokens;
  job.run_model = NeedsModel(request);
  job.require_call = request.tool_choice == ToolChoice::kRequired || request.tool_choice == ToolChoice::kFunction;
  job.include_usage = request.include_usage;
  return job;
}

void SendJson(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), kJsonType);
}

void SendError(httplib::Response& res, const ApiError& error) { SendJson(res, error.http_status, ErrorJson(error)); }

ApiError ServerError(const absl::Status& status) {
  ApiError error;
  error.http_status = 500;
  error.type = "server_error";
  error.message = std::string(status.message());
  return error;
}

ApiError ShuttingDown() {
  ApiError error;
  error.http_status = 503;
  error.type = "server_error";
  error.message = "the server is shutting down";
  return error;
}

Usage UsageOf(const GenerateResult& result) {
  return Usage{static_cast<int>(result.encoder_tokens.size()), static_cast<int>(result.tokens.size()),
               result.query_truncated, result.tools_truncated};
}

ConnectionLimits LimitsOf(const ServerOptions& options) {
  ConnectionLimits limits;
  limits.workers = std::max(options.parallel, 1);  // Start refuses fewer
  limits.max_connections = options.max_connections;
  limits.max_connections_per_client = options.max_connections_per_client;
  limits.request_timeout = std::chrono::seconds(options.request_timeout_seconds);
  limits.keep_alive_timeout = std::chrono::seconds(options.keep_alive_seconds);
  limits.max_body_bytes = options.max_body_bytes;
  return limits;
}

}  // namespace

class Server::Impl {
 public:
  Impl(std::shared_ptr<const ToolCaller> caller, ServerOptions options)
      : caller_(std::move(caller)),
        options_(std::move(options)),
        created_(std::time(nullptr)),
        id_prefix_(fmt::format("chatcmpl-{:08x}", std::random_device()())),
        http_(LimitsOf(options_)) {
    Route();
  }

  ~Impl() { Stop(); }

  absl::StatusOr<int> Start() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (listener_.joinable() || stopping_) {
      return absl::FailedPreconditionError("the server was started before; a server starts once");
    }
    if (options_.parallel < 1) {
      return absl::InvalidArgumentError(StrCat("parallel must be >= 1, got ", options_.parallel));
    }
    if (options_.max_body_bytes < 1) return absl::InvalidArgumentError("max_body_bytes must be >= 1");
    for (auto [name, value] : {std::pair{"max_connections", options_.max_connections},
                               {"max_connections_per_client", options_.max_connections_per_client},
                               {"request_timeout_seconds", options_.request_timeout_seconds},
                               {"keep_alive_seconds", options_.keep_alive_seconds}}) {
      if (value < 1) return absl::InvalidArgumentError(StrCat(name, " must be >= 1, got ", value));
    }
    if (options_.parallel > kMaxThreads || options_.max_connections > kMaxThreads) {
      return absl::InvalidArgumentError(StrCat("parallel and max_connections must be at most ", kMaxThreads, ", got ",
                                               options_.parallel, " and ", options_.max_connections));
    }
    if (options_.max_new_tokens < 1 || options_.max_new_tokens > kMaxGeneratedTokens) {
      return absl::InvalidArgumentError(
          StrCat("max_new_tokens must be in [1, ", kMaxGeneratedTokens, "], got ", options_.max_new_tokens));
    }
    if (options_.port < 0 || options_.port > 65535) {
      return absl::InvalidArgumentError(StrCat("port must be in [0, 65535], got ", options_.port));
    }
    errno = 0;
    int port = options_.port;
    if (port == 0) {
      port = http_.bind_to_any_port(options_.host);
    } else if (!http_.bind_to_port(options_.host, port)) {
      port = -1;
    }
    if (port < 0) {
      return absl::UnavailableError(StrCat("cannot listen on ", options_.host, ":", options_.port, ": ",
                                           errno != 0 ? std::strerror(errno) : "not an address of this machine"));
    }
    if (!http_.WidenListenBacklog()) {
      return absl::UnavailableError(
          StrCat("cannot raise the listen backlog on ", options_.host, ":", port, ": ", std::strerror(errno)));
    }
    listening_done_ = false;
    listener_ = std::thread([this] {
      http_.listen_after_bind();
      listening_done_ = true;
    });
    // Stop() is a no-op until the accept loop runs, so it must be running when Start returns.
    while (!http_.is_running() && !listening_done_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return port;
  }

  void Stop() {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    http_.stop();
    if (listener_.joinable()) listener_.join();
  }

 private:
  void Route() {
    http_.SetErrorBody([](int status, const std::string& message) {
      ApiError error;
      error.http_status = status;
      error.message = message;
      if (status == 413) error.code = "request_too_large";
      if (status >= 500 || status == 429 || status == 408) error.type = "server_error";
      return ErrorJson(error).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    });
    // httplib's default adds SO_REUSEPORT, which lets a second server bind a
    // port in use and silently take half its connections.
    http_.set_socket_options([](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    // Read through a content reader, so that httplib does not parse a body
    // sent as form-urlencoded (curl -d) as a form, with its own 8 KiB limit.
    http_.Post("/v1/chat/completions",
               [this](const httplib::Request&, httplib::Response& res, const httplib::ContentReader& content_reader) {
                 std::string body;
                 content_reader([&body](const char* data, size_t length) {
                   body.append(data, length);
                   return true;
                 });
                 ChatCompletions(body, res);
               });
    http_.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      SendJson(res, 200, ModelsJson(options_.model_id, created_));
    });
    http_.Get("/health", [](const httplib::Request&, httplib::Response& res) {
      SendJson(res, 200, {{"status", "ok"}});
    });
    // httplib answers routing failures and oversized bodies with an empty
    // body; clients expect OpenAI's error object.
    http_.set_error_handler(
        httplib::Server::HandlerWithResponse([this](const httplib::Request& req, httplib::Response& res) {
          if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
          ApiError error;
          error.http_status = res.status;
          if (res.status == 413) {
            error.message = StrCat("request body is larger than the server's limit of ", options_.max_body_bytes,
                                   " bytes (needle-serve --max_body_bytes)");
            error.code = "request_too_large";
          } else if (res.status == 404) {
            error.message = StrCat("no route for ", req.method, " ", req.path);
            error.code = "not_found";
          } else {
            error.message = StrCat("HTTP ", res.status);
          }
          SendError(res, error);
          return httplib::Server::HandlerResponse::Handled;
        }));
    http_.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr exception) {
      std::string what = "unknown exception";
      try {
        std::rethrow_exception(exception);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      SendError(res, ServerError(absl::InternalError(what)));
    });
  }

  CompletionMeta NewMeta() {
    return CompletionMeta{StrCat(id_prefix_, "-", next_id_++), static_cast<int64_t>(std::time(nullptr)),
                          options_.model_id};
  }

  GenerateOptions OptionsFor(const Job& job) const {
    GenerateOptions options;
    options.constrained = options_.constrained;
    options.max_new_tokens = job.max_new_tokens;
    options.require_call = job.require_call;
    return options;
  }

  void ChatCompletions(const std::string& body, httplib::Response& res) {
    std::variant<ChatRequest, ApiError> request = ParseChatRequest(body);
    if (const ApiError* error = std::get_if<ApiError>(&request)) return SendError(res, *error);
    std::variant<Job, ApiError> prepared = PrepareJob(std::get<ChatRequest>(request), options_.max_new_tokens);
    if (const ApiError* error = std::get_if<ApiError>(&prepared)) return SendError(res, *error);
    Job job = std::get<Job>(std::move(prepared));
    if (std::get<ChatRequest>(request).stream) return StreamCompletion(std::move(job), res);
    if (!job.run_model) return SendJson(res, 200, CompletionJson(NewMeta(), NoCallOutput(), Usage{}));

    GenerateOptions options = OptionsFor(job);
    options.on_token = [this](int32_t, std::string_view) { return !stopping_; };
    absl::StatusOr<GenerateResult> result = caller_->Generate(job.query, job.tools, options);
    if (!result.ok()) return SendError(res, ServerError(result.status()));
    if (result->stop == StopReason::kCallback) return SendError(res, ShuttingDown());
    const CompletionOutput output = InterpretOutput(result->text, result->stop == StopReason::kMaxTokens);
    SendJson(res, 200, CompletionJson(NewMeta(), output, UsageOf(*result)));
  }

  // Generation runs inside the content provider, so each call's name and
  // argument fragments go out as soon as they are decoded and clients can
  // time the first token.
  void StreamCompletion(Job job, httplib::Response& res) {
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream", [this, job = std::move(job), meta = NewMeta()](size_t, httplib::DataSink& sink) {
          auto send = [&sink](const Json& chunk) {
            const std::string event = SseEvent(chunk);
            return sink.write(event.data(), event.size());
          };
          auto finish = [&](const CompletionOutput& output, const Usage& usage) {
            send(FinalChunk(meta, output));
            if (job.include_usage) send(UsageChunk(meta, usage));
            sink.write(kSseDone.data(), kSseDone.size());
            sink.done();
            return true;
          };
          if (!send(RoleChunk(meta))) return false;
          if (!job.run_model) return finish(NoCallOutput(), Usage{});
          GenerateOptions options = OptionsFor(job);
          ToolCallStreamer streamer(meta);
          std::string generated;
          bool connected = true;
          options.on_token = [&](int32_t, std::string_view text) {
            generated += text;
            if (Json deltas = streamer.Update(generated); !deltas.empty()) {
              connected = send(ToolCallsChunk(meta, std::move(deltas)));
            }
            return connected && !stopping_;
          };
          absl::StatusOr<GenerateResult> result = caller_->Generate(job.query, job.tools, options);
          if (!connected) return false;
          if (!result.ok() || result->stop == StopReason::kCallback) {
            // The status line has gone out already; OpenAI streams report errors as an event.
            send(ErrorJson(result.ok() ? ShuttingDown() : ServerError(result.status())));
            sink.write(kSseDone.data(), kSseDone.size());
            sink.done();
            return true;
          }
          CompletionOutput output = InterpretOutput(result->text, result->stop == StopReason::kMaxTokens);
          if (streamer.calls_started() > 0) {
            // The calls went out as they were written; the parsed output
            // names the same calls, re-serialised.
          } else if (!output.calls.empty()) {
            send(ToolCallsChunk(meta, WholeToolCalls(meta, output.calls)));
          } else if (output.content) {
            send(ContentChunk(meta, *output.content));
          }
          return finish(output, UsageOf(*result));
        });
  }

  const std::shared_ptr<const ToolCaller> caller_;
  const ServerOptions options_;
  const int64_t created_;
  const std::string id_prefix_;
  std::atomic<uint64_t> next_id_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> listening_done_{false};
  std::mutex mutex_;  // Start and Stop
  ConnectionServer http_;
  std::thread listener_;
};

Server::Server(std::shared_ptr<const ToolCaller> caller, ServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(caller), std::move(options))) {}

Server::~Server() = default;

absl::StatusOr<int> Server::Start() { return impl_->Start(); }

void Server::Stop() { impl_->Stop(); }

}  // namespace needle::serve
