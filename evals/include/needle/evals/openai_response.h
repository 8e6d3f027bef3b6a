// Readers of what an OpenAI-compatible /v1/chat/completions endpoint sends
// back: a whole chat.completion object, or a server-sent event stream of
// chat.completion.chunk objects. Both turn structured tool_calls into
// Needle's JSON text (toolcalls::CallsToJson) and otherwise keep the message content, so
// the output is scored by toolcalls::ParseOutput like any other model's.
#ifndef NEEDLE_EVALS_OPENAI_RESPONSE_H_
#define NEEDLE_EVALS_OPENAI_RESPONSE_H_

#include <chrono>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "needle/evals/system.h"

namespace needle::evals {

// The first 500 bytes of a response body, for error messages.
std::string ResponseExcerpt(const std::string& body);

// A tool call as OpenAI sends it, arguments still a JSON string.
struct RawToolCall {
  std::string name;
  std::string arguments;
};

// A whole (non-streamed) chat.completion object -> text and output tokens.
absl::StatusOr<Prediction> ReadChatCompletion(const std::string& body);

// Accumulates a server-sent event stream, fed in arbitrary pieces.
class ChatStreamReader {
 public:
  // `start` is when the request was sent: time to first token counts from it.
  explicit ChatStreamReader(std::chrono::steady_clock::time_point start) : start_(start) {}

  // Takes the next bytes of the body; false with error() set on a bad event.
  bool Feed(const char* data, size_t size);

  // Complete once "[DONE]" came, or a finish_reason for servers that end without it.
  bool complete() const { return done_ || finished_; }
  const std::string& error() const { return error_; }
  double ttft_ms() const { return ttft_ms_; }
  int completion_tokens() const { return completion_tokens_; }
  // The server reported cutting the prompt (needle-serve's usage.truncated).
  bool input_truncated() const { return input_truncated_; }
  std::string Text() const;

 private:
  size_t EventEnd() const;
  bool Event(const std::string& event);
  bool Fail(std::string error);

  const std::chrono::steady_clock::time_point start_;
  std::string buffer_;
  std::string content_;
  std::map<int, RawToolCall> calls_;  // keyed by the stream's "index"
  bool done_ = false;
  bool finished_ = false;
  std::string error_;
  double ttft_ms_ = -1;
  int completion_tokens_ = -1;
  bool input_truncated_ = false;
};

}  // namespace needle::evals

#endif  // NEEDLE_EVALS_OPENAI_RESPONSE_H_
