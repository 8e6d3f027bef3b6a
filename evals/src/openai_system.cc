// A model behind an OpenAI-compatible /v1/chat/completions endpoint.
//
// Each item is one request: the item's conversation as the dataset gives it
// (system prompts and earlier turns kept; else the query as the only user
// message), its tools as "function" tools with the dataset's JSON Schema kept
// whole (evals::OpenAiTools), tool_choice "auto", temperature 0, max_tokens when set
// (needle-eval sends its --max_new_tokens, the limit Needle itself gets). Structured tool_calls are
// serialised with CallsToJson; without them the message content is the
// output, so servers that return Hermes <tool_call> or FunctionGemma text
// are parsed like any other model output.
//
// Streaming (the default) asks for usage in the stream and times the first
// token at the first chunk whose delta carries text or a tool call. The
// timeout applies to connecting, to each read and write, and to the whole
// request: a server that streams without end is cut off when it runs out.
#include "needle/evals/openai_system.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <utility>

#include "elapsed.h"
#include "httplib.h"
#include "needle/evals/openai_response.h"
#include "needle/json.h"
#include "needle/str_cat.h"
#include "nlohmann/json.hpp"

namespace needle::evals {
namespace {

using OJson = nlohmann::ordered_json;

constexpr char kPath[] = "/v1/chat/completions";
// A whole (not streamed) response or error body larger than this is refused
// rather than held in memory.
constexpr size_t kMaxResponseBytes = 64 << 20;

// base_url split into what httplib::Client takes and the path prefix.
struct Endpoint {
  std::string scheme_host_port;  // "http://host:port"
  std::string path;              // prefix + kPath
};

absl::StatusOr<Endpoint> ParseBaseUrl(const std::string& base_url) {
  const size_t scheme_end = base_url.find("://");
  if (scheme_end == std::string::npos) {
    return absl::InvalidArgumentError(StrCat("base_url \"", base_url, "\": expected http://HOST[:PORT][/PATH]"));
  }
  const std::string scheme = base_url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") {
    return absl::InvalidArgumentError(
        StrCat("base_url \"", base_url, "\": unsupported scheme \"", scheme, "\" (http or https)"));
  }
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
  if (scheme == "https") {
    return absl::UnimplementedError(
        StrCat("base_url \"", base_url, "\": https needs cpp-httplib built with OpenSSL, and this one is not"));
  }
#endif
  const size_t host_start = scheme_end + 3;
  const size_t path_start = base_url.find('/', host_start);
  const std::string host_port = base_url.substr(host_start, path_start - host_start);
  if (host_port.empty()) return absl::InvalidArgumentError(StrCat("base_url \"", base_url, "\": no host"));
  std::string prefix = path_start == std::string::npos ? "" : base_url.substr(path_start);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  return Endpoint{StrCat(scheme, "://", host_port), prefix + kPath};
}

class OpenAiSystem : public System {
 public:
  OpenAiSystem(OpenAiOptions options, Endpoint endpoint)
      : options_(std::move(options)), endpoint_(std::move(endpoint)) {}

  const std::string& name() const override { return options_.name; }

  absl::StatusOr<Prediction> Predict(const EvalItem& item) const override {
    absl::StatusOr<OJson> tools = OpenAiTools(item);
    if (!tools.ok()) return tools.status();
    OJson body = OJson::object();
    if (!options_.model.empty()) body["model"] = options_.model;
    body["messages"] = ChatMessages(item);
    if (!tools->empty()) {
      body["tools"] = *std::move(tools);
      body["tool_choice"] = "auto";
    }
    body["temperature"] = 0;
    if (options_.max_tokens > 0) body["max_tokens"] = options_.max_tokens;
    body["stream"] = options_.stream;
    if (options_.stream) body["stream_options"] = {{"include_usage", true}};

    // A client per request: httplib clients are not meant to be shared between threads.
    httplib::Client client(endpoint_.scheme_host_port);
    const auto timeout = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::duration<double>(std::min(options_.timeout_seconds, 1e7)));  // no overflow
    client.set_connection_timeout(timeout);
    client.set_read_timeout(timeout);
    client.set_write_timeout(timeout);
    if (!options_.api_key.empty()) client.set_bearer_token_auth(options_.api_key);

    httplib::Request request;
    request.method = "POST";
    request.path = endpoint_.path;
    request.body = body.dump(-1, ' ', false, OJson::error_handler_t::replace);
    request.set_header("Content-Type", "application/json");
    request.set_header("Accept", options_.stream ? "text/event-stream" : "application/json");
    const Clock::time_point start = Clock::now();
    int status = 0;
    bool event_stream = false;  // a server may answer a streaming request with one JSON object
    std::string response_body;  // non-streamed responses and errors
    ChatStreamReader stream(start);
    request.response_handler = [&](const httplib::Response& response) {
      status = response.status;
      event_stream = response.get_header_value("Content-Type").rfind("text/event-stream", 0) == 0;
      return true;
    };
    const Clock::time_point deadline = start + timeout;
    bool out_of_time = false, too_large = false;
    request.content_receiver = [&](const char* data, size_t size, uint64_t, uint64_t) {
      if (Clock::now() > deadline) {
        out_of_time = true;
        return false;
      }
      if (event_stream && status / 100 == 2) return stream.Feed(data, size);
      if (response_body.size() + size > kMaxResponseBytes) {
        too_large = true;
        return false;
      }
      response_body.append(data, size);
      return true;
    };
    httplib::Result result = client.send(request);
    const double latency_ms = MillisecondsSince(start);

    const std::string where = StrCat(options_.name, ": POST ", endpoint_.scheme_host_port, endpoint_.path);
    if (out_of_time) {
      return absl::DeadlineExceededError(
          StrCat(where, ": the response did not end within the timeout of ", options_.timeout_seconds, " s"));
    }
    if (too_large) {
      return absl::DataLossError(StrCat(where, ": the response is larger than ", kMaxResponseBytes, " bytes"));
    }
    if (!stream.error().empty()) return absl::DataLossError(StrCat(where, ": ", stream.error()));
    if (!result) return absl::UnavailableError(StrCat(where, " failed: ", httplib::to_string(result.error())));
    if (status / 100 != 2) {
      return absl::UnavailableError(StrCat(where, " returned HTTP ", status, ": ", ResponseExcerpt(response_body)));
    }
    absl::StatusOr<Prediction> prediction = Prediction();
    if (event_stream) {
      if (!stream.complete()) {
        return absl::DataLossError(StrCat(where, ": the stream ended without a finish_reason or \"data: [DONE]\""));
      }
      prediction->text = stream.Text();
      prediction->ttft_ms = stream.ttft_ms();
      prediction->output_tokens = stream.completion_tokens();
      prediction->input_truncated = stream.input_truncated();
    } else {
      prediction = ReadChatCompletion(response_body);
      if (!prediction.ok()) return absl::DataLossError(StrCat(where, ": ", std::string(prediction.status().message())));
    }
    prediction->latency_ms = latency_ms;
    return prediction;
  }

 private:
  const OpenAiOptions options_;
  const Endpoint endpoint_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<System>> MakeOpenAiSystem(const OpenAiOptions& options) {
  absl::StatusOr<Endpoint> endpoint = ParseBaseUrl(options.base_url);
  if (!endpoint.ok()) return endpoint.status();
  if (!(options.timeout_seconds > 0)) {
    return absl::InvalidArgumentError(StrCat("timeout_seconds must be > 0, got ", options.timeout_seconds));
  }
  return std::make_unique<OpenAiSystem>(options, *std::move(endpoint));
}

}  // namespace needle::evals
