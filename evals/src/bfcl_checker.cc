// BFCL's AST checker for Python categories, reproduced from
// ShishirPatil/gorilla berkeley-function-call-leaderboard/bfcl_eval/eval_checker/
// ast_eval/ast_checker.py and eval_runner.py (ast_file_runner, relevance_file_runner).
// Values are judged with Python's semantics, as BFCL loads them with json.loads:
// a JSON string is str, an integer int, a number with '.' or 'e' float, true/false
// bool (bool is not int for type checks: type(True) == bool), [] list, {} dict.
//
// Item level (eval_runner):
//   - No answers (irrelevance): valid iff the output holds no call; an unparsable
//     output holds none. Otherwise "irrelevance_error:decoder_success".
//   - Answers but an unparsable output: "ast_decoder:decoder_failed".
//   - Several answers, or a category naming "parallel": parallel, order-free:
//     call count must equal answer count ("parallel_function_checker_no_order:
//     wrong_count"); each answer in turn takes the first still-unmatched call that
//     passes the simple checker, else "...:cannot_find_match".
//   - Category naming "multiple": count must equal the answers'
//     ("multiple_function_checker:wrong_count"), then the simple checker.
//   - Otherwise exactly one call ("simple_function_checker:wrong_count"), then the
//     simple checker.
//   The function description is the item's tool named like the expected call.
//
// Simple checker, first failure wins:
//   wrong_func_name  the call's name differs from the description's name;
//   missing_required a parameter the schema requires is absent;
//   unexpected_param a call argument is not in the schema or not in the answer;
//   then per argument, with the schema type mapped by PYTHON_TYPE_MAPPING
//   (string->str, integer->int, float->float, boolean->bool, array->list,
//   tuple->list, dict->dict, any->str):
//     - an int given for a float parameter is converted to float first;
//     - type check: the value's type must equal the mapped type, except that when
//       the first acceptable value other than "" has another type than the mapped
//       one ("is_variable", e.g. a variable name where an int was declared), a
//       value of that answer type passes too ("type_error:simple" otherwise).
//       For array/tuple the items are checked one level deep against the first
//       acceptable list whose items all type-check (an acceptable value that is
//       not a list, such as "", passes trivially); "type_error:nested" otherwise.
//       Nested items get no int->float conversion;
//     - unless is_variable: dict values go to dict_checker, lists of dicts to
//       list_dict_checker, str to string_checker, other lists to list_checker;
//     - every other value (ints, floats, bools, variables) must be == to one
//       acceptable value with Python's ==: 5 == 5.0, True == 1, 1.0 == True
//       ("value_error:others").
//   missing_optional an answer parameter is absent and "" is not acceptable.
// string_checker: standardise (remove ' ' , . / - _ * ^, lower-case, ' -> ") the
//   value and every acceptable str; the value must be among them ("value_error:string").
// list_checker: standardise the str items of the value and of every acceptable
//   list; the value must equal one acceptable list, in order ("value_error:list/tuple").
//   An acceptable "" counts as the empty list (Python iterates it as a sequence).
// dict_checker: for some acceptable dict, every value key must be in it with a
//   (standardised) acceptable value ("value_error:dict_key" / "value_error:dict_value"),
//   and every key it lacks must accept "".
// list_dict_checker: for some acceptable list of dicts of the same length
//   ("value_error:list_dict_count"), each dict passes dict_checker by position.
//
// Where BFCL's Python would raise instead (a schema type outside the mapping, an
// acceptable value of a shape Python cannot index), the item is judged invalid
// with a "bfcl_checker:..." error type naming the problem. Arguments are walked
// in the order the model wrote them, as Python walks a dict, so with several
// faults the one reported is BFCL's. Lower-casing is Python's str.lower()
// (PythonLower, from a table generated off Python itself). Integers past 64 bits
// arrive as BigInts (big_int.h) and are ints, of any size, as in Python.
//
// Checked once against a transcription of the Python functions on 24,597 outputs
// generated from the simple_python and multiple records (ground truth, mutated
// names, types, values, counts) and from synthetic parallel pairs: validity and
// error type agreed on all of them once argument keys were given in sorted order.
#include "needle/evals/bfcl_checker.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <optional>
#include <set>
#include <string_view>
#include <vector>

#include "append_utf8.h"
#include "needle/str_cat.h"
#include "needle/toolcalls/big_int.h"

namespace needle::evals {

using toolcalls::BigIntToDouble;
using toolcalls::DumpKeepingBigInts;
using toolcalls::ExactIntegerDigits;
using toolcalls::IntegerDigits;
using toolcalls::IsBigInt;
using toolcalls::ParamSchema;
using toolcalls::ParsedOutput;
using toolcalls::ToolCall;
using toolcalls::ToolSchema;

namespace {

// Ordered: a dict is walked in the order the model wrote it, as Python walks it.
using json = nlohmann::ordered_json;

enum class PyType { kStr, kInt, kFloat, kBool, kList, kDict, kNone };

PyType TypeOf(const json& value) {
  switch (value.type()) {
    case json::value_t::string:
      return PyType::kStr;
    case json::value_t::boolean:
      return PyType::kBool;
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return PyType::kInt;
    case json::value_t::number_float:
      return PyType::kFloat;
    case json::value_t::binary:  // only ever a BigInt: outputs and answers hold no other binary
      return IsBigInt(value) ? PyType::kInt : PyType::kNone;
    case json::value_t::array:
      return PyType::kList;
    case json::value_t::object:
      return PyType::kDict;
    default:
      return PyType::kNone;
  }
}

const char* TypeName(PyType type) {
  switch (type) {
    case PyType::kStr:
      return "str";
    case PyType::kInt:
      return "int";
    case PyType::kFloat:
      return "float";
    case PyType::kBool:
      return "bool";
    case PyType::kList:
      return "list";
    case PyType::kDict:
      return "dict";
    case PyType::kNone:
      break;
  }
  return "NoneType";
}

// PYTHON_TYPE_MAPPING.
std::optional<PyType> MapType(const std::string& bfcl_type) {
  if (bfcl_type == "string" || bfcl_type == "any") return PyType::kStr;
  if (bfcl_type == "integer") return PyType::kInt;
  if (bfcl_type == "float") return PyType::kFloat;
  if (bfcl_type == "boolean") return PyType::kBool;
  if (bfcl_type == "array" || bfcl_type == "tuple") return PyType::kList;
  if (bfcl_type == "dict") return PyType::kDict;
  return std::nullopt;
}

std::string Repr(const json& value) { return DumpKeepingBigInts(value); }

// bool and int as Python sees them: both integers (True == 1).
std::optional<__int128> AsInteger(const json& value) {
  if (value.is_boolean()) return value.get<bool>() ? 1 : 0;
  if (value.is_number_unsigned()) return static_cast<__int128>(value.get<std::uint64_t>());
  if (value.is_number_integer()) return static_cast<__int128>(value.get<std::int64_t>());
  return std::nullopt;
}

// Python's ==: numbers and bools compare by value (exactly, as Python compares
// int with float), lists element-wise, dicts key by key, other types never equal.
bool PyEquals(const json& a, const json& b) {
  const bool a_numeric = a.is_number() || a.is_boolean() || IsBigInt(a);
  const bool b_numeric = b.is_number() || b.is_boolean() || IsBigInt(b);
  if (a_numeric && b_numeric && (IsBigInt(a) || IsBigInt(b))) {
    // Integers of any size compare by their digits; an int with a float exactly,
    // by the float's own digits when it is whole.
    std::optional<std::string> da = IntegerDigits(a), db = IntegerDigits(b);
    if (da && db) return *da == *db;
    const double f = da ? b.get<double>() : a.get<double>();
    return std::isfinite(f) && std::trunc(f) == f && ExactIntegerDigits(f) == (da ? *da : *db);
  }
  if (a_numeric && b_numeric) {
    std::optional<__int128> ia = AsInteger(a), ib = AsInteger(b);
    if (ia && ib) return *ia == *ib;
    if (!ia && !ib) return a.get<double>() == b.get<double>();
    const double f = ia ? b.get<double>() : a.get<double>();
    if (!std::isfinite(f) || std::trunc(f) != f || std::fabs(f) >= 1e38) return false;
    return static_cast<__int128>(f) == (ia ? *ia : *ib);
  }
  if (a_numeric || b_numeric || a.type() != b.type()) return false;
  if (a.is_array()) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (!PyEquals(a[i], b[i])) return false;
    }
    return true;
  }
  if (a.is_object()) {
    if (a.size() != b.size()) return false;
    for (auto it = a.begin(); it != a.end(); ++it) {
      auto other = b.find(it.key());
      if (other == b.end() || !PyEquals(it.value(), *other)) return false;
    }
    return true;
  }
  return a == b;  // str, None
}

// Python's `item in container` for the containers BFCL uses.
bool PyContains(const json& container, const json& item) {
  if (container.is_array()) {
    for (const json& element : container) {
      if (PyEquals(element, item)) return true;
    }
    return false;
  }
  if (container.is_string() && item.is_string()) {
    return container.get_ref<const std::string&>().find(item.get_ref<const std::string&>()) != std::string::npos;
  }
  if (container.is_object() && item.is_string()) return container.contains(item.get<std::string>());
  return false;
}

// What Python yields for len(x) / x[i]: a list's items, a string's characters
// (UTF-8 code points). Anything else would make BFCL raise.
std::optional<std::vector<json>> AsSequence(const json& value) {
  if (value.is_array()) return std::vector<json>(value.begin(), value.end());
  if (!value.is_string()) return std::nullopt;
  const std::string& text = value.get_ref<const std::string&>();
  std::vector<json> characters;
  for (size_t i = 0; i < text.size();) {
    size_t length = 1;
    while (i + length < text.size() && (static_cast<unsigned char>(text[i + length]) & 0xC0) == 0x80) ++length;
    characters.emplace_back(text.substr(i, length));
    i += length;
  }
  return characters;
}

bool IsEmptyString(const json& value) { return value.is_string() && value.get_ref<const std::string&>().empty(); }

struct CodePointPair {
  uint32_t first;
  uint32_t second;
};
struct LongerLower {
  uint32_t code_point;
  const char* lower;  // UTF-8
};
#include "unicode_lower_table.inc"

// Decodes UTF-8; a byte that starts no valid sequence stands for itself
// (returned with `valid` false) so that nothing is lost.
struct Decoded {
  uint32_t code_point;
  size_t length;
  bool valid;
};
Decoded DecodeAt(std::string_view text, size_t pos) {
  const unsigned char lead = static_cast<unsigned char>(text[pos]);
  const size_t length = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3 : (lead >> 3) == 0x1E ? 4 : 0;
  if (length == 0 || pos + length > text.size()) return {lead, 1, false};
  uint32_t code_point = length == 1 ? lead : lead & (0x7F >> length);
  for (size_t i = 1; i < length; ++i) {
    const unsigned char next = static_cast<unsigned char>(text[pos + i]);
    if ((next & 0xC0) != 0x80) return {lead, 1, false};
    code_point = (code_point << 6) | (next & 0x3F);
  }
  return {code_point, length, true};
}

bool InRanges(const CodePointPair* begin, const CodePointPair* end, uint32_t code_point) {
  const CodePointPair* it = std::upper_bound(begin, end, code_point,
                                             [](uint32_t cp, const CodePointPair& range) { return cp < range.first; });
  return it != begin && code_point <= (it - 1)->second;
}

bool IsCased(uint32_t cp) { return InRanges(std::begin(kCased), std::end(kCased), cp); }
bool IsCaseIgnorable(uint32_t cp) { return InRanges(std::begin(kCaseIgnorable), std::end(kCaseIgnorable), cp); }

// Python's rule for capital sigma: final form when a cased letter precedes it
// and none follows, case-ignorable code points skipped both ways.
bool IsFinalSigma(const std::vector<Decoded>& text, size_t at) {
  size_t before = at;
  while (before > 0 && IsCaseIgnorable(text[before - 1].code_point)) --before;
  if (before == 0 || !IsCased(text[before - 1].code_point)) return false;
  size_t after = at + 1;
  while (after < text.size() && IsCaseIgnorable(text[after].code_point)) ++after;
  return after == text.size() || !IsCased(text[after].code_point);
}

}  // namespace

std::string PythonLower(std::string_view text) {
  std::vector<Decoded> decoded;
  for (size_t pos = 0; pos < text.size();) {
    decoded.push_back(DecodeAt(text, pos));
    pos += decoded.back().length;
  }
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  for (size_t i = 0; i < decoded.size(); pos += decoded[i].length, ++i) {
    const Decoded& c = decoded[i];
    if (!c.valid) {
      out += text[pos];
      continue;
    }
    if (c.code_point == 0x3A3) {
      AppendUtf8(IsFinalSigma(decoded, i) ? 0x3C2 : 0x3C3, &out);
      continue;
    }
    const auto single = std::lower_bound(std::begin(kLowerSingle), std::end(kLowerSingle), c.code_point,
                                         [](const CodePointPair& pair, uint32_t cp) { return pair.first < cp; });
    if (single != std::end(kLowerSingle) && single->first == c.code_point) {
      AppendUtf8(single->second, &out);
      continue;
    }
    const LongerLower* longer =
        std::find_if(std::begin(kLowerLonger), std::end(kLowerLonger),
                     [&](const LongerLower& entry) { return entry.code_point == c.code_point; });
    if (longer != std::end(kLowerLonger)) {
      out += longer->lower;
    } else {
      out.append(text.substr(pos, c.length));
    }
  }
  return out;
}

const char* PythonLowerUnicodeVersion() { return kUnicodeVersion; }

namespace {

// standardize_string: drop " ,./-_*^", then lower-case as Python's str.lower()
// does (final sigma included), then ' -> ".
std::string Standardize(const std::string& text) {
  std::string kept;
  for (char c : text) {
    if (std::string_view(" ,./-_*^").find(c) == std::string_view::npos) kept += c;
  }
  std::string out = PythonLower(kept);
  std::replace(out.begin(), out.end(), '\'', '"');
  return out;
}

json StandardizeIfString(const json& value) {
  return value.is_string() ? json(Standardize(value.get_ref<const std::string&>())) : value;
}

BfclVerdict Invalid(std::string error_type, std::string error) {
  return {false, std::move(error_type), std::move(error)};
}

BfclVerdict Valid() { return {true, "", ""}; }

// get_possible_answer_type: the type of the first acceptable value that is not "".
std::optional<PyType> AnswerType(const json& acceptable) {
  for (const json& answer : acceptable) {
    if (!IsEmptyString(answer)) return TypeOf(answer);
  }
  return std::nullopt;
}

struct TypeCheck {
  BfclVerdict verdict;
  bool is_variable = false;
};

// type_checker, including its fall-through after a failed nested check.
TypeCheck CheckType(const std::string& param, const json& value, const json& acceptable, const std::string& type_name,
                    PyType expected, std::optional<PyType> nested) {
  TypeCheck result{Valid(), false};
  std::optional<PyType> answer_type = AnswerType(acceptable);
  const bool is_variable = answer_type && *answer_type != expected;
  if (TypeOf(value) == expected) {
    if (!nested) return {Valid(), is_variable};
    for (const json& acceptable_item : acceptable) {
      bool items_ok = true;
      if (acceptable_item.is_array()) {
        for (const json& item : value) {
          if (!CheckType(param, item, acceptable_item, TypeName(*nested), *nested, std::nullopt).verdict.valid) {
            items_ok = false;
            break;
          }
        }
      }
      if (items_ok) return {Valid(), is_variable};
    }
    result.verdict = Invalid("type_error:nested", StrCat("Nested type checking failed for parameter '", param,
                                                         "'. Expected outer type ", type_name, " with inner type ",
                                                         TypeName(*nested), ". Parameter value: ", Repr(value), "."));
  }
  if (answer_type && TypeOf(value) == *answer_type) {
    result.is_variable = true;
    return result;
  }
  std::string error = StrCat("Incorrect type for parameter '", param, "'. Expected type ", type_name, ", got ",
                             TypeName(TypeOf(value)), ". Parameter value: ", Repr(value), ".");
  if (!result.verdict.error.empty()) error = StrCat(result.verdict.error, " ", error);
  result.verdict = Invalid("type_error:simple", std::move(error));
  return result;
}

BfclVerdict CheckString(const std::string& param, const json& value, const json& acceptable) {
  json standardized = json::array();
  for (const json& answer : acceptable) {
    if (answer.is_string()) standardized.push_back(StandardizeIfString(answer));
  }
  if (!PyContains(standardized, StandardizeIfString(value))) {
    return Invalid("value_error:string", StrCat("Invalid value for parameter '", param, "': ", Repr(value),
                                                ". Expected one of ", Repr(acceptable), ". Case insensitive."));
  }
  return Valid();
}

BfclVerdict CheckList(const std::string& param, const json& value, const json& acceptable) {
  json standardized_value = json::array();
  for (const json& item : value) standardized_value.push_back(StandardizeIfString(item));
  for (const json& answer : acceptable) {
    std::optional<std::vector<json>> items = AsSequence(answer);
    if (!items) continue;
    json standardized = json::array();
    for (const json& item : *items) standardized.push_back(StandardizeIfString(item));
    if (PyEquals(standardized_value, standardized)) return Valid();
  }
  return Invalid("value_error:list/tuple", StrCat("Invalid value for parameter '", param, "': ", Repr(value),
                                                  ". Expected one of ", Repr(acceptable), "."));
}

BfclVerdict CheckDict(const std::string& param, const json& value, const std::vector<json>& acceptable) {
  if (!value.is_object()) {
    return Invalid("value_error:dict_value", StrCat("Parameter '", param, "' holds ", Repr(value), ", not a dict."));
  }
  BfclVerdict result = Invalid("dict_checker:unclear", "");
  for (const json& answer : acceptable) {
    if (IsEmptyString(answer)) continue;
    if (!answer.is_object()) {
      result = Invalid("value_error:dict_key", StrCat("Acceptable value ", Repr(answer), " is not a dict."));
      continue;
    }
    result = Invalid("dict_checker:unclear", "");
    std::vector<std::string> errors;
    for (auto it = value.begin(); it != value.end(); ++it) {
      auto answer_values = answer.find(it.key());
      if (answer_values == answer.end()) {
        errors.push_back(StrCat("Unexpected dict key parameter: '", it.key(), "'."));
        result.error_type = "value_error:dict_key";
        break;
      }
      json standardized = json::array();
      for (const json& item : AsSequence(*answer_values).value_or(std::vector<json>{})) {
        standardized.push_back(StandardizeIfString(item));
      }
      if (!PyContains(standardized, StandardizeIfString(it.value()))) {
        errors.push_back(StrCat("Invalid value for parameter '", it.key(), "': ", Repr(it.value()),
                                ". Expected one of ", Repr(standardized), "."));
        result.error_type = "value_error:dict_value";
        break;
      }
    }
    for (auto it = answer.begin(); it != answer.end(); ++it) {
      if (!value.contains(it.key()) && !PyContains(it.value(), json(""))) {
        errors.push_back(StrCat("Missing dict key parameter: '", it.key(), "'."));
        result.error_type = "value_error:dict_key";
        break;
      }
    }
    if (errors.empty()) return Valid();
    result.error = fmt::format("{}", fmt::join(errors, " "));
  }
  return result;
}

BfclVerdict CheckListOfDicts(const std::string& param, const json& value, const json& acceptable) {
  BfclVerdict result = Invalid("list_dict_checker:unclear", "");
  for (const json& answer : acceptable) {
    std::optional<std::vector<json>> dicts = AsSequence(answer);
    if (!dicts || dicts->size() != value.size()) {
      result = Invalid("value_error:list_dict_count", "Wrong number of dictionaries in the list.");
      continue;
    }
    bool all_ok = true;
    for (size_t i = 0; i < value.size(); ++i) {
      result = CheckDict(param, value[i], {(*dicts)[i]});
      if (!result.valid) {
        all_ok = false;
        break;
      }
    }
    if (all_ok) return Valid();
  }
  return result;
}

const ParamSchema* FindParam(const ToolSchema& tool, const std::string& name) {
  for (const ParamSchema& param : tool.params) {
    if (param.name == name) return &param;
  }
  return nullptr;
}

const std::vector<nlohmann::json>* FindAnswer(const ExpectedCall& answer, const std::string& name) {
  for (const auto& [param, values] : answer.params) {
    if (param == name) return &values;
  }
  return nullptr;
}

// simple_function_checker.
BfclVerdict CheckCall(const ToolSchema& tool, const ToolCall& call, const ExpectedCall& answer) {
  if (call.name != tool.name) {
    return Invalid("simple_function_checker:wrong_func_name",
                   StrCat("Function name '", tool.name, "' not found in model output (got '", call.name, "')."));
  }
  const json& arguments = call.arguments;
  for (const ParamSchema& param : tool.params) {
    if (param.required && !arguments.contains(param.name)) {
      return Invalid("simple_function_checker:missing_required",
                     StrCat("Missing required parameter: '", param.name, "'."));
    }
  }
  for (auto it = arguments.begin(); it != arguments.end(); ++it) {
    const std::string& name = it.key();
    const ParamSchema* schema = FindParam(tool, name);
    const std::vector<nlohmann::json>* answer_values = FindAnswer(answer, name);
    if (schema == nullptr || answer_values == nullptr) {
      return Invalid("simple_function_checker:unexpected_param", StrCat("Unexpected parameter: '", name, "'."));
    }
    std::optional<PyType> expected = MapType(schema->type);
    if (!expected) {
      return Invalid("bfcl_checker:unknown_type", StrCat("Parameter '", name, "' has type '", schema->type,
                                                         "', which BFCL's PYTHON_TYPE_MAPPING lacks."));
    }
    std::optional<PyType> nested;
    if ((schema->type == "array" || schema->type == "tuple") && !schema->item_type.empty()) {
      nested = MapType(schema->item_type);
      if (!nested) {
        return Invalid("bfcl_checker:unknown_type", StrCat("Items of parameter '", name, "' have type '",
                                                           schema->item_type, "', which BFCL's mapping lacks."));
      }
    }
    const json acceptable = json::array_t(answer_values->begin(), answer_values->end());
    json value = it.value();
    if (schema->type == "float" && TypeOf(value) == PyType::kInt) {
      if (!IsBigInt(value)) {
        value = value.get<double>();
      } else if (std::optional<double> converted = BigIntToDouble(*IntegerDigits(value))) {
        value = *converted;
      } else {  // float(value) raises in Python, and BFCL's checker with it
        return Invalid("bfcl_checker:overflow",
                       StrCat("Parameter '", name, "' holds ", Repr(value), ", too large to convert to float."));
      }
    }

    TypeCheck type_check = CheckType(name, value, acceptable, schema->type, *expected, nested);
    if (!type_check.verdict.valid) return type_check.verdict;

    if (!type_check.is_variable) {
      std::optional<BfclVerdict> special;
      if (*expected == PyType::kDict) {
        special = CheckDict(name, value, std::vector<json>(acceptable.begin(), acceptable.end()));
      } else if (*expected == PyType::kList && nested == PyType::kDict) {
        special = CheckListOfDicts(name, value, acceptable);
      } else if (*expected == PyType::kStr) {
        special = CheckString(name, value, acceptable);
      } else if (*expected == PyType::kList) {
        special = CheckList(name, value, acceptable);
      }
      if (special) {
        if (!special->valid) return *special;
        continue;
      }
    }
    if (!PyContains(acceptable, value)) {
      return Invalid("value_error:others", StrCat("Invalid value for parameter '", name, "': ", Repr(value),
                                                  ". Expected one of ", Repr(acceptable), "."));
    }
  }
  for (const auto& [name, values] : answer.params) {
    if (!arguments.contains(name) && !PyContains(json::array_t(values.begin(), values.end()), json(""))) {
      return Invalid("simple_function_checker:missing_optional",
                     StrCat("Optional parameter '", name, "' not provided and not marked as optional."));
    }
  }
  return Valid();
}

const ToolSchema* FindTool(const EvalItem& item, const std::string& name) {
  for (const ToolSchema& tool : item.tools) {
    if (tool.name == name) return &tool;
  }
  return nullptr;
}

BfclVerdict NoDescription(const std::string& name) {
  return Invalid("bfcl_checker:no_description", StrCat("The item's tools have no function named '", name, "'."));
}

// parallel_function_checker_no_order.
BfclVerdict CheckParallel(const EvalItem& item, const std::vector<ToolCall>& calls) {
  if (calls.size() != item.answers.size()) {
    return Invalid("parallel_function_checker_no_order:wrong_count",
                   StrCat("Wrong number of functions: expected ", item.answers.size(), ", got ", calls.size(), "."));
  }
  std::set<size_t> matched;
  for (size_t i = 0; i < item.answers.size(); ++i) {
    const ToolSchema* tool = FindTool(item, item.answers[i].name);
    if (tool == nullptr) return NoDescription(item.answers[i].name);
    std::vector<std::string> errors;
    bool found = false;
    for (size_t index = 0; index < calls.size() && !found; ++index) {
      if (matched.count(index) > 0) continue;
      BfclVerdict verdict = CheckCall(*tool, calls[index], item.answers[i]);
      if (verdict.valid) {
        matched.insert(index);
        found = true;
      } else {
        errors.push_back(StrCat("[model result ", index, ": ", verdict.error_type, "] ", verdict.error));
      }
    }
    if (!found) {
      return Invalid("parallel_function_checker_no_order:cannot_find_match",
                     StrCat("Could not find a matching function among the unmatched model output for index ", i,
                            " of possible answers. ", fmt::format("{}", fmt::join(errors, " "))));
    }
  }
  return Valid();
}

}  // namespace

BfclVerdict BfclCheck(const EvalItem& item, const ParsedOutput& output) {
  if (item.answers.empty()) {
    if (!output.parsed || output.calls.empty()) return Valid();
    return Invalid(
        "irrelevance_error:decoder_success",
        StrCat("Valid syntax. Successfully decoded ", output.calls.size(), " call(s) when no call was expected."));
  }
  if (!output.parsed) {
    return Invalid("ast_decoder:decoder_failed", StrCat("Invalid syntax. Failed to decode AST. ", output.error));
  }
  const bool parallel = item.answers.size() > 1 || item.category.find("parallel") != std::string::npos;
  if (parallel) return CheckParallel(item, output.calls);
  const char* checker =
      item.category.find("multiple") != std::string::npos ? "multiple_function_checker" : "simple_function_checker";
  if (output.calls.size() != 1) {
    return Invalid(StrCat(checker, ":wrong_count"),
                   StrCat("Wrong number of functions: expected 1, got ", output.calls.size(), "."));
  }
  const ToolSchema* tool = FindTool(item, item.answers[0].name);
  if (tool == nullptr) return NoDescription(item.answers[0].name);
  return CheckCall(*tool, output.calls[0], item.answers[0]);
}

namespace {

std::string Underscored(std::string name) {
  std::replace(name.begin(), name.end(), '.', '_');
  return name;
}

// Renames the tools of a JSON tool list; `wrapped` for OpenAI's {"function":{...}}.
std::string RenameTools(const std::string& tools_json, bool wrapped) {
  json tools = json::parse(tools_json, nullptr, /*allow_exceptions=*/false);
  if (!tools.is_array()) return tools_json;  // not ours to judge here; the system reports it
  for (json& tool : tools) {
    json* named = wrapped && tool.is_object() && tool.contains("function") ? &tool["function"] : &tool;
    if (named->is_object() && named->contains("name") && (*named)["name"].is_string()) {
      (*named)["name"] = Underscored((*named)["name"].get<std::string>());
    }
  }
  return tools.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

EvalItem WithDotsAsUnderscores(const EvalItem& item) {
  EvalItem renamed = item;
  for (ToolSchema& tool : renamed.tools) tool.name = Underscored(tool.name);
  for (ExpectedCall& answer : renamed.answers) answer.name = Underscored(answer.name);
  if (!renamed.tools_json.empty()) renamed.tools_json = RenameTools(renamed.tools_json, false);
  if (!renamed.openai_tools_json.empty()) renamed.openai_tools_json = RenameTools(renamed.openai_tools_json, true);
  return renamed;
}

}  // namespace needle::evals
