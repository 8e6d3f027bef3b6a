// Tool definitions in the shapes others write them (OpenAI's function tools,
// BFCL's "function" lists, JSON Schema, Python type names, upstream Needle's
// own format) converted into what a Needle model is prompted with, and into
// the parameter schemas a checker compares calls against.
#ifndef NEEDLE_TOOLCALLS_CONVERT_TOOLS_H_
#define NEEDLE_TOOLCALLS_CONVERT_TOOLS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace needle::toolcalls {

// A parameter as the checker needs it. `type` uses BFCL's vocabulary
// (string, integer, float, boolean, array, tuple, dict, any); upstream
// Needle's "number" maps to float.
struct ParamSchema {
  std::string name;
  std::string type;
  std::string item_type;  // element type of array/tuple, "" when not given
  bool required = false;
  std::vector<nlohmann::json> enum_values;
};

struct ToolSchema {
  std::string name;
  std::string description;
  std::vector<ParamSchema> params;
};

// What a reader adapted, e.g. "parameter types written the Python way"
// -> number of parameters; printed so that a user sees how a file was read.
using MappingCounts = std::map<std::string, int>;

// Converts JSON-Schema style tools (BFCL's "function" list, OpenAI's
// function.parameters) into upstream Needle's format and into schemas:
// [{"name","description","parameters":{"p":{"type","description","required"}}}].
// Accepts upstream Needle format unchanged. `where` prefixes error messages.
struct ConvertedTools {
  std::string needle_json;  // the model's tool list, as ToolSet::Parse reads it
  // OpenAI "function" tools with the JSON Schema kept whole (items, nested
  // properties, default, enums), type names in JSON Schema's words: what a
  // chat endpoint is sent.
  std::string openai_json;
  std::vector<ToolSchema> schemas;
};
// Takes ordered JSON: the model is prompted with parameters in the caller's order.
// `mapped`, when given, counts the adaptations made (Python type names, ...).
absl::StatusOr<ConvertedTools> ConvertTools(const nlohmann::ordered_json& tools, const std::string& where,
                                            MappingCounts* mapped = nullptr);

}  // namespace needle::toolcalls

#endif  // NEEDLE_TOOLCALLS_CONVERT_TOOLS_H_
