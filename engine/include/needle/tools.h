// Tool definitions as the caller gives them, and their form in the prompt.
//
// Upstream tool format:
//   [{"name":"get_weather","description":"...",
//     "parameters":{"location":{"type":"string","description":"...","required":true}}}]
// A JSON-Schema style "parameters" ({"type":"object","properties":{...}}) is
// accepted too; its argument keys are the keys of "properties".
#ifndef NEEDLE_TOOLS_H_
#define NEEDLE_TOOLS_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace needle {

// Tool names go to snake_case before encoding, by upstream's rule:
// "getWeather", "GetWeather", "get-weather", "get/weather", "ns:tool" ->
// "get_weather" x4, "ns_tool"; "HTTPRequest" -> "http_request"; "tool(v2)" ->
// "tool_v2"; "caf\u00e9_info" -> "caf_info". A "_" goes before an upper-case
// letter that follows a lower-case letter or digit, or that starts a
// capitalised word after an acronym; every run of characters outside
// [A-Za-z0-9_] becomes "_", runs of "_" collapse, leading and trailing "_" go,
// and all is lower-cased. A name with no ASCII letter or digit comes out empty.
std::string SnakeCase(std::string_view name);

struct ToolSpec {
  std::string name;        // as the caller wrote it
  std::string snake_name;  // as the model sees and writes it
  std::vector<std::string> argument_keys;
  // This tool alone as compact, ASCII-escaped JSON with the caller's name:
  // the text upstream's retrieval head encodes for it.
  std::string retrieval_json;
};

// More tools than could ever reach the model: even the shortest tool takes
// several tokens, and the encoder sees 1024 in all. Refusing them early keeps
// a hostile request from costing seconds of parsing and tokenizing.
inline constexpr size_t kMaxTools = 128;

class ToolSet {
 public:
  // Refuses anything that is not a list of tool objects, naming the offending
  // element and field (e.g. "tools[2].name: expected a non-empty string").
  // Two names with one snake_case form are refused too: upstream's name map
  // silently keeps the later tool, so a call meant for the first would be
  // reported under the second's name.
  static absl::StatusOr<ToolSet> Parse(std::string_view tools_json);

  const std::vector<ToolSpec>& tools() const { return tools_; }
  // Compact JSON (",", ":" separators, ASCII-escaped like Python's json.dumps,
  // key order kept) with snake_case names: the text the encoder sees.
  const std::string& prompt_json() const { return prompt_json_; }

  // Rewrites `"name":"<snake>"` in a model output back to the caller's names,
  // written as JSON string literals with non-ASCII escaped (json.dumps).
  std::string RestoreNames(std::string_view output) const;

 private:
  std::vector<ToolSpec> tools_;
  std::string prompt_json_;
};

}  // namespace needle

#endif  // NEEDLE_TOOLS_H_
