// Dataset readers. Choices written down here (the accepted shapes are
// tabled in docs/evals.md):
//
// - Records are parsed with nlohmann::ordered_json so that tools keep the key
//   order of the file: the model is prompted with parameters in that order.
// - Lines: a UTF-8 BOM at the start of the file, "\r" before "\n", blank lines
//   and a missing final newline are all accepted. Line numbers are physical
//   lines of the file, 1-based. A file starting with '[' is one JSON array;
//   each element's "line" is the line where it starts.
// - Format detection looks at the first line that is a JSON object: a
//   "function" list or "question" turns (a list of lists) mean BFCL;
//   "call_type" means needle; any query field the generic reader knows means
//   generic.
// - BFCL: the query is the user messages of the first turn joined with "\n";
//   chat systems get the whole first turn (system messages too) as
//   messages_json; later turns are left out. call_type is "none" for
//   irrelevance files, else from the number of ground-truth calls: one is
//   "single"; several are "parallel" in a category named parallel, else
//   "multi". An answer whose id has no question is reported as an error in
//   the answer file.
// - Needle and generic answers: each argument value becomes the one
//   acceptable value (BFCL-shaped ground truth keeps its lists). An answer
//   must name a given tool.
// - Tools are converted by toolcalls::ConvertTools (its rules at the top of
//   toolcalls/src/convert_tools.cc); what it adapted is counted in
//   Dataset::mapped.
#include "needle/evals/dataset.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string_view>
#include <tuple>

#include "needle/ascii.h"
#include "needle/evals/python_call.h"
#include "needle/file.h"
#include "needle/json.h"
#include "needle/json_error.h"
#include "needle/json_string_scanner.h"
#include "needle/str_cat.h"
#include "needle/toolcalls/big_int.h"
#include "needle/toolcalls/call.h"

namespace needle::evals {

using toolcalls::ConvertedTools;
using toolcalls::ConvertTools;
using toolcalls::DumpKeepingBigInts;
using toolcalls::MappingCounts;
using toolcalls::ParsedOutput;
using toolcalls::ParseJsonKeepingBigInts;
using toolcalls::ParseOutput;
using toolcalls::ToolCall;
using toolcalls::ToolSchema;

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

// Fills the item's tools from a record's tool list.
absl::Status ReadTools(const OJson& tools, const std::string& where, EvalItem* item, MappingCounts* mapped = nullptr) {
  absl::StatusOr<ConvertedTools> converted = ConvertTools(tools, where, mapped);
  if (!converted.ok()) return converted.status();
  item->tools_json = std::move(converted->needle_json);
  item->openai_tools_json = std::move(converted->openai_json);
  item->tools = std::move(converted->schemas);
  return absl::OkStatus();
}

// An expected call must name one of the item's tools, or it can never match.
const ToolSchema* FindTool(const EvalItem& item, const std::string& name) {
  for (const ToolSchema& tool : item.tools) {
    if (tool.name == name) return &tool;
  }
  return nullptr;
}

absl::Status CheckAnswerName(const EvalItem& item, const std::string& name, const std::string& path) {
  if (FindTool(item, name) != nullptr) return absl::OkStatus();
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

// ---- The generic reader: the shapes other tool-calling sets use (table at the top). ----

absl::StatusOr<ExpectedCall> ReadBfclCall(const OJson& entry, const std::string& path);

// The first of `keys` that the record has; `which` receives its name.
const OJson* FirstField(const OJson& record, std::initializer_list<const char*> keys, std::string* which) {
  for (const char* key : keys) {
    if (auto it = record.find(key); it != record.end()) {
      *which = key;
      return &*it;
    }
  }
  return nullptr;
}

constexpr std::initializer_list<const char*> kQueryKeys = {
    "query", "question", "prompt", "instruction", "input", "user_query", "messages", "conversation", "conversations"};
constexpr std::initializer_list<const char*> kToolKeys = {"tools", "functions", "function", "available_tools", "apis"};
constexpr std::initializer_list<const char*> kAnswerKeys = {"answers", "answer",     "ground_truth", "expected",
                                                            "calls",   "tool_calls", "output",       "target"};
constexpr std::initializer_list<const char*> kLabelKeys = {"correct_answer", "expected_behavior", "label",
                                                           "answer_type"};
constexpr std::initializer_list<const char*> kNameKeys = {"name",          "tool",     "tool_name",
                                                          "function_name", "api_name", "api"};
constexpr std::initializer_list<const char*> kArgumentKeys = {"arguments", "parameters", "args",
                                                              "params",    "input",      "kwargs"};

void Count(MappingCounts* mapped, const std::string& what) {
  if (mapped != nullptr) ++(*mapped)[what];
}

// A JSON value written as a string inside the record.
absl::StatusOr<OJson> ParseEmbedded(const std::string& text, const std::string& path) {
  absl::StatusOr<OJson> value = ParseJsonKeepingBigInts(text);  // the nesting limit holds here too
  if (!value.ok())
    return FieldError(path, StrCat("a string that is not valid JSON: ", std::string(value.status().message())));
  return value;
}

// A message's text: a string, a list of {"type":"text","text":..} parts, or null.
absl::StatusOr<std::string> MessageText(const OJson& content, const std::string& path) {
  if (content.is_null()) return std::string();
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) return FieldError(path, Expected("a string or a list of text parts", content));
  std::string text;
  for (size_t i = 0; i < content.size(); ++i) {
    const OJson& part = content[i];
    if (part.is_string()) {
      text += part.get<std::string>();
    } else if (part.is_object() && part.contains("text") && part["text"].is_string()) {
      text += part["text"].get<std::string>();
    } else {
      return FieldError(Index(path, i), Expected("a text part", part));
    }
  }
  return text;
}

// Chat messages: [{"role","content"}] (also ShareGPT's {"from","value"}), or
// BFCL-style turns, a list of such lists. The query is the user messages'
// text joined with "\n"; the messages are kept for chat systems.
absl::Status ReadMessages(const OJson& list, const std::string& path, EvalItem* item, OJson* messages,
                          MappingCounts* mapped) {
  std::vector<std::pair<const OJson*, std::string>> flat;
  for (size_t i = 0; i < list.size(); ++i) {
    if (list[i].is_array()) {
      for (size_t j = 0; j < list[i].size(); ++j) flat.emplace_back(&list[i][j], StrCat(Index(path, i), "[", j, "]"));
    } else {
      flat.emplace_back(&list[i], Index(path, i));
    }
  }
  for (const auto& [message, where] : flat) {
    if (!message->is_object()) return FieldError(where, Expected("a message object", *message));
    std::string role;
    if (auto it = message->find("role"); it != message->end() && it->is_string()) {
      role = it->get<std::string>();
    } else if (auto from = message->find("from"); from != message->end() && from->is_string()) {
      static const std::map<std::string, std::string> kShareGpt = {
          {"human", "user"},          {"user", "user"},     {"gpt", "assistant"},
          {"assistant", "assistant"}, {"system", "system"}, {"function_call", "assistant"},
          {"observation", "tool"},    {"tool", "tool"}};
      auto known = kShareGpt.find(from->get<std::string>());
      if (known == kShareGpt.end()) return FieldError(Child(where, "from"), StrCat("unknown speaker \"", *from, "\""));
      role = known->second;
    } else {
      return FieldError(Child(where, "role"), "missing");
    }
    const char* content_key = message->contains("content") ? "content" : "value";
    absl::StatusOr<std::string> text = MessageText(message->value(content_key, OJson()), Child(where, content_key));
    if (!text.ok()) return text.status();
    if (role == "user" && !text->empty()) item->query += item->query.empty() ? *text : "\n" + *text;
    messages->push_back({{"role", role}, {"content", *text}});
  }
  if (item->query.empty()) return FieldError(path, "no user message with text");
  Count(mapped, "queries given as chat messages");
  return absl::OkStatus();
}

// What a label says: true when a call is expected, false when not.
absl::StatusOr<bool> LabelExpectsCall(const std::string& label, const std::string& path) {
  static const std::set<std::string> kCall = {"tool_call", "tool_calls", "call", "function_call", "relevant"};
  static const std::set<std::string> kNoCall = {
      "no_call",       "no_tool_call",     "none",   "irrelevant", "irrelevance",
      "cannot_answer", "request_for_info", "direct", "refuse",     "no_function"};
  const std::string lower = AsciiLower(label);
  if (kCall.count(lower) != 0) return true;
  if (kNoCall.count(lower) != 0) return false;
  return FieldError(path, StrCat("unknown label \"", label,
                                 "\" (a call: tool_call, call, function_call, relevant; no call: no_call, none, "
                                 "irrelevant, cannot_answer, request_for_info, direct, refuse)"));
}

// Each argument of a call becomes the one acceptable value of its parameter.
void AddArgumentsAsAnswers(const OJson& arguments, ExpectedCall* call) {
  for (const auto& [key, argument] : arguments.items()) {
    call->params.emplace_back(key, std::vector<nlohmann::json>{nlohmann::json(argument)});
  }
}

absl::StatusOr<std::vector<ExpectedCall>> ReadAnswerValue(const OJson& value, const std::string& path,
                                                          const EvalItem& item, MappingCounts* mapped, int depth);

// One call object, in any of the shapes in the table at the top.
absl::StatusOr<ExpectedCall> ReadAnswerCall(const OJson& raw, const std::string& raw_path, const EvalItem& item,
                                            MappingCounts* mapped) {
  const bool wrapped = !raw.contains("name") && raw.contains("function") && raw["function"].is_object();
  const OJson& call_object = wrapped ? raw["function"] : raw;
  const std::string path = wrapped ? Child(raw_path, "function") : raw_path;
  if (wrapped) Count(mapped, "answers as {function: {name, arguments}}");
  ExpectedCall call;
  std::string name_key;
  const OJson* name = FirstField(call_object, kNameKeys, &name_key);
  if (name == nullptr && call_object.size() == 1 && call_object.begin().value().is_object()) {
    // BFCL's ground truth: {"func": {"param": [acceptable values]}}.
    absl::StatusOr<ExpectedCall> bfcl = ReadBfclCall(call_object, path);
    if (!bfcl.ok()) return bfcl.status();
    call = *std::move(bfcl);
    Count(mapped, "answers as BFCL ground truth {name: {param: [values]}}");
  } else {
    if (name == nullptr)
      return FieldError(Child(path, "name"), "missing (also looked for tool, tool_name, function_name)");
    if (!name->is_string() || name->get_ref<const std::string&>().empty()) {
      return FieldError(Child(path, name_key), Expected("a tool name", *name));
    }
    call.name = name->get<std::string>();
    std::string arguments_key;
    const OJson* found = FirstField(call_object, kArgumentKeys, &arguments_key);
    OJson arguments = found == nullptr || found->is_null() ? OJson::object() : *found;
    if (name_key != "name" || (found != nullptr && arguments_key != "arguments")) {
      Count(mapped, StrCat("answers as {", name_key, ", ", found == nullptr ? "arguments" : arguments_key, "}"));
    }
    if (arguments.is_string()) {
      const std::string text = arguments.get<std::string>();
      absl::StatusOr<OJson> decoded =
          TrimAsciiSpace(text).empty() ? OJson::object() : ParseEmbedded(text, Child(path, arguments_key));
      if (!decoded.ok()) return decoded.status();
      arguments = *std::move(decoded);
      Count(mapped, "arguments as a JSON string");
    }
    if (!arguments.is_object()) return FieldError(Child(path, arguments_key), Expected("an object", arguments));
    AddArgumentsAsAnswers(arguments, &call);
  }
  if (absl::Status status = CheckAnswerName(item, call.name, Child(path, "name")); !status.ok()) return status;
  return call;
}

absl::StatusOr<std::vector<ExpectedCall>> ReadPythonAnswers(const std::string& text, const std::string& path,
                                                            const EvalItem& item, MappingCounts* mapped) {
  absl::StatusOr<std::vector<PythonCall>> calls = ParsePythonCalls(text);
  if (!calls.ok()) {
    return FieldError(path, StrCat("neither JSON nor a Python call: ", std::string(calls.status().message())));
  }
  std::vector<ExpectedCall> expected;
  for (PythonCall& python : *calls) {
    const ToolSchema* tool = FindTool(item, python.name);
    if (tool == nullptr) return FieldError(path, StrCat("\"", python.name, "\" is not one of the item's tools"));
    ExpectedCall call;
    call.name = python.name;
    // Positional arguments take the tool's parameters in their order, as Python would bind them.
    if (python.positional_arguments.size() > tool->params.size()) {
      return FieldError(path, StrCat(python.name, " takes ", tool->params.size(), " parameters, given ",
                                     python.positional_arguments.size(), " positional arguments"));
    }
    for (size_t i = 0; i < python.positional_arguments.size(); ++i) {
      if (python.keyword_arguments.contains(tool->params[i].name)) {
        return FieldError(path, StrCat(python.name, ": \"", tool->params[i].name, "\" given twice"));
      }
      call.params.emplace_back(tool->params[i].name,
                               std::vector<nlohmann::json>{nlohmann::json(python.positional_arguments[i])});
    }
    AddArgumentsAsAnswers(python.keyword_arguments, &call);
    expected.push_back(std::move(call));
  }
  Count(mapped, "answers as Python call strings");
  return expected;
}

absl::StatusOr<std::vector<ExpectedCall>> ReadAnswerValue(const OJson& value, const std::string& path,
                                                          const EvalItem& item, MappingCounts* mapped, int depth) {
  if (depth > 2) return FieldError(path, "answers nested in strings too deeply");
  if (value.is_null()) return std::vector<ExpectedCall>();
  if (value.is_string()) {
    const std::string text = value.get<std::string>();
    const std::string_view trimmed = TrimAsciiSpace(text);
    if (trimmed.empty()) return std::vector<ExpectedCall>();
    const bool json_like = trimmed.front() == '{' || (trimmed.front() == '[' && trimmed.find('(') == std::string::npos);
    if (trimmed.front() == '<') {  // Hermes <tool_call> or FunctionGemma text, as a model writes it
      ParsedOutput parsed = ParseOutput(text);
      if (!parsed.parsed) return FieldError(path, StrCat("tagged calls that do not read: ", parsed.error));
      std::vector<ExpectedCall> calls;
      for (const ToolCall& call : parsed.calls) {
        if (absl::Status status = CheckAnswerName(item, call.name, path); !status.ok()) return status;
        ExpectedCall expected{call.name, {}};
        AddArgumentsAsAnswers(call.arguments, &expected);
        calls.push_back(std::move(expected));
      }
      Count(mapped, StrCat("answers as ", parsed.format, " text"));
      return calls;
    }
    if (!json_like) return ReadPythonAnswers(text, path, item, mapped);
    absl::StatusOr<OJson> decoded = ParseEmbedded(text, path);
    if (!decoded.ok()) {
      if (trimmed.front() == '[') return ReadPythonAnswers(text, path, item, mapped);
      return decoded.status();
    }
    Count(mapped, "answers as JSON strings");
    return ReadAnswerValue(*decoded, path, item, mapped, depth + 1);
  }
  if (value.is_object()) {
    absl::StatusOr<ExpectedCall> call = ReadAnswerCall(value, path, item, mapped);
    if (!call.ok()) return call.status();
    return std::vector<ExpectedCall>{*std::move(call)};
  }
  if (!value.is_array()) return FieldError(path, Expected("a list of calls", value));
  std::vector<ExpectedCall> calls;
  for (size_t i = 0; i < value.size(); ++i) {
    absl::StatusOr<std::vector<ExpectedCall>> some =
        value[i].is_array() ? FieldError(Index(path, i), "expected a call, got a list")
                            : ReadAnswerValue(value[i], Index(path, i), item, mapped, depth);
    if (!some.ok()) return some.status();
    for (ExpectedCall& call : *some) calls.push_back(std::move(call));
  }
  return calls;
}

absl::StatusOr<EvalItem> ReadGenericRecord(const OJson& record, const std::string& stem, int line,
                                           MappingCounts* mapped) {
  EvalItem item;
  item.id = StrCat(stem, "_", line);
  std::string key;
  if (const OJson* id = FirstField(record, {"id", "uuid", "sample_id", "question_id"}, &key); id != nullptr) {
    if (id->is_string() && !id->get_ref<const std::string&>().empty()) item.id = id->get<std::string>();
    if (id->is_number_integer()) item.id = id->dump();  // not "<file>_<n>": that names line n
  }
  // Other sets' categories may be lists or numbers; only a name groups the report.
  auto category = record.find("category");
  const bool named =
      category != record.end() && category->is_string() && !category->get_ref<const std::string&>().empty();
  item.category = named ? category->get<std::string>() : "all";

  // Tools first: answers given as Python calls bind positional arguments by the tools' parameters.
  const OJson* tools = FirstField(record, kToolKeys, &key);
  if (tools == nullptr) return FieldError("tools", "missing (also looked for functions, function, available_tools)");
  const std::string tools_key = key;
  OJson tool_list = *tools;
  if (tool_list.is_string()) {
    absl::StatusOr<OJson> decoded = ParseEmbedded(tool_list.get<std::string>(), tools_key);
    if (!decoded.ok()) return decoded.status();
    tool_list = *std::move(decoded);
    Count(mapped, "tool lists as a JSON string");
  }
  if (tool_list.is_object()) tool_list = OJson::array({std::move(tool_list)});
  if (absl::Status status = ReadTools(tool_list, tools_key, &item, mapped); !status.ok()) return status;

  OJson messages = OJson::array();
  for (const char* system_key : {"system", "system_prompt"}) {
    if (auto system = record.find(system_key); system != record.end() && system->is_string()) {
      messages.push_back({{"role", "system"}, {"content", *system}});
    }
  }
  const OJson* query = FirstField(record, kQueryKeys, &key);
  if (query == nullptr) return FieldError("query", "missing (also looked for question, prompt, messages, ...)");
  if (query->is_string()) {
    item.query = query->get<std::string>();
    if (!messages.empty()) messages.push_back({{"role", "user"}, {"content", item.query}});
  } else if (query->is_array()) {
    if (absl::Status status = ReadMessages(*query, key, &item, &messages, mapped); !status.ok()) return status;
  } else {
    return FieldError(key, Expected("a string or a list of chat messages", *query));
  }
  if (!messages.empty()) item.messages_json = DumpKeepingBigInts(messages);

  std::optional<bool> label_expects_call;
  std::string label;
  if (const OJson* found = FirstField(record, kLabelKeys, &key); found != nullptr && found->is_string()) {
    label = found->get<std::string>();
    absl::StatusOr<bool> expects = LabelExpectsCall(label, key);
    if (!expects.ok()) return expects.status();
    label_expects_call = *expects;
  }
  const OJson* answers = FirstField(record, kAnswerKeys, &key);
  if (label_expects_call == false) {
    Count(mapped, "no call expected, by a label");
  } else if (answers == nullptr) {
    return FieldError("answers",
                      "missing (also looked for answer, ground_truth, calls, tool_calls, output; or a "
                      "label such as correct_answer saying no call is expected)");
  } else {
    // A label picks its entry from answers keyed by label, as When2Call-style sets store them.
    const OJson* chosen = answers;
    std::string path = key;
    if (label_expects_call && answers->is_object() && answers->contains(label)) {
      chosen = &(*answers)[label];
      path = Child(key, label);
    }
    absl::StatusOr<std::vector<ExpectedCall>> calls = ReadAnswerValue(*chosen, path, item, mapped, 0);
    if (!calls.ok()) return calls.status();
    if (label_expects_call && calls->empty()) return FieldError(path, "the label expects a call, and none is given");
    item.answers = *std::move(calls);
  }
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
  OJson messages = OJson::array();
  for (size_t i = 0; i < turn.size(); ++i) {
    const std::string path = StrCat("question[0][", i, "]");
    if (!turn[i].is_object()) return FieldError(path, Expected("a message object", turn[i]));
    absl::StatusOr<std::string> role = RequireString(turn[i], "role", path);
    if (!role.ok()) return role.status();
    absl::StatusOr<std::string> content = RequireString(turn[i], "content", path);
    if (!content.ok()) return content.status();
    messages.push_back({{"role", *role}, {"content", *content}});
    if (*role == "user") item.query += item.query.empty() ? *content : "\n" + *content;
  }
  if (item.query.empty()) return FieldError("question[0]", "no user message with text");
  // Chat systems get the turn whole; a lone user message is what they get without it.
  if (messages.size() > 1) item.messages_json = DumpKeepingBigInts(messages);
  absl::StatusOr<const OJson*> functions = Require(record, "function", "");
  if (!functions.ok()) return functions.status();
  if (absl::Status status = ReadTools(**functions, "function", &item); !status.ok()) return status;
  return item;
}

// One BFCL ground-truth call: {"func_name":{"param":[acceptable...]}}.
absl::StatusOr<ExpectedCall> ReadBfclCall(const OJson& entry, const std::string& path) {
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
  return call;
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
    absl::StatusOr<ExpectedCall> call = ReadBfclCall((**truth)[i], Index("ground_truth", i));
    if (!call.ok()) return call.status();
    calls.push_back(*std::move(call));
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

// A file that is one JSON array: each element becomes a "line" that starts
// where the element starts, so errors point at it. Only the array's own
// brackets, commas and strings are scanned here; elements are parsed later.
absl::StatusOr<std::vector<Line>> SplitArray(const std::string& path, std::string_view content) {
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  if (content.substr(0, kBom.size()) == kBom) content.remove_prefix(kBom.size());
  std::vector<Line> elements;
  int line = 1, start_line = 0, depth = 0;
  size_t start = std::string_view::npos;
  JsonStringScanner strings;
  bool closed = false;
  for (size_t i = 0; i < content.size(); ++i) {
    const char c = content[i];
    if (c == '\n') ++line;
    if (closed) {
      if (!std::isspace(static_cast<unsigned char>(c))) {
        return absl::InvalidArgumentError(StrCat(path, ":", line, ": text after the closing ']' of the array"));
      }
      continue;
    }
    if (strings.inside()) {
      strings.Feed(c);
      continue;
    }
    const bool top_level_separator = depth == 1 && (c == ',' || c == ']');
    if (top_level_separator) {
      if (start != std::string_view::npos) {
        elements.push_back({start_line, content.substr(start, i - start)});
        start = std::string_view::npos;
      } else if (c == ',') {
        return absl::InvalidArgumentError(StrCat(path, ":", line, ": empty element in the array"));
      }
      if (c == ']') closed = true;
      depth -= c == ']' ? 1 : 0;
      continue;
    }
    if (depth >= 1 && start == std::string_view::npos && !std::isspace(static_cast<unsigned char>(c))) {
      start = i;
      start_line = line;
    }
    strings.Feed(c);  // a quote opens a string
    if (c == '[' || c == '{') ++depth;
    if (c == ']' || c == '}') --depth;
    if (depth < 0) return absl::InvalidArgumentError(StrCat(path, ":", line, ": unbalanced '", std::string(1, c), "'"));
  }
  if (!closed) return absl::InvalidArgumentError(StrCat(path, ": the JSON array is not closed (file cut short?)"));
  return elements;
}

absl::StatusOr<OJson> ParseRecord(std::string_view text) {
  // Integers past 64 bits stay ints (BigInts): answers are checked with Python's types.
  absl::StatusOr<OJson> record = ParseJsonKeepingBigInts(text);
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
    auto question = record->find("question");
    const bool bfcl_turns =
        question != record->end() && question->is_array() && !question->empty() && (*question)[0].is_array();
    if (record->contains("function") || bfcl_turns) return DatasetFormat::kBfcl;
    if (record->contains("call_type")) return DatasetFormat::kNeedle;
    std::string key;
    if (FirstField(*record, kQueryKeys, &key) != nullptr) return DatasetFormat::kGeneric;
    std::string fields;
    for (const auto& [key, value] : record->items()) fields += (fields.empty() ? "" : ", ") + key;
    return absl::InvalidArgumentError(
        StrCat(path, ":", line.number, ": cannot tell the dataset format from the fields (", fields,
               "): expected needle (id, category, call_type, query, tools, answers), BFCL (id, question, function) "
               "or generic (query or messages, tools, answers: see docs/evals.md); a prefix needle:, bfcl: or "
               "generic: forces one"));
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

OJson ChatMessages(const EvalItem& item) {
  if (!item.messages_json.empty()) {
    OJson messages = OJson::parse(item.messages_json, nullptr, /*allow_exceptions=*/false);
    if (messages.is_array()) return messages;
  }
  return OJson::array({{{"role", "user"}, {"content", item.query}}});
}

absl::StatusOr<OJson> OpenAiTools(const EvalItem& item) {
  std::string text = item.openai_tools_json;
  if (text.empty()) {  // an item built by hand: its upstream-format tools, converted
    const OJson tools = OJson::parse(item.tools_json.empty() ? std::string("[]") : item.tools_json, nullptr,
                                     /*allow_exceptions=*/false);
    if (tools.is_discarded())
      return absl::InvalidArgumentError(StrCat("item \"", item.id, "\": tools_json is not valid JSON"));
    absl::StatusOr<ConvertedTools> converted = ConvertTools(tools, StrCat("item \"", item.id, "\": tools"));
    if (!converted.ok()) return converted.status();
    text = converted->openai_json;
  }
  OJson tools = OJson::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!tools.is_array()) return absl::InvalidArgumentError(StrCat("item \"", item.id, "\": tools are not a JSON list"));
  return tools;
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
  Dataset dataset;
  std::vector<Line> lines;
  if (const size_t first = content->find_first_not_of(" \t\r\n\xEF\xBB\xBF");
      first != std::string::npos && (*content)[first] == '[') {
    absl::StatusOr<std::vector<Line>> elements = SplitArray(path, *content);
    if (!elements.ok()) return elements.status();
    lines = *std::move(elements);
    ++dataset.mapped["whole file one JSON array, not JSON lines"];
  } else {
    lines = SplitLines(*content);
  }
  if (format == DatasetFormat::kAuto) {
    absl::StatusOr<DatasetFormat> detected = DetectFormat(path, lines);
    if (!detected.ok()) return detected.status();
    format = *detected;
  }

  dataset.name = std::filesystem::path(path).stem().string();
  dataset.format = format == DatasetFormat::kBfcl ? "bfcl" : format == DatasetFormat::kNeedle ? "needle" : "generic";
  if (format == DatasetFormat::kBfcl) {
    if (absl::Status status = LoadBfcl(path, lines, &dataset); !status.ok()) return status;
  } else {
    IdRegistry ids;
    ForEachRecord(path, lines, &dataset.errors, [&](const OJson& record, int line) -> absl::Status {
      absl::StatusOr<EvalItem> item = format == DatasetFormat::kNeedle
                                          ? ReadNeedleRecord(record)
                                          : ReadGenericRecord(record, dataset.name, line, &dataset.mapped);
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

absl::Status LimitItems(Dataset& dataset, double limit, int64_t seed) {
  if (!(limit >= 0) || (limit >= 1 && limit != std::floor(limit))) {
    return absl::InvalidArgumentError(StrCat("limit must be 0, a fraction in (0, 1) or a whole count, got ", limit));
  }
  const size_t size = dataset.items.size();
  if (limit == 0) return absl::OkStatus();
  const double wanted = limit < 1 ? std::ceil(limit * static_cast<double>(size)) : limit;
  const size_t count = std::min(size, static_cast<size_t>(wanted));
  if (count == size) return absl::OkStatus();
  if (seed < 0) {
    dataset.items.resize(count);
    return absl::OkStatus();
  }
  // A partial Fisher-Yates shuffle picks the sample; sorting the picks keeps file order.
  std::mt19937_64 random(static_cast<uint64_t>(seed));
  std::vector<size_t> order(size);
  std::iota(order.begin(), order.end(), 0);
  for (size_t i = 0; i < count; ++i) std::swap(order[i], order[i + random() % (order.size() - i)]);
  order.resize(count);
  std::sort(order.begin(), order.end());
  std::vector<EvalItem> sample;
  for (size_t index : order) sample.push_back(std::move(dataset.items[index]));
  dataset.items = std::move(sample);
  return absl::OkStatus();
}

}  // namespace needle::evals
