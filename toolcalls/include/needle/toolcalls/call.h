// A tool call, and the parser that turns a model's output text into calls:
// what the evals score and what needle-serve answers with.
#ifndef NEEDLE_TOOLCALLS_CALL_H_
#define NEEDLE_TOOLCALLS_CALL_H_

#include <string>
#include <string_view>
#include <vector>

#include "nlohmann/json.hpp"

namespace needle::toolcalls {

struct ToolCall {
  std::string name;
  // Always an object, its keys in the order the model wrote them: BFCL
  // reports the first faulty argument in that order.
  nlohmann::ordered_json arguments = nlohmann::ordered_json::object();
};

// Serialises calls as Needle's compact output: [{"name":..,"arguments":{..}}].
std::string CallsToJson(const std::vector<ToolCall>& calls);

// What a system's output text means. An output that cannot be read is kept as
// such (parsed == false, error says why); it is never turned into "no call".
struct ParsedOutput {
  bool parsed = false;
  std::string format;  // "json", "hermes", "function_gemma" when parsed; "empty" for a blank text
  std::string error;   // when !parsed: what is wrong and at which offset
  std::vector<ToolCall> calls;
};

// Reads, by the first thing the text holds after whitespace:
//   Needle/OpenAI JSON: [{"name":..,"arguments":{..}}, ...], a single such
//     object, or [] for no call ("arguments" may also be a JSON string
//     holding an object, as OpenAI's tool_calls carry it);
//   Hermes/Qwen text: one or more <tool_call>{"name":..,"arguments":..}</tool_call>;
//   FunctionGemma text: <start_function_call>call:NAME{key:value,...}<end_function_call>,
//     string values wrapped in <escape>...</escape>;
// An empty (or all-whitespace) text is parsed as no call.
ParsedOutput ParseOutput(std::string_view text);

}  // namespace needle::toolcalls

#endif  // NEEDLE_TOOLCALLS_CALL_H_
