#include "needle/tools.h"

#include <cctype>
#include <map>

#include "needle/json.h"
#include "needle/json_string_scanner.h"
#include "needle/str_cat.h"
#include "nlohmann/json.hpp"

namespace needle {
namespace {

using Json = nlohmann::ordered_json;

bool IsUpper(char c) { return std::isupper(static_cast<unsigned char>(c)) != 0; }
// ASCII only: std::isalnum would take the locale's letters.
bool IsAsciiLetterOrDigit(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool IsLowerOrDigit(char c) {
  return std::islower(static_cast<unsigned char>(c)) != 0 || std::isdigit(static_cast<unsigned char>(c)) != 0;
}

absl::StatusOr<std::vector<std::string>> ArgumentKeys(const Json& parameters, const std::string& where) {
  // Upstream reads `parameters.get("properties", parameters)`: JSON-Schema
  // tools keep their keys under "properties", upstream-format tools directly.
  // A schema without "properties" ({"type":"object"}) declares no arguments.
  const auto properties = parameters.find("properties");
  const bool schema_style = properties != parameters.end() && properties->is_object();
  if (!schema_style && parameters.value("type", Json()) == "object") return std::vector<std::string>{};
  const Json& keys = schema_style ? *properties : parameters;
  std::vector<std::string> names;
  for (const auto& [key, spec] : keys.items()) {
    if (key.empty()) return absl::InvalidArgumentError(StrCat(where, ": empty parameter name"));
    if (!spec.is_object()) {
      return absl::InvalidArgumentError(
          StrCat(where, schema_style ? ".properties." : ".", key, ": expected an object describing the parameter"));
    }
    names.push_back(key);
  }
  return names;
}

}  // namespace

std::string SnakeCase(std::string_view name) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (!IsAsciiLetterOrDigit(c)) {
      // A run of "_" and of characters outside [A-Za-z0-9_] (spaces,
      // punctuation, each byte of a non-ASCII character) becomes one "_";
      // none at the start.
      if (!out.empty() && out.back() != '_') out += '_';
      continue;
    }
    if (IsUpper(c)) {
      const bool after_word = i > 0 && IsLowerOrDigit(name[i - 1]);
      const bool ends_acronym =
          i > 0 && IsUpper(name[i - 1]) && i + 1 < name.size() && std::islower(static_cast<unsigned char>(name[i + 1]));
      if ((after_word || ends_acronym) && !out.empty() && out.back() != '_') out += '_';
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      continue;
    }
    out += c;
  }
  if (!out.empty() && out.back() == '_') out.pop_back();
  return out;
}

absl::StatusOr<ToolSet> ToolSet::Parse(std::string_view tools_json) {
  absl::StatusOr<Json> parsed = ParseJson<Json>(tools_json);
  if (!parsed.ok())
    return absl::InvalidArgumentError(StrCat("tools: not valid JSON: ", std::string(parsed.status().message())));
  Json tools = *std::move(parsed);
  if (!tools.is_array()) return absl::InvalidArgumentError("tools: expected a JSON array of tool objects");
  if (tools.size() > kMaxTools) {
    return absl::InvalidArgumentError(StrCat("tools: ", tools.size(), " tools given, at most ", kMaxTools,
                                             " are accepted (the encoder reads at most 1024 tokens of them)"));
  }

  ToolSet set;
  std::map<std::string, size_t> index_by_snake;
  for (size_t i = 0; i < tools.size(); ++i) {
    Json& tool = tools[i];
    const std::string where = StrCat("tools[", i, "]");
    if (!tool.is_object()) return absl::InvalidArgumentError(StrCat(where, ": expected an object"));
    auto name = tool.find("name");
    if (name == tool.end() || !name->is_string() || name->get<std::string>().empty()) {
      return absl::InvalidArgumentError(StrCat(where, ".name: expected a non-empty string"));
    }
    auto description = tool.find("description");
    if (description != tool.end() && !description->is_string()) {
      return absl::InvalidArgumentError(StrCat(where, ".description: expected a string"));
    }
    ToolSpec spec;
    spec.name = name->get<std::string>();
    spec.snake_name = SnakeCase(spec.name);
    if (spec.snake_name.empty()) {
      return absl::InvalidArgumentError(
          StrCat(where, ".name: \"", spec.name, "\" has no ASCII letter or digit, so its snake_case form is empty"));
    }
    auto parameters = tool.find("parameters");
    if (parameters != tool.end()) {
      if (!parameters->is_object()) {
        return absl::InvalidArgumentError(StrCat(where, ".parameters: expected an object"));
      }
      absl::StatusOr<std::vector<std::string>> keys = ArgumentKeys(*parameters, where + ".parameters");
      if (!keys.ok()) return keys.status();
      spec.argument_keys = *std::move(keys);
    }
    auto [existing, inserted] = index_by_snake.emplace(spec.snake_name, i);
    if (!inserted) {
      return absl::InvalidArgumentError(StrCat(where, ".name: \"", spec.name, "\" and tools[", existing->second,
                                               "] both read \"", spec.snake_name,
                                               "\" in snake_case, so a call could not be mapped back"));
    }
    spec.retrieval_json = tool.dump(-1, ' ', /*ensure_ascii=*/true);
    *name = spec.snake_name;
    set.tools_.push_back(std::move(spec));
  }
  set.prompt_json_ = tools.dump(-1, ' ', /*ensure_ascii=*/true);
  return set;
}

std::string ToolSet::RestoreNames(std::string_view output) const {
  // snake_case names are [a-z0-9_] only, so each reads in the output exactly
  // as it is; the caller's name goes back ASCII-escaped, as json.dumps writes it.
  std::map<std::string, std::string, std::less<>> original_by_snake;
  for (const ToolSpec& tool : tools_) {
    if (tool.snake_name == tool.name) continue;
    original_by_snake[tool.snake_name] = Json(tool.name).dump(-1, ' ', /*ensure_ascii=*/true);
  }
  if (original_by_snake.empty()) return std::string(output);

  // Only the "name" of a call object (depth 2: inside the list, inside the
  // object) is a tool name; a "name" inside the arguments is the caller's data.
  // Scanning text rather than parsing keeps partial outputs and the model's
  // own formatting intact.
  constexpr std::string_view kNameKey = "\"name\":\"";
  std::string restored;
  int depth = 0;
  JsonStringScanner strings;
  for (size_t i = 0; i < output.size(); ++i) {
    const char c = output[i];
    if (!strings.inside() && c == '"' && depth == 2 && output.substr(i, kNameKey.size()) == kNameKey) {
      size_t end = i + kNameKey.size();
      while (end < output.size() && output[end] != '"') end += output[end] == '\\' ? 2 : 1;
      if (end < output.size()) {
        const size_t begin = i + kNameKey.size();
        auto original = original_by_snake.find(output.substr(begin, end - begin));
        restored += original == original_by_snake.end() ? std::string(output.substr(i, end + 1 - i))
                                                        : StrCat("\"name\":", original->second);
        i = end;
        continue;
      }
    }
    if (strings.Feed(c)) {
      restored += c;
      continue;
    }
    if (c == '{' || c == '[') ++depth;
    if (c == '}' || c == ']') --depth;
    restored += c;
  }
  return restored;
}

}  // namespace needle
