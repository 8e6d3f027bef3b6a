#include "needle/tools.h"

#include <cctype>
#include <map>

#include "needle/str_cat.h"
#include "nlohmann/json.hpp"

namespace needle {
namespace {

using Json = nlohmann::ordered_json;

bool IsUpper(char c) { return std::isupper(static_cast<unsigned char>(c)) != 0; }
bool IsLowerOrDigit(char c) {
  return std::islower(static_cast<unsigned char>(c)) != 0 || std::isdigit(static_cast<unsigned char>(c)) != 0;
}

absl::StatusOr<std::vector<std::string>> ArgumentKeys(const Json& parameters, const std::string& where) {
  // Upstream reads `parameters.get("properties", parameters)`: JSON-Schema
  // tools keep their keys under "properties", upstream-format tools directly.
  const auto properties = parameters.find("properties");
  const bool schema_style = properties != parameters.end() && properties->is_object();
  const Json& keys = schema_style ? *properties : parameters;
  std::vector<std::string> names;
  for (const auto& [key, spec] : keys.items()) {
    if (key.empty()) return absl::InvalidArgumentError(StrCat(where, ": empty parameter name"));
    if (!spec.is_object()) {
      return absl::InvalidArgumentError(StrCat(where, schema_style ? ".properties." : ".", key,
                                                     ": expected an object describing the parameter"));
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
    if (c == '-' || c == '.' || c == ' ' || c == '_') {
      if (out.empty() || out.back() != '_') out += '_';
      continue;
    }
    if (IsUpper(c)) {
      const bool after_word = i > 0 && IsLowerOrDigit(name[i - 1]);
      const bool ends_acronym = i > 0 && IsUpper(name[i - 1]) && i + 1 < name.size() &&
                                std::islower(static_cast<unsigned char>(name[i + 1]));
      if ((after_word || ends_acronym) && !out.empty() && out.back() != '_') out += '_';
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      continue;
    }
    out += c;
  }
  return out;
}

absl::StatusOr<ToolSet> ToolSet::Parse(std::string_view tools_json) {
  Json tools = Json::parse(tools_json, nullptr, /*allow_exceptions=*/false);
  if (tools.is_discarded()) return absl::InvalidArgumentError("tools: not valid JSON");
  if (!tools.is_array()) return absl::InvalidArgumentError("tools: expected a JSON array of tool objects");

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
    *name = spec.snake_name;
    set.tools_.push_back(std::move(spec));
  }
  set.prompt_json_ = tools.dump(-1, ' ', /*ensure_ascii=*/true);
  return set;
}

std::string ToolSet::RestoreNames(std::string_view output) const {
  std::map<std::string, std::string, std::less<>> original_by_snake;
  for (const ToolSpec& tool : tools_) {
    if (tool.snake_name != tool.name) original_by_snake[tool.snake_name] = tool.name;
  }
  if (original_by_snake.empty()) return std::string(output);

  constexpr std::string_view kNameKey = "\"name\":\"";
  std::string restored;
  size_t pos = 0;
  while (true) {
    const size_t key = output.find(kNameKey, pos);
    if (key == std::string_view::npos) break;
    const size_t value_begin = key + kNameKey.size();
    const size_t value_end = output.find('"', value_begin);
    if (value_end == std::string_view::npos) break;
    restored.append(output.substr(pos, key - pos));
    auto original = original_by_snake.find(output.substr(value_begin, value_end - value_begin));
    if (original == original_by_snake.end()) {
      restored.append(output.substr(key, value_end + 1 - key));
    } else {
      restored.append(StrCat("\"name\":", Json(original->second).dump()));
    }
    pos = value_end + 1;
  }
  restored.append(output.substr(pos));
  return restored;
}

}  // namespace needle
