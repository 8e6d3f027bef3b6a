// Dataset readers. Choices written down here:
//
// - Records are parsed with nlohmann::ordered_json so that tools keep the key
//   order of the file: the model is prompted with parameters in that order.
// - Lines: a UTF-8 BOM at the start of the file, "\r" before "\n", blank lines
//   and a missing final newline are all accepted. Line numbers are physical
//   lines of the file, 1-based.
// - Format detection looks at the first line that is a JSON object: "question"
//   or "function" means BFCL; "id" or "call_type" means needle; "query" means
//   generic. A generic file with an "id" field needs the "generic:" prefix.
// - BFCL: the query is the user messages of the first turn joined with "\n";
//   system and assistant messages are left out (the system prompt is not
//   something Needle is given), later turns too. call_type is "none" for
//   irrelevance files, else from the number of ground-truth calls: one is
//   "single"; several are "parallel" in a category named parallel, else
//   "multi". An answer whose id has no question is reported as an error in
//   the answer file.
// - Needle and generic answers: [{"name","arguments":{...}}]; each argument
//   value becomes the one acceptable value. An answer must name a given tool.
// - Tool conversion (JSON-Schema style -> upstream Needle format for the
//   prompt, and ToolSchema in BFCL's vocabulary):
//       as written        prompt     schema
//       string            string     string
//       integer           integer    integer
//       float, number     number     float
//       boolean           boolean    boolean
//       array             array      array
//       tuple             array      tuple
//       dict, object      object     dict
//       any               string     any
//   Description, enum and required are kept; nested "properties" of a dict
//   parameter are not (upstream's format has no place for them), nor
//   "default" or BFCL's loose "optional" (BFCL's checker goes by "required").
//   A JSON-Schema "type" list such as ["string","null"] takes its first
//   non-null entry. Tools already in upstream Needle format go into the prompt
//   as written.
#include "needle/evals/dataset.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string_view>
#include <tuple>

#include "needle/file.h"
#include "needle/json.h"
#include "needle/str_cat.h"

namespace needle::evals {
namespace {

using OJson = nlohmann::ordered_json;

std::string Message(const absl::Status& status) { return std::string(status.message()); }

absl::Status FieldError(const std::string& path, const std::string& problem) {
  return absl::InvalidArgumentError(StrCat(path, ": ", problem));
}

std::string Child(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

std::string Index(const std::string& path, size_t i) { return StrCat(path, "[", i, "]"); }

// "expected a string, got number"
std::string Expected(const char* what, const OJson& value) {
  return StrCat("expected ", what, ", got ", value.type_name());
}

absl::StatusOr<const OJson*> Require(const OJson& object, const std::string& key, const std::string& path) {
  auto it = object.find(key);
  if (it == object.end()) return FieldError(Child(path, key), "missing");
  return &*it;
}

absl::StatusOr<std::string> RequireString(const OJson& object, const std::string& key, const std::string& path) {
  absl::StatusOr<const OJson*> value = Require(object, key, path);
  if (!value.ok()) return value.status();
  if (!(*value)->is_string()) return FieldError(Child(path, key), Expected("a string", **value));
  return (*value)->get<std::string>();
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
};

// The table in the comment at the top of this file.
const TypeNames* LookUpType(const std::string& written) {
  static constexpr TypeNames kTypes[] = {
      {"string", "string", "string"}, {"integer", "integer", "integer"}, {"float", "number", "float"},
      {"number", "number", "float"},  {"boolean", "boolean", "boolean"}, {"array", "array", "array"},
      {"tuple", "array", "tuple"},    {"dict", "object", "dict"},        {"object", "object", "dict"},
      {"any", "string", "any"},
  };
  for (const TypeNames& type : kTypes) {
    if (written == type.written) return &type;
  }
  return nullptr;
}

absl::StatusOr<const TypeNames*> ReadType(const OJson& param, const std::string& path) {
  absl::StatusOr<const OJson*> type = Require(param, "type", path);
  if (!type.ok()) return type.status();
  const std::string type_path = Child(path, "type");
  std::string written;
  if ((*type)->is_string()) {
    written = (*type)->get<std::string>();
  } else if ((*type)->is_array()) {
    for (const OJson& entry : **type) {
      if (entry.is_string() && entry != "null") {
        written = entry.get<std::string>();
        break;
      }
    }
    if (written.empty()) return FieldError(type_path, "no type other than null in the list");
  } else {
    return FieldError(type_path, Expected("a string", **type));
  }
  const TypeNames* names = LookUpType(written);
  if (names == nullptr) {
    return FieldError(type_path, StrCat("unknown type \"", written,
                                        "\" (known: string, integer, float, number, boolean, array, tuple, dict, "
                                        "object, any)"));
  }
  return names;
}

// One parameter, in either style. `prompt` receives its upstream-format form.
absl::StatusOr<ParamSchema> ConvertParam(const std::string& name, const OJson& param, bool json_schema,
                                         const std::string& path, OJson* prompt) {
  if (!param.is_object()) return FieldError(path, Expected("a parameter object", param));
  ParamSchema schema;
  schema.name = name;
  absl::StatusOr<const TypeNames*> type = ReadType(param, path);
  if (!type.ok()) return type.status();
  schema.type = (*type)->schema;
  absl::StatusOr<std::string> description = OptionalString(param, "description", path);
  if (!description.ok()) return description.status();
  if (auto items = param.find("items"); items != param.end()) {
    if (!items->is_object()) return FieldError(Child(path, "items"), Expected("an object", *items));
    if (items->contains("type")) {
      absl::StatusOr<const TypeNames*> item_type = ReadType(*items, Child(path, "items"));
      if (!item_type.ok()) return item_type.status();
      schema.item_type = (*item_type)->schema;
    }
  }
  if (auto required = param.find("required"); required != param.end()) {
    if (required->is_boolean()) {
      schema.required = required->get<bool>();
    } else if (!(json_schema && required->is_array())) {  // a list belongs to a nested object schema
      return FieldError(Child(path, "required"), Expected("true or false", *required));
    }
  }
  if (auto values = param.find("enum"); values != param.end()) {
    if (!values->is_array()) return FieldError(Child(path, "enum"), Expected("a list", *values));
    for (const OJson& value : *values) schema.enum_values.emplace_back(value);
  }
  *prompt = OJson::object();
  (*prompt)["type"] = (*type)->prompt;
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

absl::StatusOr<ToolSchema> ConvertTool(const OJson& raw, const std::string& raw_path, OJson* prompt) {
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

  const std::string params_path = Child(path, "parameters");
  auto parameters = tool.find("parameters");
  const bool has_parameters = parameters != tool.end() && !parameters->is_null();
  if (has_parameters && !parameters->is_object()) return FieldError(params_path, Expected("an object", *parameters));
  if (has_parameters && !IsJsonSchema(*parameters)) {
    for (const auto& [key, param] : parameters->items()) {
      OJson unused;
      absl::StatusOr<ParamSchema> converted = ConvertParam(key, param, false, Child(params_path, key), &unused);
      if (!converted.ok()) return converted.status();
      schema.params.push_back(*std::move(converted));
    }
    *prompt = tool;  // upstream format: prompted as written
    return schema;
  }

  // Without "parameters" a tool takes none; it is prompted in full form.
  const OJson no_parameters = OJson::object();
  const OJson& schema_parameters = has_parameters ? *parameters : no_parameters;
  const std::string type = schema_parameters.value("type", "object");  // IsJsonSchema: a string or absent
  if (type != "object" && type != "dict") {
    return FieldError(Child(params_path, "type"), StrCat("expected \"object\" or \"dict\", got \"", type, "\""));
  }
  std::vector<std::string> required;
  if (auto list = schema_parameters.find("required"); list != schema_parameters.end()) {
    if (!list->is_array()) return FieldError(Child(params_path, "required"), Expected("a list", *list));
    for (size_t i = 0; i < list->size(); ++i) {
      const OJson& entry = (*list)[i];
      if (!entry.is_string()) {
        return FieldError(Index(Child(params_path, "required"), i), Expected("a parameter name", entry));
      }
      required.push_back(entry.get<std::string>());
    }
  }
  OJson prompt_params = OJson::object();
  const std::string properties_path = Child(params_path, "properties");
  if (auto properties = schema_parameters.find("properties"); properties != schema_parameters.end()) {
    if (!properties->is_object()) return FieldError(properties_path, Expected("an object", *properties));
    for (const auto& [key, param] : properties->items()) {
      OJson prompt_param;
      absl::StatusOr<ParamSchema> converted =
          ConvertParam(key, param, true, Child(properties_path, key), &prompt_param);
      if (!converted.ok()) return converted.status();
      if (std::find(required.begin(), required.end(), key) != required.end()) {
        converted->required = true;
        prompt_param["required"] = true;
      }
      prompt_params[key] = std::move(prompt_param);
      schema.params.push_back(*std::move(converted));
    }
  }
  for (size_t i = 0; i < required.size(); ++i) {
    if (!prompt_params.contains(required[i])) {
      return FieldError(Index(Child(params_path, "required"), i),
                        StrCat("\"", required[i], "\" is not among the properties"));
    }
  }
  *prompt = OJson::object();
  (*prompt)["name"] = schema.name;
  (*prompt)["description"] = schema.description;
  (*prompt)["parameters"] = std::move(prompt_params);
  return schema;
}

// Fills the item's tools from a record's tool list.
absl::Status ReadTools(const OJson& tools, const std::string& where, EvalItem* item) {
  absl::StatusOr<ConvertedTools> converted = ConvertTools(tools, where);
  if (!converted.ok()) return converted.status();
  item->tools_json = std::move(converted->needle_json);
  item->tools = std::move(converted->schemas);
  return absl::OkStatus();
}

// An expected call must name one of the item's tools, or it can never match.
absl::Status CheckAnswerName(const EvalItem& item, const std::string& name, const std::string& path) {
  for (const ToolSchema& tool : item.tools) {
    if (tool.name == name) return absl::OkStatus();
  }
  return FieldError(path, StrCat("\"", name, "\" is not one of the item's tools"));
}

// Our answers: [{"name":..,"arguments":{..}}]; each value is the one acceptable value.
absl::Status ReadCallAnswers(const OJson& record, EvalItem* item) {
  absl::StatusOr<const OJson*> answers = Require(record, "answers", "");
  if (!answers.ok()) return answers.status();
  if (!(*answers)->is_array()) return FieldError("answers", Expected("a list of calls", **answers));
  for (size_t i = 0; i < (*answers)->size(); ++i) {
    const OJson& answer = (**answers)[i];
    const std::string path = Index("answers", i);
    if (!answer.is_object()) return FieldError(path, Expected("a call object", answer));
    ExpectedCall call;
    absl::StatusOr<std::string> name = RequireString(answer, "name", path);
    if (!name.ok()) return name.status();
    if (absl::Status status = CheckAnswerName(*item, *name, Child(path, "name")); !status.ok()) return status;
    call.name = *name;
    absl::StatusOr<const OJson*> arguments = Require(answer, "arguments", path);
    if (!arguments.ok()) return arguments.status();
    if (!(*arguments)->is_object()) return FieldError(Child(path, "arguments"), Expected("an object", **arguments));
    for (const auto& [key, value] : (*arguments)->items()) {
      call.params.emplace_back(key, std::vector<nlohmann::json>{nlohmann::json(value)});
    }
    item->answers.push_back(std::move(call));
  }
  return absl::OkStatus();
}

const char* CallTypeFromCount(size_t calls) {
  if (calls == 0) return "none";
  return calls == 1 ? "single" : "multi";
}

absl::StatusOr<EvalItem> ReadNeedleRecord(const OJson& record) {
  EvalItem item;
  for (auto [field, target] : {std::pair<const char*, std::string*>{"id", &item.id},
                               {"category", &item.category},
                               {"call_type", &item.call_type},
                               {"query", &item.query}}) {
    absl::StatusOr<std::string> value = RequireString(record, field, "");
    if (!value.ok()) return value.status();
    *target = *std::move(value);
  }
  if (item.id.empty()) return FieldError("id", "empty id");
  absl::StatusOr<const OJson*> tools = Require(record, "tools", "");
  if (!tools.ok()) return tools.status();
  if (absl::Status status = ReadTools(**tools, "tools", &item); !status.ok()) return status;
  if (absl::Status status = ReadCallAnswers(record, &item); !status.ok()) return status;
  return item;
}

absl::StatusOr<EvalItem> ReadGenericRecord(const OJson& record, const std::string& stem, int line) {
  EvalItem item;
  item.id = StrCat(stem, "_", line);
  absl::StatusOr<std::string> query = RequireString(record, "query", "");
  if (!query.ok()) return query.status();
  item.query = *std::move(query);
  absl::StatusOr<std::string> category = OptionalString(record, "category", "");
  if (!category.ok()) return category.status();
  item.category = category->empty() ? "all" : *std::move(category);
  absl::StatusOr<const OJson*> tools = Require(record, "tools", "");
  if (!tools.ok()) return tools.status();
  if (absl::Status status = ReadTools(**tools, "tools", &item); !status.ok()) return status;
  if (absl::Status status = ReadCallAnswers(record, &item); !status.ok()) return status;
  item.call_type = CallTypeFromCount(item.answers.size());
  return item;
}

absl::StatusOr<EvalItem> ReadBfclQuestion(const OJson& record, const std::string& category) {
  EvalItem item;
  item.category = category;
  absl::StatusOr<std::string> id = RequireString(record, "id", "");
  if (!id.ok()) return id.status();
  if (id->empty()) return FieldError("id", "empty id");
  item.id = *std::move(id);
  absl::StatusOr<const OJson*> question = Require(record, "question", "");
  if (!question.ok()) return question.status();
  if (!(*question)->is_array() || (*question)->empty()) {
    return FieldError("question", Expected("a non-empty list of turns", **question));
  }
  const OJson& turn = (**question)[0];
  if (!turn.is_array()) return FieldError("question[0]", Expected("a list of messages", turn));
  for (size_t i = 0; i < turn.size(); ++i) {
    const std::string path = StrCat("question[0][", i, "]");
    if (!turn[i].is_object()) return FieldError(path, Expected("a message object", turn[i]));
    absl::StatusOr<std::string> role = RequireString(turn[i], "role", path);
    if (!role.ok()) return role.status();
    if (*role != "user") continue;
    absl::StatusOr<std::string> content = RequireString(turn[i], "content", path);
    if (!content.ok()) return content.status();
    item.query += item.query.empty() ? *content : "\n" + *content;
  }
  if (item.query.empty()) return FieldError("question[0]", "no user message with text");
  absl::StatusOr<const OJson*> functions = Require(record, "function", "");
  if (!functions.ok()) return functions.status();
  if (absl::Status status = ReadTools(**functions, "function", &item); !status.ok()) return status;
  return item;
}

// {"id", "ground_truth":[{"func_name":{"param":[acceptable...]}}]}
absl::StatusOr<std::pair<std::string, std::vector<ExpectedCall>>> ReadBfclAnswer(const OJson& record) {
  absl::StatusOr<std::string> id = RequireString(record, "id", "");
  if (!id.ok()) return id.status();
  absl::StatusOr<const OJson*> truth = Require(record, "ground_truth", "");
  if (!truth.ok()) return truth.status();
  if (!(*truth)->is_array()) return FieldError("ground_truth", Expected("a list of calls", **truth));
  std::vector<ExpectedCall> calls;
  for (size_t i = 0; i < (*truth)->size(); ++i) {
    const OJson& entry = (**truth)[i];
    const std::string path = Index("ground_truth", i);
    if (!entry.is_object() || entry.size() != 1) {
      return FieldError(path, StrCat("expected an object with one function name, got ",
                                     entry.is_object() ? StrCat(entry.size(), " keys") : entry.type_name()));
    }
    ExpectedCall call;
    call.name = entry.begin().key();
    const OJson& params = entry.begin().value();
    const std::string call_path = Child(path, call.name);
    if (!params.is_object()) return FieldError(call_path, Expected("an object of parameters", params));
    for (const auto& [key, acceptable] : params.items()) {
      if (!acceptable.is_array()) {
        return FieldError(Child(call_path, key), Expected("a list of acceptable values", acceptable));
      }
      call.params.emplace_back(key, std::vector<nlohmann::json>(acceptable.begin(), acceptable.end()));
    }
    calls.push_back(std::move(call));
  }
  return std::make_pair(*std::move(id), std::move(calls));
}

struct Line {
  int number;
  std::string_view text;
};

std::vector<Line> SplitLines(std::string_view content) {
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  if (content.substr(0, kBom.size()) == kBom) content.remove_prefix(kBom.size());
  std::vector<Line> lines;
  int number = 0;
  while (!content.empty()) {
    const size_t end = content.find('\n');
    std::string_view text = content.substr(0, end);
    content.remove_prefix(end == std::string_view::npos ? content.size() : end + 1);
    ++number;
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (text.find_first_not_of(" \t\r") != std::string_view::npos) lines.push_back({number, text});
  }
  return lines;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  constexpr size_t kMaxDatasetBytes = size_t{1} << 30;
  absl::StatusOr<std::string> bytes = ReadRegularFile(path, kMaxDatasetBytes);
  if (!bytes.ok()) {
    return absl::Status(bytes.status().code(), StrCat("dataset file ", std::string(bytes.status().message())));
  }
  return bytes;
}

absl::StatusOr<OJson> ParseRecord(std::string_view text) {
  absl::StatusOr<OJson> record = ParseJson<OJson>(text);
  if (!record.ok()) return absl::InvalidArgumentError(StrCat("invalid JSON: ", std::string(record.status().message())));
  if (!record->is_object()) return absl::InvalidArgumentError(Expected("a JSON object per line", *record));
  return record;
}

// Parses every line; bad ones become errors, good ones go to `on_record`,
// whose error status is recorded against the line too.
template <typename OnRecord>
void ForEachRecord(const std::string& file, const std::vector<Line>& lines, std::vector<DatasetError>* errors,
                   OnRecord on_record) {
  for (const Line& line : lines) {
    absl::StatusOr<OJson> record = ParseRecord(line.text);
    absl::Status status = record.ok() ? on_record(*record, line.number) : record.status();
    if (!status.ok()) errors->push_back({file, line.number, Message(status)});
  }
}

// Remembers where each id was first seen, to refuse a second record with it.
class IdRegistry {
 public:
  absl::Status Claim(const std::string& id, int line) {
    auto [it, inserted] = first_line_.emplace(id, line);
    if (inserted) return absl::OkStatus();
    return FieldError("id", StrCat("duplicate id \"", id, "\" (first on line ", it->second, ")"));
  }
  bool Has(const std::string& id) const { return first_line_.count(id) != 0; }

 private:
  std::map<std::string, int> first_line_;
};

absl::StatusOr<DatasetFormat> DetectFormat(const std::string& path, const std::vector<Line>& lines) {
  for (const Line& line : lines) {
    absl::StatusOr<OJson> record = ParseRecord(line.text);
    if (!record.ok()) continue;
    if (record->contains("question") || record->contains("function")) return DatasetFormat::kBfcl;
    if (record->contains("id") || record->contains("call_type")) return DatasetFormat::kNeedle;
    if (record->contains("query")) return DatasetFormat::kGeneric;
    std::string fields;
    for (const auto& [key, value] : record->items()) fields += (fields.empty() ? "" : ", ") + key;
    return absl::InvalidArgumentError(
        StrCat(path, ":", line.number, ": cannot tell the dataset format from the fields (", fields,
               "): expected needle (id, category, call_type, query, tools, answers), BFCL (id, question, function) "
               "or generic (query, tools, answers); a prefix needle:, bfcl: or generic: forces one"));
  }
  return absl::InvalidArgumentError(StrCat(path, ": no readable record (", lines.size(), " non-blank lines)"));
}

// "BFCL_v4_simple_python" -> "simple_python"; other names are kept.
std::string BfclCategory(const std::string& stem) {
  constexpr std::string_view kPrefix = "BFCL_v";
  if (stem.compare(0, kPrefix.size(), kPrefix) != 0) return stem;
  size_t end = kPrefix.size();
  while (end < stem.size() && std::isdigit(static_cast<unsigned char>(stem[end]))) ++end;
  if (end == kPrefix.size() || end >= stem.size() || stem[end] != '_') return stem;
  return stem.substr(end + 1);
}

absl::Status LoadBfcl(const std::string& path, const std::vector<Line>& lines, Dataset* dataset) {
  const std::filesystem::path file(path);
  const std::string category = BfclCategory(file.stem().string());
  dataset->name = "bfcl_" + category;
  const bool irrelevance = file.filename().string().find("irrelevance") != std::string::npos;

  struct Question {
    EvalItem item;
    int line;
  };
  std::vector<Question> questions;
  IdRegistry question_ids;
  ForEachRecord(path, lines, &dataset->errors, [&](const OJson& record, int line) -> absl::Status {
    absl::StatusOr<EvalItem> item = ReadBfclQuestion(record, category);
    if (!item.ok()) return item.status();
    if (absl::Status status = question_ids.Claim(item->id, line); !status.ok()) return status;
    questions.push_back({*std::move(item), line});
    return absl::OkStatus();
  });

  if (irrelevance) {
    for (Question& question : questions) {
      question.item.call_type = "none";
      dataset->items.push_back(std::move(question.item));
    }
    return absl::OkStatus();
  }

  const std::string answer_path = (file.parent_path() / "possible_answer" / file.filename()).string();
  absl::StatusOr<std::string> answer_content = ReadFile(answer_path);
  if (!answer_content.ok()) {
    return absl::NotFoundError(StrCat("BFCL answers for ", path, ": ", Message(answer_content.status()),
                                      " (only irrelevance categories come without answers)"));
  }
  struct Answer {
    std::vector<ExpectedCall> calls;
    int line;
    bool used = false;
  };
  std::map<std::string, Answer> answers;
  IdRegistry answer_ids;
  ForEachRecord(answer_path, SplitLines(*answer_content), &dataset->errors,
                [&](const OJson& record, int line) -> absl::Status {
                  auto answer = ReadBfclAnswer(record);
                  if (!answer.ok()) return answer.status();
                  if (absl::Status status = answer_ids.Claim(answer->first, line); !status.ok()) return status;
                  answers.emplace(answer->first, Answer{std::move(answer->second), line});
                  return absl::OkStatus();
                });

  for (Question& question : questions) {
    EvalItem& item = question.item;
    auto it = answers.find(item.id);
    if (it == answers.end()) {
      dataset->errors.push_back({path, question.line, StrCat("id: no answer for \"", item.id, "\" in ", answer_path)});
      continue;
    }
    it->second.used = true;
    absl::Status status;
    for (size_t i = 0; i < it->second.calls.size() && status.ok(); ++i) {
      status = CheckAnswerName(item, it->second.calls[i].name, Index("ground_truth", i));
    }
    if (!status.ok()) {
      dataset->errors.push_back({answer_path, it->second.line, Message(status)});
      continue;
    }
    item.answers = std::move(it->second.calls);
    if (item.answers.size() > 1) {
      item.call_type = category.find("parallel") != std::string::npos ? "parallel" : "multi";
    } else {
      item.call_type = CallTypeFromCount(item.answers.size());
    }
    dataset->items.push_back(std::move(item));
  }
  for (const auto& [id, answer] : answers) {
    if (!answer.used && !question_ids.Has(id)) {
      dataset->errors.push_back(
          {answer_path, answer.line, StrCat("id: answer for \"", id, "\" has no readable question")});
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ConvertedTools> ConvertTools(const OJson& tools, const std::string& where) {
  if (!tools.is_array()) return FieldError(where, Expected("a list of tools", tools));
  ConvertedTools converted;
  OJson prompt_tools = OJson::array();
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < tools.size(); ++i) {
    OJson prompt;
    absl::StatusOr<ToolSchema> tool = ConvertTool(tools[i], Index(where, i), &prompt);
    if (!tool.ok()) return tool.status();
    if (auto [it, inserted] = seen.emplace(tool->name, i); !inserted) {
      return FieldError(Index(where, i),
                        StrCat("duplicate tool name \"", tool->name, "\" (also ", Index(where, it->second), ")"));
    }
    prompt_tools.push_back(std::move(prompt));
    converted.schemas.push_back(*std::move(tool));
  }
  converted.needle_json = prompt_tools.dump(-1, ' ', false, OJson::error_handler_t::replace);
  return converted;
}

absl::StatusOr<Dataset> LoadDataset(const std::string& spec) {
  DatasetFormat format = DatasetFormat::kAuto;
  std::string path = spec;
  for (auto [prefix, forced] : {std::pair<std::string_view, DatasetFormat>{"needle:", DatasetFormat::kNeedle},
                                {"bfcl:", DatasetFormat::kBfcl},
                                {"generic:", DatasetFormat::kGeneric}}) {
    if (std::string_view(spec).substr(0, prefix.size()) == prefix) {
      format = forced;
      path = spec.substr(prefix.size());
    }
  }
  absl::StatusOr<std::string> content = ReadFile(path);
  if (!content.ok()) return content.status();
  const std::vector<Line> lines = SplitLines(*content);
  if (format == DatasetFormat::kAuto) {
    absl::StatusOr<DatasetFormat> detected = DetectFormat(path, lines);
    if (!detected.ok()) return detected.status();
    format = *detected;
  }

  Dataset dataset;
  dataset.name = std::filesystem::path(path).stem().string();
  if (format == DatasetFormat::kBfcl) {
    if (absl::Status status = LoadBfcl(path, lines, &dataset); !status.ok()) return status;
  } else {
    IdRegistry ids;
    ForEachRecord(path, lines, &dataset.errors, [&](const OJson& record, int line) -> absl::Status {
      absl::StatusOr<EvalItem> item =
          format == DatasetFormat::kNeedle ? ReadNeedleRecord(record) : ReadGenericRecord(record, dataset.name, line);
      if (!item.ok()) return item.status();
      if (absl::Status status = ids.Claim(item->id, line); !status.ok()) return status;
      dataset.items.push_back(*std::move(item));
      return absl::OkStatus();
    });
  }
  // Readers report some problems only after a whole pass; users want them in file order.
  std::stable_sort(dataset.errors.begin(), dataset.errors.end(), [](const DatasetError& a, const DatasetError& b) {
    return std::tie(a.file, a.line) < std::tie(b.file, b.line);
  });
  if (dataset.items.empty()) {
    std::string first_error;
    if (!dataset.errors.empty()) {
      const DatasetError& error = dataset.errors.front();
      first_error = StrCat("; first error: ", error.file, ":", error.line, ": ", error.message);
    }
    return absl::InvalidArgumentError(
        StrCat(path, ": no readable record (", dataset.errors.size(), " bad records", first_error, ")"));
  }
  return dataset;
}

}  // namespace needle::evals
