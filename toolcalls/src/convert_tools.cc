// Tool conversion. Choices written down here (the accepted shapes are tabled
// in docs/evals.md):
//
// - Tools are read as nlohmann::ordered_json so that they keep the key order
//   of the caller: the model is prompted with parameters in that order.
// - Each tool goes to upstream Needle format for the prompt, to a ToolSchema
//   in BFCL's vocabulary, and to JSON Schema's words for chat systems:
//       as written                    prompt     schema    JSON Schema
//       string, str                   string     string    string
//       integer, int                  integer    integer   integer
//       float, number                 number     float     number
//       boolean, bool                 boolean    boolean   boolean
//       array, list, set, List[T]     array      array     array (items T)
//       tuple, Tuple[T]               array      tuple     array
//       dict, object, Dict[..]        object     dict      object
//       any, Any, no type at all      string     any       (none)
//   Optional[T], Union[T, None], "T | None", "T, optional": T, not required.
//   Description, enum and required are kept in the prompt; nested
//   "properties" of a dict parameter are not (upstream's format has no place
//   for them), nor "default" or BFCL's loose "optional" (BFCL's checker goes
//   by "required"); the JSON Schema for chat systems keeps all of them.
//   A JSON-Schema "type" list such as ["string","null"] takes its first
//   non-null entry. Tools already in upstream Needle format go into the
//   prompt as written.
// - OpenAI's wrapper ({"type":"function","function":{...}}), Anthropic's
//   "input_schema", parameters given as a list of named objects, and tools
//   stored as JSON strings are unwrapped first.
#include "needle/toolcalls/convert_tools.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <string_view>
#include <utility>

#include "needle/ascii.h"
#include "needle/str_cat.h"
#include "needle/toolcalls/big_int.h"

namespace needle::toolcalls {
namespace {

using OJson = nlohmann::ordered_json;

absl::Status FieldError(const std::string& path, const std::string& problem) {
  return absl::InvalidArgumentError(StrCat(path, ": ", problem));
}

std::string Child(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

std::string Index(const std::string& path, size_t i) { return StrCat(path, "[", i, "]"); }

// "expected a string, got number"
std::string Expected(const char* what, const OJson& value) {
  return StrCat("expected ", what, ", got ", value.type_name());
}

absl::StatusOr<std::string> RequireString(const OJson& object, const std::string& key, const std::string& path) {
  auto it = object.find(key);
  if (it == object.end()) return FieldError(Child(path, key), "missing");
  if (!it->is_string()) return FieldError(Child(path, key), Expected("a string", *it));
  return it->get<std::string>();
}

// An optional string field: "" when absent.
absl::StatusOr<std::string> OptionalString(const OJson& object, const std::string& key, const std::string& path) {
  auto it = object.find(key);
  if (it == object.end()) return std::string();
  if (!it->is_string()) return FieldError(Child(path, key), Expected("a string", *it));
  return it->get<std::string>();
}

struct TypeNames {
  const char* written;
  const char* prompt;
  const char* schema;
  const char* json_schema;  // "" for any: JSON Schema says nothing then
  bool python;              // Python's name for it, not JSON Schema's or BFCL's
};

// The table in the comment at the top of this file.
const TypeNames* LookUpType(std::string_view written) {
  static constexpr TypeNames kTypes[] = {
      {"string", "string", "string", "string", false},
      {"integer", "integer", "integer", "integer", false},
      {"float", "number", "float", "number", false},
      {"number", "number", "float", "number", false},
      {"boolean", "boolean", "boolean", "boolean", false},
      {"array", "array", "array", "array", false},
      {"tuple", "array", "tuple", "array", false},
      {"dict", "object", "dict", "object", false},
      {"object", "object", "dict", "object", false},
      {"any", "string", "any", "", false},
      {"str", "string", "string", "string", true},
      {"int", "integer", "integer", "integer", true},
      {"bool", "boolean", "boolean", "boolean", true},
      {"list", "array", "array", "array", true},
      {"set", "array", "array", "array", true},
      {"sequence", "array", "array", "array", true},
      {"mapping", "object", "dict", "object", true},
      {"literal", "string", "string", "string", true},
  };
  for (const TypeNames& type : kTypes) {
    if (written == type.written) return &type;
  }
  return nullptr;
}

// A type as written, read: "List[str]" is an array of strings; "int, optional"
// and "Optional[int]" are an integer that may be left out.
struct ReadTypeName {
  const TypeNames* names = nullptr;
  const TypeNames* item = nullptr;  // element type of List[...] / Tuple[...]
  bool optional = false;
  bool python = false;  // written the Python way, not in JSON Schema's or BFCL's words
};

std::optional<ReadTypeName> ParseTypeName(std::string_view written, int depth = 0) {
  if (depth > 4) return std::nullopt;
  ReadTypeName read;
  std::string lower = AsciiLower(TrimAsciiSpace(written));
  for (std::string_view suffix : {", optional", ",optional", " (optional)", " optional"}) {
    if (lower.size() > suffix.size() && lower.compare(lower.size() - suffix.size(), suffix.size(), suffix) == 0) {
      lower.resize(lower.size() - suffix.size());
      read.optional = true;
      read.python = true;
    }
  }
  for (std::string_view none : {" | none", "|none"}) {
    if (size_t at = lower.find(none); at != std::string::npos && at + none.size() == lower.size()) {
      lower.resize(at);
      read.optional = true;
      read.python = true;
    }
  }
  std::string_view text = TrimAsciiSpace(lower);
  std::string_view head = text, inner;
  if (size_t open = text.find('['); open != std::string_view::npos && text.back() == ']') {
    head = TrimAsciiSpace(text.substr(0, open));
    inner = TrimAsciiSpace(text.substr(open + 1, text.size() - open - 2));
  }
  if (head.rfind("typing.", 0) == 0) head.remove_prefix(7);
  if (head == "optional" || head == "union") {
    // Optional[X], Union[X, None]: the first member that is not None.
    std::string_view member = inner.substr(0, inner.find(','));
    if (TrimAsciiSpace(member) == "none" && inner.find(',') != std::string_view::npos) {
      member = inner.substr(inner.find(',') + 1);
      member = member.substr(0, member.find(','));
    }
    std::optional<ReadTypeName> inside = ParseTypeName(member, depth + 1);
    if (!inside) return std::nullopt;
    inside->optional = inside->optional || head == "optional" || inner.find("none") != std::string_view::npos;
    inside->python = true;
    return inside;
  }
  read.names = LookUpType(head);
  if (read.names == nullptr) return std::nullopt;
  // "List", "Dict", "Any": capitals are Python's too.
  read.python =
      read.python || read.names->python || !inner.empty() || TrimAsciiSpace(written).substr(0, head.size()) != head;
  if (!inner.empty() && std::string_view(read.names->prompt) == "array" && head != "literal") {
    std::optional<ReadTypeName> item = ParseTypeName(inner.substr(0, inner.find(',')), depth + 1);
    if (item) read.item = item->names;
  }
  return read;
}

absl::StatusOr<ReadTypeName> ReadType(const OJson& param, const std::string& path, MappingCounts* mapped) {
  auto type = param.find("type");
  const std::string type_path = Child(path, "type");
  std::string written;
  if (type == param.end()) {
    // JSON Schema leaves "type" out for anything, or says it with anyOf/oneOf or an enum.
    for (const char* alternatives : {"anyOf", "oneOf"}) {
      auto list = param.find(alternatives);
      if (list == param.end() || !list->is_array()) continue;
      for (const OJson& entry : *list) {
        if (entry.is_object() && entry.contains("type") && entry["type"] != "null") {
          absl::StatusOr<ReadTypeName> first = ReadType(entry, Child(path, alternatives), mapped);
          if (first.ok()) first->optional = true;
          return first;
        }
      }
    }
    if (mapped != nullptr) ++(*mapped)["parameters without a type, read as any"];
    ReadTypeName any;
    any.names = LookUpType("any");
    return any;
  }
  if (type->is_string()) {
    written = type->get<std::string>();
  } else if (type->is_array()) {
    for (const OJson& entry : *type) {
      if (entry.is_string() && entry != "null") {
        written = entry.get<std::string>();
        break;
      }
    }
    if (written.empty()) return FieldError(type_path, "no type other than null in the list");
  } else {
    return FieldError(type_path, Expected("a string", *type));
  }
  std::optional<ReadTypeName> read = ParseTypeName(written);
  if (!read) {
    return FieldError(type_path, StrCat("unknown type \"", written,
                                        "\" (known: string, integer, float, number, boolean, array, tuple, dict, "
                                        "object, any, and Python's str, int, float, bool, list, dict, tuple, Any, "
                                        "List[...], Dict[...], Optional[...])"));
  }
  if (read->python && mapped != nullptr) ++(*mapped)["parameter types written the Python way"];
  return *read;
}

// One parameter, in either style. `prompt` receives its upstream-format form.
absl::StatusOr<ParamSchema> ConvertParam(const std::string& name, const OJson& param, bool json_schema,
                                         const std::string& path, OJson* prompt, MappingCounts* mapped) {
  if (!param.is_object()) return FieldError(path, Expected("a parameter object", param));
  ParamSchema schema;
  schema.name = name;
  absl::StatusOr<ReadTypeName> type = ReadType(param, path, mapped);
  if (!type.ok()) return type.status();
  schema.type = type->names->schema;
  if (type->item != nullptr) schema.item_type = type->item->schema;
  absl::StatusOr<std::string> description = OptionalString(param, "description", path);
  if (!description.ok()) return description.status();
  if (auto items = param.find("items"); items != param.end()) {
    if (!items->is_object()) return FieldError(Child(path, "items"), Expected("an object", *items));
    if (items->contains("type")) {
      absl::StatusOr<ReadTypeName> item_type = ReadType(*items, Child(path, "items"), mapped);
      if (!item_type.ok()) return item_type.status();
      schema.item_type = item_type->names->schema;
    }
  }
  // Without a word on it, a parameter written the Python way is required unless
  // it has a default or its type says optional; upstream's format says false.
  schema.required = type->python && !type->optional && !param.contains("default");
  if (auto required = param.find("required"); required != param.end()) {
    if (required->is_boolean()) {
      schema.required = required->get<bool>();
    } else if (!(json_schema && required->is_array())) {  // a list belongs to a nested object schema
      return FieldError(Child(path, "required"), Expected("true or false", *required));
    }
  } else if (json_schema) {
    schema.required = false;  // JSON Schema says it in the parent's "required" list
  }
  if (auto values = param.find("enum"); values != param.end()) {
    if (!values->is_array()) return FieldError(Child(path, "enum"), Expected("a list", *values));
    for (const OJson& value : *values) schema.enum_values.emplace_back(value);
  }
  *prompt = OJson::object();
  (*prompt)["type"] = type->names->prompt;
  (*prompt)["description"] = *description;
  (*prompt)["required"] = schema.required;
  if (auto values = param.find("enum"); values != param.end()) (*prompt)["enum"] = *values;
  return schema;
}

// Upstream's "parameters" maps names to parameter objects, each with an
// object value; JSON Schema's has a string "type" ("object" or BFCL's "dict").
bool IsJsonSchema(const OJson& parameters) {
  auto type = parameters.find("type");
  if (type != parameters.end()) return type->is_string();
  auto properties = parameters.find("properties");
  return properties != parameters.end() && properties->is_object() && !properties->contains("type");
}

// A JSON Schema with every type name in JSON Schema's words (servers that
// compile schemas into grammars, such as llama.cpp's, reject BFCL's "dict" or
// Python's "str"); everything else is kept as given.
void ToJsonSchemaTypes(OJson& schema, int depth = 0) {
  if (!schema.is_object() || depth > 32) return;
  if (auto type = schema.find("type"); type != schema.end() && type->is_string()) {
    std::optional<ReadTypeName> read = ParseTypeName(type->get<std::string>());
    if (read && *read->names->json_schema == '\0') {
      schema.erase(type);
    } else if (read) {
      *type = read->names->json_schema;
      if (read->item != nullptr && *read->item->json_schema != '\0' && !schema.contains("items")) {
        schema["items"] = {{"type", read->item->json_schema}};
      }
    }
  }
  for (const char* key : {"items", "additionalProperties"}) {
    if (auto child = schema.find(key); child != schema.end()) ToJsonSchemaTypes(*child, depth + 1);
  }
  for (const char* key : {"anyOf", "oneOf", "allOf"}) {
    if (auto list = schema.find(key); list != schema.end() && list->is_array()) {
      for (OJson& entry : *list) ToJsonSchemaTypes(entry, depth + 1);
    }
  }
  if (auto properties = schema.find("properties"); properties != schema.end() && properties->is_object()) {
    for (auto& [name, property] : properties->items()) ToJsonSchemaTypes(property, depth + 1);
  }
}

// Some sets list parameters as [{"name","type","description","required"}]:
// the same objects as a flat map, keyed by their names.
absl::StatusOr<OJson> ParameterListToMap(const OJson& list, const std::string& path) {
  OJson map = OJson::object();
  for (size_t i = 0; i < list.size(); ++i) {
    const OJson& param = list[i];
    if (!param.is_object()) return FieldError(Index(path, i), Expected("a parameter object", param));
    absl::StatusOr<std::string> name = RequireString(param, "name", Index(path, i));
    if (!name.ok()) return name.status();
    if (map.contains(*name)) return FieldError(Index(path, i), StrCat("duplicate parameter \"", *name, "\""));
    OJson rest = param;
    rest.erase("name");
    map[*name] = std::move(rest);
  }
  return map;
}

absl::StatusOr<ToolSchema> ConvertTool(const OJson& raw, const std::string& raw_path, OJson* prompt, OJson* openai,
                                       MappingCounts* mapped) {
  if (!raw.is_object()) return FieldError(raw_path, Expected("a tool object", raw));
  // OpenAI wraps each tool: {"type":"function","function":{...}}.
  const bool wrapped = raw.contains("function") && !raw.contains("name");
  const OJson& tool = wrapped ? raw["function"] : raw;
  const std::string path = wrapped ? Child(raw_path, "function") : raw_path;
  if (!tool.is_object()) return FieldError(path, Expected("a tool object", tool));

  ToolSchema schema;
  absl::StatusOr<std::string> name = RequireString(tool, "name", path);
  if (!name.ok()) return name.status();
  if (name->empty()) return FieldError(Child(path, "name"), "empty tool name");
  schema.name = *name;
  absl::StatusOr<std::string> description = OptionalString(tool, "description", path);
  if (!description.ok()) return description.status();
  schema.description = *description;

  // Anthropic's tools call the schema "input_schema".
  const char* params_key =
      !tool.contains("parameters") && tool.contains("input_schema") ? "input_schema" : "parameters";
  const std::string params_path = Child(path, params_key);
  auto found = tool.find(params_key);
  OJson parameters = found == tool.end() ? OJson() : *found;
  if (parameters.is_array()) {
    absl::StatusOr<OJson> map = ParameterListToMap(parameters, params_path);
    if (!map.ok()) return map.status();
    parameters = *std::move(map);
    if (mapped != nullptr) ++(*mapped)["parameters given as a list of named objects"];
  }
  const bool has_parameters = !parameters.is_null();
  if (has_parameters && !parameters.is_object()) return FieldError(params_path, Expected("an object", parameters));
  *openai = OJson::object();
  (*openai)["name"] = schema.name;
  if (tool.contains("description")) (*openai)["description"] = tool["description"];
  if (has_parameters && !IsJsonSchema(parameters)) {
    OJson properties = OJson::object();
    OJson required = OJson::array();
    for (const auto& [key, param] : parameters.items()) {
      OJson unused;
      absl::StatusOr<ParamSchema> converted = ConvertParam(key, param, false, Child(params_path, key), &unused, mapped);
      if (!converted.ok()) return converted.status();
      OJson property = param;
      property.erase("required");
      properties[key] = std::move(property);
      if (converted->required) required.push_back(key);
      schema.params.push_back(*std::move(converted));
    }
    // Upstream's own format is prompted as written; other flat maps (Python
    // type names, parameter lists) are written in it first.
    bool upstream = found != tool.end() && found->is_object();
    for (const auto& [key, param] : parameters.items()) {
      auto written = param.find("type");
      upstream = upstream && written != param.end() && written->is_string() &&
                 LookUpType(written->get<std::string>()) != nullptr && !LookUpType(written->get<std::string>())->python;
    }
    if (upstream) {
      *prompt = tool;
    } else {
      OJson prompt_params = OJson::object();
      for (const ParamSchema& param : schema.params) {
        OJson prompt_param;
        (void)ConvertParam(param.name, parameters[param.name], false, "", &prompt_param, nullptr);
        prompt_param["required"] = param.required;
        prompt_params[param.name] = std::move(prompt_param);
      }
      *prompt = OJson{{"name", schema.name}, {"description", schema.description}, {"parameters", prompt_params}};
    }
    OJson json_schema = {{"type", "object"}, {"properties", std::move(properties)}, {"required", std::move(required)}};
    ToJsonSchemaTypes(json_schema);
    (*openai)["parameters"] = std::move(json_schema);
    return schema;
  }

  // Without "parameters" a tool takes none; it is prompted in full form.
  const OJson no_parameters = OJson::object();
  const OJson& schema_parameters = has_parameters ? parameters : no_parameters;
  const std::string type = schema_parameters.value("type", "object");  // IsJsonSchema: a string or absent
  if (type != "object" && type != "dict") {
    return FieldError(Child(params_path, "type"), StrCat("expected \"object\" or \"dict\", got \"", type, "\""));
  }
  std::vector<std::pair<std::string, std::string>> required;  // (name, where it is listed)
  // "required" is the schema's list, or (in some sets) the tool's, beside "parameters".
  for (const auto& [holder, holder_path] :
       {std::pair<const OJson*, std::string>{&schema_parameters, params_path}, {&tool, path}}) {
    auto list = holder->find("required");
    if (list == holder->end() || (holder == &tool && !list->is_array())) continue;
    const std::string list_path = Child(holder_path, "required");
    if (!list->is_array()) return FieldError(list_path, Expected("a list", *list));
    for (size_t i = 0; i < list->size(); ++i) {
      const OJson& entry = (*list)[i];
      if (!entry.is_string()) return FieldError(Index(list_path, i), Expected("a parameter name", entry));
      required.emplace_back(entry.get<std::string>(), Index(list_path, i));
    }
  }
  auto is_required = [&](const std::string& key) {
    return std::any_of(required.begin(), required.end(), [&](const auto& entry) { return entry.first == key; });
  };
  OJson prompt_params = OJson::object();
  const std::string properties_path = Child(params_path, "properties");
  if (auto properties = schema_parameters.find("properties"); properties != schema_parameters.end()) {
    if (!properties->is_object()) return FieldError(properties_path, Expected("an object", *properties));
    for (const auto& [key, param] : properties->items()) {
      OJson prompt_param;
      absl::StatusOr<ParamSchema> converted =
          ConvertParam(key, param, true, Child(properties_path, key), &prompt_param, mapped);
      if (!converted.ok()) return converted.status();
      if (is_required(key)) {
        converted->required = true;
        prompt_param["required"] = true;
      }
      prompt_params[key] = std::move(prompt_param);
      schema.params.push_back(*std::move(converted));
    }
  }
  for (const auto& [key, where] : required) {
    if (!prompt_params.contains(key)) return FieldError(where, StrCat("\"", key, "\" is not among the properties"));
  }
  *prompt = OJson::object();
  (*prompt)["name"] = schema.name;
  (*prompt)["description"] = schema.description;
  (*prompt)["parameters"] = std::move(prompt_params);
  OJson json_schema = schema_parameters;
  if (!json_schema.contains("type")) json_schema["type"] = "object";
  if (!json_schema.contains("properties")) json_schema["properties"] = OJson::object();
  OJson all_required = OJson::array();
  for (const ParamSchema& param : schema.params) {
    if (param.required) all_required.push_back(param.name);
  }
  json_schema["required"] = std::move(all_required);
  ToJsonSchemaTypes(json_schema);
  (*openai)["parameters"] = std::move(json_schema);
  return schema;
}

}  // namespace

absl::StatusOr<ConvertedTools> ConvertTools(const OJson& tools, const std::string& where, MappingCounts* mapped) {
  if (!tools.is_array()) return FieldError(where, Expected("a list of tools", tools));
  ConvertedTools converted;
  OJson prompt_tools = OJson::array();
  OJson openai_tools = OJson::array();
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < tools.size(); ++i) {
    OJson tool_object = tools[i];
    if (tool_object.is_string()) {  // some sets store each tool as a JSON string
      absl::StatusOr<OJson> decoded = ParseJsonKeepingBigInts(tool_object.get<std::string>());
      if (!decoded.ok()) {
        return FieldError(Index(where, i),
                          StrCat("a string that is not valid JSON: ", std::string(decoded.status().message())));
      }
      tool_object = *std::move(decoded);
      if (mapped != nullptr) ++(*mapped)["tools given as JSON strings"];
    }
    OJson prompt, openai;
    absl::StatusOr<ToolSchema> tool = ConvertTool(tool_object, Index(where, i), &prompt, &openai, mapped);
    if (!tool.ok()) return tool.status();
    if (auto [it, inserted] = seen.emplace(tool->name, i); !inserted) {
      return FieldError(Index(where, i),
                        StrCat("duplicate tool name \"", tool->name, "\" (also ", Index(where, it->second), ")"));
    }
    prompt_tools.push_back(std::move(prompt));
    openai_tools.push_back({{"type", "function"}, {"function", std::move(openai)}});
    converted.schemas.push_back(*std::move(tool));
  }
  converted.needle_json = DumpKeepingBigInts(prompt_tools);
  converted.openai_json = DumpKeepingBigInts(openai_tools);
  return converted;
}

}  // namespace needle::toolcalls
