#include "needle/evals/openai_response.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "elapsed.h"
#include "needle/str_cat.h"
#include "needle/toolcalls/big_int.h"
#include "needle/toolcalls/call.h"
#include "nlohmann/json.hpp"

namespace needle::evals {

using toolcalls::CallsToJson;
using toolcalls::DumpKeepingBigInts;
using toolcalls::ParseJsonKeepingBigInts;
using toolcalls::ToolCall;

// Responses are read keeping integers past 64 bits and the order of object
// members: a server that sends "arguments" as an object instead of a JSON
// string must lose neither, as the string form does not.
using OJson = nlohmann::ordered_json;

namespace {

// CallsToJson needs argument objects; arguments that are not a JSON object
// are passed on as the string they were, which ParseOutput then reports as
// unreadable instead of this system inventing a call.
std::string CallsText(const std::vector<RawToolCall>& raw_calls) {
  std::vector<ToolCall> calls;
  for (const RawToolCall& raw : raw_calls) {
    // Ordered: the arguments keep the order the server sent them in.
    absl::StatusOr<OJson> arguments =
        ParseJsonKeepingBigInts(raw.arguments.empty() ? std::string("{}") : raw.arguments);
    if (!arguments.ok() || !arguments->is_object()) {
      OJson text = OJson::array();
      for (const RawToolCall& call : raw_calls) text.push_back({{"name", call.name}, {"arguments", call.arguments}});
      return text.dump(-1, ' ', false, OJson::error_handler_t::replace);
    }
    calls.push_back(ToolCall{raw.name, *std::move(arguments)});
  }
  return CallsToJson(calls);
}

// Servers send "arguments" as a JSON string (OpenAI) or, some, as an object.
std::string ArgumentsText(const OJson& arguments) {
  if (arguments.is_string()) return arguments.get<std::string>();
  if (arguments.is_null()) return "";
  return DumpKeepingBigInts(arguments);
}

// An integer field of an object, or `otherwise` when missing or not an integer.
int IntField(const OJson& object, const char* key, int otherwise) {
  if (!object.is_object()) return otherwise;
  auto value = object.find(key);
  return value != object.end() && value->is_number_integer() ? value->get<int>() : otherwise;
}

// needle-serve's usage.truncated: {"query": bool, "tools": bool}.
bool ReportsTruncation(const OJson& usage) {
  if (!usage.is_object()) return false;
  auto truncated = usage.find("truncated");
  if (truncated == usage.end() || !truncated->is_object()) return false;
  for (const char* part : {"query", "tools"}) {
    if (auto cut = truncated->find(part); cut != truncated->end() && cut->is_boolean() && cut->get<bool>()) return true;
  }
  return false;
}

std::string ContentText(const OJson& content) {
  if (content.is_string()) return content.get<std::string>();
  std::string text;
  if (content.is_array()) {
    for (const OJson& part : content) {
      if (part.is_object() && part.contains("text") && part["text"].is_string()) {
        text += part["text"].get<std::string>();
      }
    }
  }
  return text;
}

}  // namespace

std::string ResponseExcerpt(const std::string& body) { return body.size() > 500 ? body.substr(0, 500) + "..." : body; }

bool ChatStreamReader::Feed(const char* data, size_t size) {
  buffer_.append(data, size);
  size_t end;
  while ((end = EventEnd()) != std::string::npos) {
    const std::string event = buffer_.substr(0, end);
    buffer_.erase(0, end + (buffer_.compare(end, 4, "\r\n\r\n") == 0 ? 4 : 2));
    if (!Event(event)) return false;
  }
  return true;
}

std::string ChatStreamReader::Text() const {
  // No call and no text is the no-call answer, as a whole message with null content is.
  if (calls_.empty()) return content_.empty() ? "[]" : content_;
  std::vector<RawToolCall> calls;
  for (const auto& [index, call] : calls_) calls.push_back(call);
  return CallsText(calls);
}

size_t ChatStreamReader::EventEnd() const {
  const size_t lf = buffer_.find("\n\n"), crlf = buffer_.find("\r\n\r\n");
  return std::min(lf, crlf);
}

bool ChatStreamReader::Event(const std::string& event) {
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
  absl::StatusOr<OJson> parsed = ParseJsonKeepingBigInts(data);
  if (!parsed.ok()) {
    return Fail(
        StrCat("stream event is not JSON (", std::string(parsed.status().message()), "): ", ResponseExcerpt(data)));
  }
  const OJson chunk = *std::move(parsed);
  if (!chunk.is_object()) return Fail(StrCat("stream event is not a JSON object: ", ResponseExcerpt(data)));
  if (chunk.contains("error")) return Fail(StrCat("stream reported an error: ", ResponseExcerpt(data)));
  if (auto usage = chunk.find("usage"); usage != chunk.end()) {
    completion_tokens_ = IntField(*usage, "completion_tokens", completion_tokens_);
    input_truncated_ = input_truncated_ || ReportsTruncation(*usage);
  }
  auto choices = chunk.find("choices");
  if (choices == chunk.end() || !choices->is_array() || choices->empty() || !(*choices)[0].is_object()) return true;
  const OJson& choice = (*choices)[0];
  if (choice.contains("finish_reason") && choice["finish_reason"].is_string()) finished_ = true;
  if (!choice.contains("delta") || !choice["delta"].is_object()) return true;
  const OJson& delta = choice["delta"];
  bool first_output = false;
  if (auto content = delta.find("content"); content != delta.end()) {
    const std::string text = ContentText(*content);
    content_ += text;
    first_output = !text.empty();
  }
  if (auto tool_calls = delta.find("tool_calls"); tool_calls != delta.end() && tool_calls->is_array()) {
    for (const OJson& fragment : *tool_calls) {
      if (!fragment.is_object()) continue;
      // OpenAI sends a call's name once and its arguments in pieces, all keyed by index.
      RawToolCall& call = calls_[IntField(fragment, "index", static_cast<int>(calls_.size()))];
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

bool ChatStreamReader::Fail(std::string error) {
  error_ = std::move(error);
  return false;
}

absl::StatusOr<Prediction> ReadChatCompletion(const std::string& body) {
  absl::StatusOr<OJson> parsed = ParseJsonKeepingBigInts(body);
  if (!parsed.ok()) {
    return absl::DataLossError(
        StrCat("response is not valid JSON (", std::string(parsed.status().message()), "): ", ResponseExcerpt(body)));
  }
  const OJson response = *std::move(parsed);
  if (!response.is_object()) {
    return absl::DataLossError(StrCat("response is not a JSON object: ", ResponseExcerpt(body)));
  }
  auto choices = response.find("choices");
  if (choices == response.end() || !choices->is_array() || choices->empty() || !(*choices)[0].is_object() ||
      !(*choices)[0].contains("message") || !(*choices)[0]["message"].is_object()) {
    return absl::DataLossError(StrCat("response has no choices[0].message: ", ResponseExcerpt(body)));
  }
  const OJson& message = (*choices)[0]["message"];
  Prediction prediction;
  std::vector<RawToolCall> calls;
  if (auto tool_calls = message.find("tool_calls"); tool_calls != message.end() && tool_calls->is_array()) {
    for (const OJson& call : *tool_calls) {
      const OJson* function = call.is_object() && call.contains("function") ? &call["function"] : nullptr;
      if (function == nullptr || !function->is_object() || !function->contains("name") ||
          !(*function)["name"].is_string()) {
        return absl::DataLossError(StrCat("a tool call has no function.name: ", ResponseExcerpt(body)));
      }
      RawToolCall raw{(*function)["name"].get<std::string>(), ""};
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
    prediction.input_truncated = ReportsTruncation(*usage);
  }
  return prediction;
}

}  // namespace needle::evals
