// The OpenAI /v1/chat/completions wire format as needle-serve speaks it:
// request parsing and response building, with no sockets involved.
//
// Needle answers a single query given a list of tools, so a chat request is
// read as: the last user message is the query, the "function" tools are the
// tool list. Everything else in the conversation is accepted and ignored.
#ifndef NEEDLE_SERVE_OPENAI_API_H_
#define NEEDLE_SERVE_OPENAI_API_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "needle/evals/call.h"
#include "nlohmann/json.hpp"

namespace needle::serve {

using Json = nlohmann::ordered_json;

// A refusal in OpenAI's shape: {"error":{"message","type","param","code"}}.
struct ApiError {
  int http_status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;  // the offending field ("messages[1].content"); "" is sent as null
  std::string code;   // "" is sent as null
};

enum class ToolChoice {
  kAuto,
  kRequired,  // Needle cannot be forced to call; treated as auto
  kNone,      // the output is returned as text, never as tool_calls
  kFunction,  // only the named tool is offered to the model
};

struct ChatRequest {
  std::string model;  // "" when not given
  std::string query;  // text of the last user message
  // "tools" as sent ([{"type":"function","function":{...}}]), checked to be
  // function tools with names; evals::ConvertTools reads their schemas.
  nlohmann::ordered_json tools = nlohmann::ordered_json::array();
  ToolChoice tool_choice = ToolChoice::kAuto;
  std::string tool_choice_name;  // for kFunction
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  int max_tokens = -1;         // max_completion_tokens, else max_tokens; -1 when neither is given
};

// Every malformed field is refused with an error naming it.
std::variant<ChatRequest, ApiError> ParseChatRequest(std::string_view body);

// What one model output becomes in a response.
struct CompletionOutput {
  std::optional<std::string> content;  // null when the output is tool calls
  std::vector<evals::ToolCall> calls;
  std::string finish_reason;  // "tool_calls", "stop" or "length"
};

// Output that parses (evals::ParseOutput) into at least one call becomes
// tool_calls, unless `allow_calls` is false (tool_choice "none"). Anything
// else, unparsable text included, is returned as content unchanged.
CompletionOutput InterpretOutput(std::string_view text, bool allow_calls, bool hit_token_limit);

// Fields shared by a response and all chunks of a stream.
struct CompletionMeta {
  std::string id;  // "chatcmpl-..."; tool call ids are derived from it
  int64_t created = 0;
  std::string model;
};

struct Usage {
  int prompt_tokens = 0;
  int completion_tokens = 0;
  // The encoder reads 1024 tokens at most and cuts a longer prompt as upstream
  // does; the usage object then says what was cut: "truncated":{"query":..,"tools":..}.
  bool query_truncated = false;
  bool tools_truncated = false;
};

// A non-streamed "chat.completion" object.
Json CompletionJson(const CompletionMeta& meta, const CompletionOutput& output, const Usage& usage);

// Streaming. A stream is: RoleChunk, a ContentChunk per piece of generated
// text as it arrives, FinalChunk (the parsed tool_calls, if any, and the
// finish_reason), UsageChunk when the client asked for usage, then kSseDone.
Json RoleChunk(const CompletionMeta& meta);
Json ContentChunk(const CompletionMeta& meta, std::string_view text);
Json FinalChunk(const CompletionMeta& meta, const CompletionOutput& output);
Json UsageChunk(const CompletionMeta& meta, const Usage& usage);
// "data: <compact JSON>\n\n".
std::string SseEvent(const Json& data);
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

Json ErrorJson(const ApiError& error);
Json ModelsJson(const std::string& model_id, int64_t created);

}  // namespace needle::serve

#endif  // NEEDLE_SERVE_OPENAI_API_H_
