// The OpenAI /v1/chat/completions wire format as needle-serve speaks it:
// request parsing and response building, with no sockets involved.
//
// Needle answers a single query given a list of tools, so a chat request is
// read as: the last user message is the query, the "function" tools are the
// tool list. Earlier turns are accepted and not read, except that a
// conversation ending in a tool result is answered with no call (a Needle
// model writes calls, not replies to their results; calling again would loop).
//
// Needle decodes greedily: sampling parameters that would change that
// (temperature above 0, top_p below 1, penalties, logit_bias, logprobs, stop,
// a response_format other than text, n above 1, parallel_tool_calls false)
// are refused naming the parameter, not ignored. The legacy "functions" and
// "function_call" fields are refused with the tools equivalent.
#ifndef NEEDLE_SERVE_OPENAI_API_H_
#define NEEDLE_SERVE_OPENAI_API_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

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
  kAuto,      // the model decides whether to call
  kRequired,  // the output is made to begin as a call (GenerateOptions::require_call)
  kNone,      // no call: answered without running the model
  kFunction,  // only the named tool is offered, and a call is required
};

struct ChatRequest {
  std::string model;                   // "" when not given
  std::string query;                   // text of the last user message
  bool ends_with_tool_result = false;  // the last message has role "tool" or "function"
  // "tools" as sent ([{"type":"function","function":{...}}]), checked to be
  // function tools with names; toolcalls::ConvertTools reads their schemas.
  nlohmann::ordered_json tools = nlohmann::ordered_json::array();
  ToolChoice tool_choice = ToolChoice::kAuto;
  std::string tool_choice_name;  // for kFunction
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  int max_tokens = -1;         // max_completion_tokens, else max_tokens; -1 when neither is given
};

// Every malformed field is refused with an error naming it.
std::variant<ChatRequest, ApiError> ParseChatRequest(std::string_view body);

// Whether the model runs for a request. When it does not (no tools,
// tool_choice "none", a conversation ending in a tool result), the answer is
// NoCallOutput: what the model answers when it decides not to call.
bool NeedsModel(const ChatRequest& request);

// A call as a response carries it: the arguments are JSON text.
struct ResponseCall {
  std::string name;
  std::string arguments;
};

// What one model output becomes in a response.
struct CompletionOutput {
  std::optional<std::string> content;  // null when the output is tool calls or no call
  std::vector<ResponseCall> calls;
  std::string finish_reason;  // "tool_calls", "stop" or "length"
};

// Output that parses (toolcalls::ParseOutput) becomes its calls (arguments
// re-serialised); parsing into none ("[]") is the no-call answer, content null
// and finish_reason "stop". Output that does not parse but has calls with
// complete names (cut by max_tokens, say) gives those calls with their
// arguments as far as written, as a stream would have sent them; any other
// text is returned as content.
CompletionOutput InterpretOutput(std::string_view text, bool hit_token_limit);
CompletionOutput NoCallOutput();

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

// Streaming, as OpenAI streams tool calls. A stream is: RoleChunk; while the
// model writes, ToolCallsChunks from a ToolCallStreamer; once it has
// finished, a ContentChunk when the output is text rather than calls;
// FinalChunk (finish_reason); UsageChunk when the client asked for usage;
// then kSseDone.
Json RoleChunk(const CompletionMeta& meta);
Json ContentChunk(const CompletionMeta& meta, std::string_view text);
Json ToolCallsChunk(const CompletionMeta& meta, Json tool_call_deltas);
Json FinalChunk(const CompletionMeta& meta, const CompletionOutput& output);
// Calls as one set of tool-call deltas, for output that turned out to be calls
// only once it was whole (e.g. a single call object not in a list).
Json WholeToolCalls(const CompletionMeta& meta, const std::vector<ResponseCall>& calls);

// Reads the call text as it grows and says what to send: for each call, once
// its name is complete, {"index","id","type","function":{"name","arguments":""}},
// then its arguments text in fragments ({"index","function":{"arguments"}})
// as they are written. Joined, the fragments are the arguments as generated.
class ToolCallStreamer {
 public:
  explicit ToolCallStreamer(const CompletionMeta& meta);
  // `text` is the whole output so far; returns the deltas not sent yet.
  Json Update(std::string_view text);
  // Calls whose name has been sent.
  size_t calls_started() const { return sent_.size(); }

 private:
  std::string id_prefix_;
  std::vector<size_t> sent_;  // per started call: bytes of its arguments sent
};
Json UsageChunk(const CompletionMeta& meta, const Usage& usage);
// "data: <compact JSON>\n\n".
std::string SseEvent(const Json& data);
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

Json ErrorJson(const ApiError& error);
Json ModelsJson(const std::string& model_id, int64_t created);

}  // namespace needle::serve

#endif  // NEEDLE_SERVE_OPENAI_API_H_
