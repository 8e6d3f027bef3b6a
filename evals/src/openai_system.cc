// A model behind an OpenAI-compatible /v1/chat/completions endpoint.
//
// Each item is one request: the query as the only user message, the item's
// tools as "function" tools (upstream Needle parameters become a JSON Schema
// object), tool_choice "auto", temperature 0. Structured tool_calls are
// serialised with CallsToJson; without them the message content is the
// output, so servers that return Hermes <tool_call> or FunctionGemma text
// are parsed like any other model output.
//
// Streaming (the default) asks for usage in the stream and times the first
// token at the first chunk whose delta carries text or a tool call. The
// timeout applies to connecting and to each read and write, as httplib
// measures it, not to the whole request.
#include "needle/evals/openai_system.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <utility>

#include "elapsed.h"
#include "httplib.h"
#include "needle/evals/call.h"
#include "needle/str_cat.h"
#include "nlohmann/json.hpp"

namespace needle::evals {
namespace {

using OJson = nlohmann::ordered_json;

constexpr char kPath[] = "/v1/chat/completions";

std::string Excerpt(const std::string& text) { return text.size() > 500 ? text.substr(0, 500) + "..." : text; }

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

// JSON Schema has no BFCL-style type names; servers that compile schemas into
// grammars (llama.cpp) reject them.
void ToJsonSchemaTypes(OJson& schema) {
  static const std::map<std::string, std::string> kTypes = {
      {"float", "number"}, {"dict", "object"}, {"tuple", "array"}, {"int", "integer"},
      {"bool", "boolean"}, {"str", "string"},  {"list", "array"}};
  if (!schema.is_object()) return;
  if (auto type = schema.find("type"); type != schema.end() && type->is_string()) {
    if (*type == "any") {
      schema.erase(type);
    } else if (auto known = kTypes.find(type->get<std::string>()); known != kTypes.end()) {
      *type = known->second;
    }
  }
  if (auto items = schema.find("items"); items != schema.end()) ToJsonSchemaTypes(*items);
  if (auto properties = schema.find("properties"); properties != schema.end() && properties->is_object()) {
    for (auto& [name, property] : properties->items()) ToJsonSchemaTypes(property);
  }
}

// Upstream's "parameters" maps names to parameter objects; JSON Schema's has
// a string "type", or else "properties" that is not itself a parameter.
bool IsJsonSchema(const OJson& parameters) {
  if (auto type = parameters.find("type"); type != parameters.end()) return type->is_string();
  auto properties = parameters.find("properties");
  return properties != parameters.end() && properties->is_object() && !properties->contains("type");
}

// Upstream Needle tools -> OpenAI "function" tools. Upstream parameters map
// names to {"type","description","required":bool,...}; JSON Schema keeps the
// same objects under "properties" and lists the required names.
absl::StatusOr<OJson> OpenAiTools(const EvalItem& item) {
  const OJson tools =
      OJson::parse(item.tools_json.empty() ? std::string("[]") : item.tools_json, nullptr, /*allow_exceptions=*/false);
  if (tools.is_discarded() || !tools.is_array()) {
    return absl::InvalidArgumentError(StrCat("item \"", item.id, "\": tools_json is not a JSON list"));
  }
  OJson out = OJson::array();
  for (size_t i = 0; i < tools.size(); ++i) {
    const OJson& tool = tools[i];
    if (!tool.is_object() || !tool.contains("name")) {
      return absl::InvalidArgumentError(StrCat("item \"", item.id, "\": tools[", i, "] has no name"));
    }
    OJson function = {{"name", tool["name"]}};
    if (tool.contains("description")) function["description"] = tool["description"];
    OJson parameters = tool.contains("parameters") ? tool["parameters"] : OJson::object();
    if (parameters.is_null()) parameters = OJson::object();
    if (!parameters.is_object()) {
      return absl::InvalidArgumentError(StrCat("item \"", item.id, "\": tools[", i, "].parameters is not an object"));
    }
    if (!IsJsonSchema(parameters)) {
      OJson properties = OJson::object();
      OJson required = OJson::array();
      for (auto& [key, spec] : parameters.items()) {
        OJson property = spec;
        if (property.is_object()) {
          if (property.contains("required") && property["required"] == true) required.push_back(key);
          property.erase("required");
        }
        properties[key] = std::move(property);
      }
      parameters = {{"type", "object"}, {"properties", std::move(properties)}, {"required", std::move(required)}};
    }
    ToJsonSchemaTypes(parameters);
    function["parameters"] = std::move(parameters);
    out.push_back({{"type", "function"}, {"function", std::move(function)}});
  }
  return out;
}

// Tool calls as OpenAI sends them, arguments still a JSON string.
struct RawCall {
  std::string name;
  std::string arguments;
};

// CallsToJson needs argument objects; arguments that are not a JSON object
// are passed on as the string they were, which ParseOutput then reports as
// unreadable instead of this system inventing a call.
std::string CallsText(const std::vector<RawCall>& raw_calls) {
  std::vector<ToolCall> calls;
  for (const RawCall& raw : raw_calls) {
    nlohmann::json arguments = nlohmann::json::parse(raw.arguments.empty() ? std::string("{}") : raw.arguments, nullptr,
                                                     /*allow_exceptions=*/false);
    if (arguments.is_discarded() || !arguments.is_object()) {
      OJson text = OJson::array();
      for (const RawCall& call : raw_calls) text.push_back({{"name", call.name}, {"arguments", call.arguments}});
      return text.dump(-1, ' ', false, OJson::error_handler_t::replace);
    }
    calls.push_back(ToolCall{raw.name, std::move(arguments)});
  }
  return CallsToJson(calls);
}

// Servers send "arguments" as a JSON string (OpenAI) or, some, as an object.
std::string ArgumentsText(const nlohmann::json& arguments) {
  if (arguments.is_string()) return arguments.get<std::string>();
  if (arguments.is_null()) return "";
  return arguments.dump();
}

// An integer field of an object, or `otherwise` when missing or not an integer.
int IntField(const nlohmann::json& object, const char* key, int otherwise) {
  if (!object.is_object()) return otherwise;
  auto value = object.find(key);
  return value != object.end() && value->is_number_integer() ? value->get<int>() : otherwise;
}

std::string ContentText(const nlohmann::json& content) {
  if (content.is_string()) return content.get<std::string>();
  std::string text;
  if (content.is_array()) {
    for (const nlohmann::json& part : content) {
      if (part.is_object() && part.contains("text") && part["text"].is_string()) {
        text += part["text"].get<std::string>();
      }
    }
  }
  return text;
}

// Accumulates a server-sent event stream.
class StreamReader {
 public:
  explicit StreamReader(Clock::time_point start) : start_(start) {}

  // Takes the next bytes of the body; false with error() set on a bad event.
  bool Feed(const char* data, size_t size) {
    buffer_.append(data, size);
    size_t end;
    while ((end = EventEnd()) != std::string::npos) {
      const std::string event = buffer_.substr(0, end);
      buffer_.erase(0, end + (buffer_.compare(end, 4, "\r\n\r\n") == 0 ? 4 : 2));
      if (!Event(event)) return false;
    }
    return true;
  }

  // Complete once "[DONE]" came, or a finish_reason for servers that end without it.
  bool complete() const { return done_ || finished_; }
  const std::string& error() const { return error_; }
  double ttft_ms() const { return ttft_ms_; }
  int completion_tokens() const { return completion_tokens_; }
  std::string Text() const {
    if (calls_.empty()) return content_;
    std::vector<RawCall> calls;
    for (const auto& [index, call] : calls_) calls.push_back(call);
    return CallsText(calls);
  }

 private:
  size_t EventEnd() const {
    const size_t lf = buffer_.find("\n\n"), crlf = buffer_.find("\r\n\r\n");
    return std::min(lf, crlf);
  }

  bool Event(const std::string& event) {
    std::string data;
    size_t start = 0;
    while (start < event.size()) {
      size_t end = event.find('\n', start);
      if (end == std::string::npos) end = event.size();
      std::string line = event.substr(start, end - start);
      start = end + 1;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.rfind("data:", 0) != 0) continue;  // comments, "event:", "id:"
      line.erase(0, line.size() > 5 && line[5] == ' ' ? 6 : 5);
      data += data.empty() ? line : "\n" + line;
    }
    if (data.empty()) return true;
    if (data == "[DONE]") {
      done_ = true;
      return true;
    }
    const nlohmann::json chunk = nlohmann::json::parse(data, nullptr, /*allow_exceptions=*/false);
    if (chunk.is_discarded() || !chunk.is_object()) return Fail(StrCat("stream event is not JSON: ", Excerpt(data)));
    if (chunk.contains("error")) return Fail(StrCat("stream reported an error: ", Excerpt(data)));
    if (auto usage = chunk.find("usage"); usage != chunk.end()) {
      completion_tokens_ = IntField(*usage, "completion_tokens", completion_tokens_);
    }
    auto choices = chunk.find("choices");
    if (choices == chunk.end() || !choices->is_array() || choices->empty() || !(*choices)[0].is_object()) return true;
    const nlohmann::json& choice = (*choices)[0];
    if (choice.contains("finish_reason") && choice["finish_reason"].is_string()) finished_ = true;
    if (!choice.contains("delta") || !choice["delta"].is_object()) return true;
    const nlohmann::json& delta = choice["delta"];
    bool first_output = false;
    if (auto content = delta.find("content"); content != delta.end()) {
      const std::string text = ContentText(*content);
      content_ += text;
      first_output = !text.empty();
    }
    if (auto tool_calls = delta.find("tool_calls"); tool_calls != delta.end() && tool_calls->is_array()) {
      for (const nlohmann::json& fragment : *tool_calls) {
        if (!fragment.is_object()) continue;
        // OpenAI sends a call's name once and its arguments in pieces, all keyed by index.
        RawCall& call = calls_[IntField(fragment, "index", static_cast<int>(calls_.size()))];
        auto function = fragment.find("function");
        if (function == fragment.end() || !function->is_object()) continue;
        if (auto name = function->find("name");
            name != function->end() && name->is_string() && !name->get_ref<const std::string&>().empty()) {
          call.name = name->get<std::string>();
        }
        if (auto arguments = function->find("arguments"); arguments != function->end()) {
          call.arguments += ArgumentsText(*arguments);
        }
        first_output = true;
      }
    }
    if (first_output && ttft_ms_ < 0) ttft_ms_ = MillisecondsSince(start_);
    return true;
  }

  bool Fail(std::string error) {
    error_ = std::move(error);
    return false;
  }

  const Clock::time_point start_;
  std::string buffer_;
  std::string content_;
  std::map<int, RawCall> calls_;
  bool done_ = false;
  bool finished_ = false;
  std::string error_;
  double ttft_ms_ = -1;
  int completion_tokens_ = -1;
};

// A whole (non-streamed) chat.completion object.
absl::StatusOr<Prediction> ReadCompletion(const std::string& body) {
  const nlohmann::json response = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (response.is_discarded() || !response.is_object()) {
    return absl::DataLossError(StrCat("response is not a JSON object: ", Excerpt(body)));
  }
  auto choices = response.find("choices");
  if (choices == response.end() || !choices->is_array() || choices->empty() || !(*choices)[0].is_object() ||
      !(*choices)[0].contains("message") || !(*choices)[0]["message"].is_object()) {
    return absl::DataLossError(StrCat("response has no choices[0].message: ", Excerpt(body)));
  }
  const nlohmann::json& message = (*choices)[0]["message"];
  Prediction prediction;
  std::vector<RawCall> calls;
  if (auto tool_calls = message.find("tool_calls"); tool_calls != message.end() && tool_calls->is_array()) {
    for (const nlohmann::json& call : *tool_calls) {
      const nlohmann::json* function = call.is_object() && call.contains("function") ? &call["function"] : nullptr;
      if (function == nullptr || !function->is_object() || !function->contains("name") ||
          !(*function)["name"].is_string()) {
        return absl::DataLossError(StrCat("a tool call has no function.name: ", Excerpt(body)));
      }
      RawCall raw{(*function)["name"].get<std::string>(), ""};
      if (function->contains("arguments")) raw.arguments = ArgumentsText((*function)["arguments"]);
      calls.push_back(std::move(raw));
    }
  }
  if (!calls.empty()) {
    prediction.text = CallsText(calls);
  } else {
    auto content = message.find("content");
    prediction.text = content == message.end() || content->is_null() ? "[]" : ContentText(*content);
  }
  if (auto usage = response.find("usage"); usage != response.end()) {
    prediction.output_tokens = IntField(*usage, "completion_tokens", -1);
  }
  return prediction;
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
    body["messages"] = OJson::array({{{"role", "user"}, {"content", item.query}}});
    if (!tools->empty()) {
      body["tools"] = *std::move(tools);
      body["tool_choice"] = "auto";
    }
    body["temperature"] = 0;
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
    StreamReader stream(start);
    request.response_handler = [&](const httplib::Response& response) {
      status = response.status;
      event_stream = response.get_header_value("Content-Type").rfind("text/event-stream", 0) == 0;
      return true;
    };
    request.content_receiver = [&](const char* data, size_t size, uint64_t, uint64_t) {
      if (event_stream && status / 100 == 2) return stream.Feed(data, size);
      response_body.append(data, size);
      return true;
    };
    httplib::Result result = client.send(request);
    const double latency_ms = MillisecondsSince(start);

    const std::string where = StrCat(options_.name, ": POST ", endpoint_.scheme_host_port, endpoint_.path);
    if (!stream.error().empty()) return absl::DataLossError(StrCat(where, ": ", stream.error()));
    if (!result) return absl::UnavailableError(StrCat(where, " failed: ", httplib::to_string(result.error())));
    if (status / 100 != 2) {
      return absl::UnavailableError(StrCat(where, " returned HTTP ", status, ": ", Excerpt(response_body)));
    }
    absl::StatusOr<Prediction> prediction = Prediction();
    if (event_stream) {
      if (!stream.complete()) {
        return absl::DataLossError(StrCat(where, ": the stream ended without a finish_reason or \"data: [DONE]\""));
      }
      prediction->text = stream.Text();
      prediction->ttft_ms = stream.ttft_ms();
      prediction->output_tokens = stream.completion_tokens();
    } else {
      prediction = ReadCompletion(response_body);
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
