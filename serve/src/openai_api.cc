#include "needle/serve/openai_api.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "needle/json.h"
#include "needle/json_string_scanner.h"
#include "needle/str_cat.h"
#include "needle/toolcalls/call.h"

namespace needle::serve {
namespace {

using toolcalls::ToolCall;

// Ordered, so that tools reach the prompt with their parameters in the
// client's order, as they do from a dataset file.
using BodyJson = nlohmann::ordered_json;

ApiError BadField(std::string param, std::string message) {
  ApiError error;
  error.message = StrCat(param, ": ", message);
  error.param = std::move(param);
  return error;
}

// The JSON type name a client would use, for "expected X, got Y".
std::string TypeName(const BodyJson& value) {
  if (value.is_number_integer()) return "integer";
  if (value.is_number()) return "number";
  return value.type_name();
}

std::string Got(const BodyJson& value) { return StrCat("got ", TypeName(value)); }

// A message's text: a string, or an array of {"type":"text","text":...}
// parts (joined by newlines). Null is no text.
std::optional<ApiError> ReadContent(const BodyJson& content, const std::string& where, std::string* text) {
  if (content.is_null()) return std::nullopt;
  if (content.is_string()) {
    *text = content.get<std::string>();
    return std::nullopt;
  }
  if (!content.is_array()) {
    return BadField(where, StrCat("expected a string or an array of text parts, ", Got(content)));
  }
  text->clear();
  for (size_t j = 0; j < content.size(); ++j) {
    const BodyJson& part = content[j];
    const std::string part_where = StrCat(where, "[", j, "]");
    if (!part.is_object()) return BadField(part_where, StrCat("expected an object, ", Got(part)));
    auto type = part.find("type");
    if (type == part.end() || !type->is_string()) return BadField(part_where + ".type", "expected a string");
    if (*type != "text") {
      return BadField(part_where + ".type",
                      StrCat("only \"text\" parts are supported, got \"", type->get<std::string>(), "\""));
    }
    auto part_text = part.find("text");
    if (part_text == part.end() || !part_text->is_string()) return BadField(part_where + ".text", "expected a string");
    if (j > 0) *text += '\n';
    *text += part_text->get<std::string>();
  }
  return std::nullopt;
}

std::optional<ApiError> ReadMessages(const BodyJson& body, ChatRequest* request) {
  auto messages = body.find("messages");
  if (messages == body.end()) return BadField("messages", "required");
  if (!messages->is_array()) return BadField("messages", StrCat("expected an array, ", Got(*messages)));
  if (messages->empty()) return BadField("messages", "must hold at least one message");
  bool has_user = false;
  for (size_t i = 0; i < messages->size(); ++i) {
    const BodyJson& message = (*messages)[i];
    const std::string where = StrCat("messages[", i, "]");
    if (!message.is_object()) return BadField(where, StrCat("expected an object, ", Got(message)));
    auto role = message.find("role");
    if (role == message.end() || !role->is_string()) return BadField(where + ".role", "expected a string");
    const std::string role_name = role->get<std::string>();
    if (role_name != "system" && role_name != "developer" && role_name != "user" && role_name != "assistant" &&
        role_name != "tool" && role_name != "function") {
      return BadField(where + ".role", StrCat("unknown role \"", role_name, "\""));
    }
    std::string text;
    auto content = message.find("content");
    if (content == message.end()) {
      // Assistant turns that only called tools carry no content.
      if (role_name == "user") return BadField(where + ".content", "required");
    } else if (std::optional<ApiError> error = ReadContent(*content, where + ".content", &text)) {
      return error;
    }
    if (role_name == "user") {
      request->query = std::move(text);
      has_user = true;
    }
    request->ends_with_tool_result = role_name == "tool" || role_name == "function";
  }
  if (!has_user) return BadField("messages", "no message has role \"user\"; its content is the query");
  return std::nullopt;
}

std::optional<ApiError> ReadTools(const BodyJson& body, ChatRequest* request) {
  auto tools = body.find("tools");
  if (tools == body.end() || tools->is_null()) return std::nullopt;
  if (!tools->is_array()) return BadField("tools", StrCat("expected an array, ", Got(*tools)));
  for (size_t i = 0; i < tools->size(); ++i) {
    const BodyJson& tool = (*tools)[i];
    const std::string where = StrCat("tools[", i, "]");
    if (!tool.is_object()) return BadField(where, StrCat("expected an object, ", Got(tool)));
    auto type = tool.find("type");
    if (type == tool.end() || *type != "function") {
      return BadField(where + ".type", "expected \"function\" (the only tool type Needle can call)");
    }
    auto function = tool.find("function");
    if (function == tool.end() || !function->is_object()) return BadField(where + ".function", "expected an object");
    auto name = function->find("name");
    if (name == function->end() || !name->is_string() || name->get<std::string>().empty()) {
      return BadField(where + ".function.name", "expected a non-empty string");
    }
    auto description = function->find("description");
    if (description != function->end() && !description->is_string() && !description->is_null()) {
      return BadField(where + ".function.description", StrCat("expected a string, ", Got(*description)));
    }
    auto parameters = function->find("parameters");
    if (parameters != function->end() && !parameters->is_object() && !parameters->is_null()) {
      return BadField(where + ".function.parameters", StrCat("expected a JSON Schema object, ", Got(*parameters)));
    }
    request->tools.push_back(tool);
  }
  return std::nullopt;
}

std::optional<ApiError> ReadToolChoice(const BodyJson& body, ChatRequest* request) {
  auto choice = body.find("tool_choice");
  if (choice == body.end() || choice->is_null()) return std::nullopt;
  if (choice->is_string()) {
    const std::string mode = choice->get<std::string>();
    if (mode == "auto") {
      request->tool_choice = ToolChoice::kAuto;
    } else if (mode == "required") {
      request->tool_choice = ToolChoice::kRequired;
    } else if (mode == "none") {
      request->tool_choice = ToolChoice::kNone;
    } else {
      return BadField("tool_choice",
                      StrCat("expected \"none\", \"auto\", \"required\" or an object, got \"", mode, "\""));
    }
    return std::nullopt;
  }
  if (!choice->is_object()) return BadField("tool_choice", StrCat("expected a string or an object, ", Got(*choice)));
  auto type = choice->find("type");
  if (type == choice->end() || *type != "function") return BadField("tool_choice.type", "expected \"function\"");
  auto function = choice->find("function");
  if (function == choice->end() || !function->is_object()) {
    return BadField("tool_choice.function", "expected an object");
  }
  auto name = function->find("name");
  if (name == function->end() || !name->is_string()) return BadField("tool_choice.function.name", "expected a string");
  request->tool_choice = ToolChoice::kFunction;
  request->tool_choice_name = name->get<std::string>();
  for (const BodyJson& tool : request->tools) {
    if (tool["function"]["name"] == request->tool_choice_name) return std::nullopt;
  }
  return BadField("tool_choice.function.name", StrCat("no tool named \"", request->tool_choice_name, "\" in tools"));
}

std::optional<ApiError> CheckRequiredChoice(const BodyJson&, ChatRequest* request) {
  if (request->tool_choice == ToolChoice::kRequired && request->tools.empty()) {
    return BadField("tool_choice", "\"required\" needs at least one tool in tools");
  }
  return std::nullopt;
}

// Parameters that would make a sampling decoder differ from greedy decoding,
// each with the test that its value asks for nothing more than greedy does.
struct SamplingParam {
  const char* name;
  bool (*greedy)(const BodyJson& value);
  const char* accepted;
};

constexpr SamplingParam kSamplingParams[] = {
    {"temperature", [](const BodyJson& v) { return v.is_number() && v.get<double>() == 0; }, "0"},
    {"top_p", [](const BodyJson& v) { return v.is_number() && v.get<double>() == 1; }, "1"},
    {"frequency_penalty", [](const BodyJson& v) { return v.is_number() && v.get<double>() == 0; }, "0"},
    {"presence_penalty", [](const BodyJson& v) { return v.is_number() && v.get<double>() == 0; }, "0"},
    {"logit_bias", [](const BodyJson& v) { return v.is_object() && v.empty(); }, "{}"},
    {"logprobs", [](const BodyJson& v) { return v.is_boolean() && !v.get<bool>(); }, "false"},
    {"top_logprobs", [](const BodyJson& v) { return v.is_number_integer() && v.get<int64_t>() == 0; }, "0"},
    {"stop", [](const BodyJson& v) { return (v.is_array() && v.empty()); }, "[]"},
    {"response_format", [](const BodyJson& v) { return v.is_object() && v.value("type", "") == "text"; },
     "{\"type\":\"text\"}"},
    {"n", [](const BodyJson& v) { return v.is_number_integer() && v.get<int64_t>() == 1; }, "1"},
    {"parallel_tool_calls", [](const BodyJson& v) { return v.is_boolean() && v.get<bool>(); }, "true"},
};

std::optional<ApiError> RefuseUnsupported(const BodyJson& body, ChatRequest*) {
  for (const char* legacy : {"functions", "function_call"}) {
    if (auto field = body.find(legacy); field != body.end() && !field->is_null()) {
      return BadField(legacy,
                      "the legacy functions API is not supported; send \"tools\": [{\"type\":\"function\","
                      "\"function\":{...}}] and \"tool_choice\" instead");
    }
  }
  for (const SamplingParam& param : kSamplingParams) {
    auto value = body.find(param.name);
    if (value == body.end() || value->is_null() || param.greedy(*value)) continue;
    return BadField(param.name, StrCat("needle-serve decodes greedily and cannot honour ", value->dump(),
                                       "; leave it out or send ", param.accepted));
  }
  return std::nullopt;
}

std::optional<ApiError> ReadOptions(const BodyJson& body, ChatRequest* request) {
  if (auto model = body.find("model"); model != body.end() && !model->is_null()) {
    if (!model->is_string()) return BadField("model", StrCat("expected a string, ", Got(*model)));
    request->model = model->get<std::string>();
  }
  if (auto stream = body.find("stream"); stream != body.end() && !stream->is_null()) {
    if (!stream->is_boolean()) return BadField("stream", StrCat("expected a boolean, ", Got(*stream)));
    request->stream = stream->get<bool>();
  }
  if (auto options = body.find("stream_options"); options != body.end() && !options->is_null()) {
    if (!options->is_object()) return BadField("stream_options", StrCat("expected an object, ", Got(*options)));
    if (auto usage = options->find("include_usage"); usage != options->end() && !usage->is_null()) {
      if (!usage->is_boolean()) {
        return BadField("stream_options.include_usage", StrCat("expected a boolean, ", Got(*usage)));
      }
      request->include_usage = usage->get<bool>();
    }
  }
  // max_completion_tokens replaced max_tokens in OpenAI's API; it wins when both are sent.
  for (const char* field : {"max_tokens", "max_completion_tokens"}) {
    auto limit = body.find(field);
    if (limit == body.end() || limit->is_null()) continue;
    if (!limit->is_number_integer()) return BadField(field, StrCat("expected an integer, ", Got(*limit)));
    // nlohmann reads every non-negative integer as unsigned; read as signed,
    // 2^64-1 was reported as -1.
    if (!limit->is_number_unsigned() || limit->get<uint64_t>() < 1) {
      return BadField(field, StrCat("must be at least 1, got ", limit->dump()));
    }
    request->max_tokens = static_cast<int>(std::min<uint64_t>(limit->get<uint64_t>(), INT32_MAX));
  }
  return std::nullopt;
}

Json ChunkJson(const CompletionMeta& meta, Json delta, const std::string& finish_reason) {
  Json choice = {{"index", 0}, {"delta", std::move(delta)}, {"finish_reason", nullptr}};
  if (!finish_reason.empty()) choice["finish_reason"] = finish_reason;
  return {{"id", meta.id},
          {"object", "chat.completion.chunk"},
          {"created", meta.created},
          {"model", meta.model},
          {"choices", Json::array({std::move(choice)})}};
}

std::string CallIdPrefix(const CompletionMeta& meta) { return StrCat("call_", meta.id, "_"); }

// Streamed tool calls carry their position as "index"; whole messages do not.
Json ToolCallsJson(const CompletionMeta& meta, const std::vector<ResponseCall>& calls, bool streamed) {
  Json out = Json::array();
  for (size_t i = 0; i < calls.size(); ++i) {
    Json call;
    if (streamed) call["index"] = i;
    call["id"] = StrCat(CallIdPrefix(meta), i);
    call["type"] = "function";
    call["function"] = {{"name", calls[i].name}, {"arguments", calls[i].arguments}};
    out.push_back(std::move(call));
  }
  return out;
}

// A call as far as it has been written: `[{"name":"...","arguments":{...}}, ...]`.
struct PartialCall {
  std::optional<std::string> name;  // once its string is complete
  size_t arguments_begin = std::string_view::npos;
  size_t arguments_end = std::string_view::npos;  // npos while the value is still being written
};

// Reads the calls of a Needle output that may stop anywhere. Only keys of the
// call objects (depth 2) are looked at; strings are skipped whole, so brackets
// and keys inside argument values are data.
std::vector<PartialCall> ScanCalls(std::string_view text) {
  std::vector<PartialCall> calls;
  int depth = 0;
  JsonStringScanner strings;
  bool expect_key = false;
  std::string key;  // the depth-2 key whose value comes next or is being read
  size_t string_begin = 0, value_begin = std::string_view::npos;
  auto decode = [&](size_t end) -> std::optional<std::string> {
    absl::StatusOr<nlohmann::json> literal = ParseJson(text.substr(string_begin, end + 1 - string_begin));
    if (!literal.ok() || !literal->is_string()) return std::nullopt;
    return literal->get<std::string>();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (strings.inside()) {
      strings.Feed(c);
      if (!strings.inside()) {  // the closing quote
        if (depth == 2 && expect_key) {
          key = decode(i).value_or("");
        } else if (depth == 2 && key == "name" && !calls.empty()) {
          calls.back().name = decode(i);
        }
      }
      continue;
    }
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') continue;
    if (depth == 2 && !expect_key && value_begin == std::string_view::npos && c != ',' && c != '}' && c != ':') {
      value_begin = i;
      if (key == "arguments" && !calls.empty()) calls.back().arguments_begin = i;
    }
    switch (c) {
      case '"':
        strings.Feed(c);
        string_begin = i;
        break;
      case '[':
      case '{':
        ++depth;
        if (depth == 2 && c == '{') {
          calls.emplace_back();
          expect_key = true;
        }
        break;
      case ']':
      case '}':
        if (depth == 2 && c == '}' && value_begin != std::string_view::npos && key == "arguments") {
          calls.back().arguments_end = i;
        }
        --depth;
        if (depth < 2) value_begin = std::string_view::npos;
        break;
      case ':':
        if (depth == 2) expect_key = false;
        break;
      case ',':
        if (depth == 2) {
          if (value_begin != std::string_view::npos && key == "arguments") calls.back().arguments_end = i;
          expect_key = true;
          value_begin = std::string_view::npos;
          key.clear();
        }
        break;
      default:
        break;
    }
  }
  return calls;
}

// A call's arguments as written so far, without the whitespace after them.
std::string_view ArgumentsText(std::string_view text, const PartialCall& call) {
  const size_t end = call.arguments_end == std::string_view::npos ? text.size() : call.arguments_end;
  std::string_view arguments = text.substr(call.arguments_begin, end - call.arguments_begin);
  while (!arguments.empty() && (arguments.back() == ' ' || arguments.back() == '\n' || arguments.back() == '\r' ||
                                arguments.back() == '\t')) {
    arguments.remove_suffix(1);
  }
  return arguments;
}

Json UsageJson(const Usage& usage) {
  Json json = {{"prompt_tokens", usage.prompt_tokens},
               {"completion_tokens", usage.completion_tokens},
               {"total_tokens", usage.prompt_tokens + usage.completion_tokens}};
  if (usage.query_truncated || usage.tools_truncated) {
    json["truncated"] = {{"query", usage.query_truncated}, {"tools", usage.tools_truncated}};
  }
  return json;
}

}  // namespace

std::variant<ChatRequest, ApiError> ParseChatRequest(std::string_view body_text) {
  absl::StatusOr<BodyJson> parsed = ParseJson<BodyJson>(body_text);
  if (!parsed.ok()) {
    ApiError error;
    error.message = StrCat("request body is not valid JSON: ", std::string(parsed.status().message()));
    return error;
  }
  const BodyJson body = *std::move(parsed);
  if (!body.is_object()) {
    ApiError error;
    error.message = StrCat("request body must be a JSON object, ", Got(body));
    return error;
  }
  ChatRequest request;
  for (auto read : {RefuseUnsupported, ReadOptions, ReadMessages, ReadTools, ReadToolChoice, CheckRequiredChoice}) {
    if (std::optional<ApiError> error = read(body, &request)) return *std::move(error);
  }
  return request;
}

bool NeedsModel(const ChatRequest& request) {
  return !request.tools.empty() && request.tool_choice != ToolChoice::kNone && !request.ends_with_tool_result;
}

CompletionOutput InterpretOutput(std::string_view text, bool hit_token_limit) {
  CompletionOutput output;
  toolcalls::ParsedOutput parsed = toolcalls::ParseOutput(text);
  if (parsed.parsed) {
    for (const ToolCall& call : parsed.calls) {
      output.calls.push_back(
          {call.name, call.arguments.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
    }
  } else {
    for (const PartialCall& call : ScanCalls(text)) {
      if (!call.name) break;
      ResponseCall& partial = output.calls.emplace_back(ResponseCall{*call.name, ""});
      if (call.arguments_begin != std::string_view::npos) partial.arguments = std::string(ArgumentsText(text, call));
    }
    if (output.calls.empty()) output.content = std::string(text);
  }
  output.finish_reason = hit_token_limit ? "length" : output.calls.empty() ? "stop" : "tool_calls";
  return output;
}

CompletionOutput NoCallOutput() { return CompletionOutput{std::nullopt, {}, "stop"}; }

Json CompletionJson(const CompletionMeta& meta, const CompletionOutput& output, const Usage& usage) {
  Json message = {{"role", "assistant"}, {"content", nullptr}};
  if (output.content) message["content"] = *output.content;
  if (!output.calls.empty()) message["tool_calls"] = ToolCallsJson(meta, output.calls, /*streamed=*/false);
  Json choice = {{"index", 0}, {"message", std::move(message)}, {"finish_reason", output.finish_reason}};
  return {{"id", meta.id},
          {"object", "chat.completion"},
          {"created", meta.created},
          {"model", meta.model},
          {"choices", Json::array({std::move(choice)})},
          {"usage", UsageJson(usage)}};
}

Json RoleChunk(const CompletionMeta& meta) {
  return ChunkJson(meta, {{"role", "assistant"}, {"content", nullptr}}, "");
}

Json ContentChunk(const CompletionMeta& meta, std::string_view text) {
  return ChunkJson(meta, {{"content", std::string(text)}}, "");
}

Json ToolCallsChunk(const CompletionMeta& meta, Json tool_call_deltas) {
  return ChunkJson(meta, {{"tool_calls", std::move(tool_call_deltas)}}, "");
}

Json WholeToolCalls(const CompletionMeta& meta, const std::vector<ResponseCall>& calls) {
  return ToolCallsJson(meta, calls, /*streamed=*/true);
}

Json FinalChunk(const CompletionMeta& meta, const CompletionOutput& output) {
  return ChunkJson(meta, Json::object(), output.finish_reason);
}

ToolCallStreamer::ToolCallStreamer(const CompletionMeta& meta) : id_prefix_(CallIdPrefix(meta)) {}

Json ToolCallStreamer::Update(std::string_view text) {
  Json deltas = Json::array();
  const std::vector<PartialCall> calls = ScanCalls(text);
  for (size_t i = 0; i < calls.size(); ++i) {
    if (i == sent_.size()) {
      // Calls go out in order, each once its name is known.
      if (!calls[i].name) break;
      deltas.push_back({{"index", i},
                        {"id", StrCat(id_prefix_, i)},
                        {"type", "function"},
                        {"function", {{"name", *calls[i].name}, {"arguments", ""}}}});
      sent_.push_back(0);
    }
    if (calls[i].arguments_begin == std::string_view::npos) continue;
    const std::string_view arguments = ArgumentsText(text, calls[i]);
    if (arguments.size() <= sent_[i]) continue;
    deltas.push_back({{"index", i}, {"function", {{"arguments", std::string(arguments.substr(sent_[i]))}}}});
    sent_[i] = arguments.size();
  }
  return deltas;
}

Json UsageChunk(const CompletionMeta& meta, const Usage& usage) {
  return {{"id", meta.id},       {"object", "chat.completion.chunk"}, {"created", meta.created},
          {"model", meta.model}, {"choices", Json::array()},          {"usage", UsageJson(usage)}};
}

std::string SseEvent(const Json& data) {
  // Model text can hold broken UTF-8; replacing it keeps the stream valid JSON.
  return StrCat("data: ", data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "\n\n");
}

Json ErrorJson(const ApiError& error) {
  Json body = {{"message", error.message}, {"type", error.type}, {"param", nullptr}, {"code", nullptr}};
  if (!error.param.empty()) body["param"] = error.param;
  if (!error.code.empty()) body["code"] = error.code;
  return {{"error", std::move(body)}};
}

Json ModelsJson(const std::string& model_id, int64_t created) {
  return {
      {"object", "list"},
      {"data", Json::array({{{"id", model_id}, {"object", "model"}, {"created", created}, {"owned_by", "needle"}}})}};
}

}  // namespace needle::serve
