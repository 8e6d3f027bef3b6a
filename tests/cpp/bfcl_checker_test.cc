// Each expectation was worked out by hand from BFCL's ast_checker.py (and
// cross-checked against that Python code); the test names say which rule.
#include "needle/evals/bfcl_checker.h"

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace needle::evals {

using toolcalls::ParamSchema;
using toolcalls::ParsedOutput;
using toolcalls::ParseOutput;
using toolcalls::ToolSchema;

namespace {

using nlohmann::json;

ParamSchema Param(std::string name, std::string type, bool required = false, std::string item_type = "") {
  ParamSchema param;
  param.name = std::move(name);
  param.type = std::move(type);
  param.item_type = std::move(item_type);
  param.required = required;
  return param;
}

// One function, one answer; `answer` is BFCL's {"param": [acceptable...]}.
EvalItem Item(std::vector<ParamSchema> params, const std::string& answer, std::string name = "f",
              std::string category = "simple_python") {
  EvalItem item;
  item.category = std::move(category);
  item.tools.push_back({name, "", std::move(params)});
  ExpectedCall expected;
  expected.name = name;
  const json parsed = json::parse(answer);
  for (auto& [param, values] : parsed.items()) {
    expected.params.emplace_back(param, std::vector<json>(values.begin(), values.end()));
  }
  item.answers.push_back(std::move(expected));
  return item;
}

ParsedOutput Output(std::vector<std::pair<std::string, std::string>> calls) {
  ParsedOutput output;
  output.parsed = true;
  output.format = "json";
  for (auto& [name, arguments] : calls) output.calls.push_back({name, json::parse(arguments)});
  return output;
}

ParsedOutput One(const std::string& arguments, const std::string& name = "f") { return Output({{name, arguments}}); }

// Checks validity and, for invalid verdicts, BFCL's error type.
void Expect(const EvalItem& item, const ParsedOutput& output, const std::string& error_type) {
  BfclVerdict verdict = BfclCheck(item, output);
  if (error_type.empty()) {
    EXPECT_TRUE(verdict.valid) << verdict.error_type << ": " << verdict.error;
  } else {
    EXPECT_FALSE(verdict.valid);
    EXPECT_EQ(verdict.error_type, error_type) << verdict.error;
    EXPECT_FALSE(verdict.error.empty());
  }
}

// simple_python_0: calculate_triangle_area, unit in ["units", ""].
EvalItem TriangleArea() {
  return Item({Param("base", "integer", true), Param("height", "integer", true), Param("unit", "string")},
              R"({"base": [10], "height": [5], "unit": ["units", ""]})", "calculate_triangle_area");
}

// simple_python_2: math.hypot, z in ["", 0].
EvalItem Hypot() {
  return Item({Param("x", "integer", true), Param("y", "integer", true), Param("z", "integer")},
              R"({"x": [4], "y": [5], "z": ["", 0]})", "math.hypot");
}

TEST(BfclIrrelevance, NoCallIsValid) {
  EvalItem item;
  item.category = "irrelevance";
  Expect(item, Output({}), "");
}

TEST(BfclIrrelevance, UnparsableOutputHoldsNoCall) {
  EvalItem item;
  ParsedOutput garbage;
  garbage.error = "at byte offset 0: expected a JSON call list";
  Expect(item, garbage, "");
}

TEST(BfclIrrelevance, AnyCallIsInvalid) {
  EvalItem item;
  Expect(item, One("{}"), "irrelevance_error:decoder_success");
}

TEST(BfclDecoder, UnparsableOutputFailsWhenACallIsExpected) {
  ParsedOutput garbage;
  garbage.error = "at byte offset 3: invalid JSON";
  BfclVerdict verdict = BfclCheck(TriangleArea(), garbage);
  EXPECT_FALSE(verdict.valid);
  EXPECT_EQ(verdict.error_type, "ast_decoder:decoder_failed");
  EXPECT_NE(verdict.error.find("byte offset 3"), std::string::npos);
}

TEST(BfclRealRecord, SimplePython0WithAndWithoutOptionalUnit) {
  Expect(TriangleArea(), One(R"({"base": 10, "height": 5})", "calculate_triangle_area"), "");
  Expect(TriangleArea(), One(R"({"base": 10, "height": 5, "unit": "units"})", "calculate_triangle_area"), "");
  Expect(TriangleArea(), One(R"({"base": 10, "height": 5, "unit": "Units"})", "calculate_triangle_area"), "");
  // "" is itself an acceptable string.
  Expect(TriangleArea(), One(R"({"base": 10, "height": 5, "unit": ""})", "calculate_triangle_area"), "");
  Expect(TriangleArea(), One(R"({"base": 10, "height": 5, "unit": "cm"})", "calculate_triangle_area"),
         "value_error:string");
}

TEST(BfclRealRecord, MathHypotOptionalZero) {
  Expect(Hypot(), One(R"({"x": 4, "y": 5})", "math.hypot"), "");
  Expect(Hypot(), One(R"({"x": 4, "y": 5, "z": 0})", "math.hypot"), "");
  Expect(Hypot(), One(R"({"x": 4, "y": 5, "z": 1})", "math.hypot"), "value_error:others");
  // 0.0 is a float where the schema says integer.
  Expect(Hypot(), One(R"({"x": 4, "y": 5, "z": 0.0})", "math.hypot"), "type_error:simple");
}

TEST(BfclSimple, WrongCount) {
  Expect(TriangleArea(), Output({}), "simple_function_checker:wrong_count");
  Expect(TriangleArea(),
         Output({{"calculate_triangle_area", R"({"base":10,"height":5})"},
                 {"calculate_triangle_area", R"({"base":10,"height":5})"}}),
         "simple_function_checker:wrong_count");
}

TEST(BfclSimple, WrongFuncName) {
  Expect(Hypot(), One(R"({"x": 4, "y": 5})", "math_hypot"), "simple_function_checker:wrong_func_name");
}

TEST(BfclSimple, MissingRequired) {
  Expect(TriangleArea(), One(R"({"base": 10})", "calculate_triangle_area"), "simple_function_checker:missing_required");
}

TEST(BfclSimple, UnexpectedParamNotInSchema) {
  Expect(TriangleArea(), One(R"({"base": 10, "height": 5, "color": "red"})", "calculate_triangle_area"),
         "simple_function_checker:unexpected_param");
}

TEST(BfclSimple, UnexpectedParamInSchemaButNotInAnswer) {
  EvalItem item = Item({Param("a", "integer", true), Param("b", "integer")}, R"({"a": [1]})");
  Expect(item, One(R"({"a": 1, "b": 2})"), "simple_function_checker:unexpected_param");
}

TEST(BfclSimple, MissingOptional) {
  // Not required by the schema, but the answer does not accept leaving it out.
  EvalItem item = Item({Param("a", "integer", true), Param("b", "integer")}, R"({"a": [1], "b": [2]})");
  Expect(item, One(R"({"a": 1})"), "simple_function_checker:missing_optional");
}

TEST(BfclType, SimpleMismatch) {
  Expect(TriangleArea(), One(R"({"base": "10", "height": 5})", "calculate_triangle_area"), "type_error:simple");
}

TEST(BfclType, IntIsAcceptedForFloat) {
  EvalItem item = Item({Param("r", "float", true)}, R"({"r": [5.0]})");
  Expect(item, One(R"({"r": 5})"), "");
  Expect(item, One(R"({"r": 5.0})"), "");
  Expect(item, One(R"({"r": 6})"), "value_error:others");
}

TEST(BfclType, FloatIsNotAcceptedForInteger) {
  EvalItem item = Item({Param("n", "integer", true)}, R"({"n": [10]})");
  Expect(item, One(R"({"n": 10.0})"), "type_error:simple");
}

TEST(BfclType, BoolIsNotAnInt) {
  EvalItem item = Item({Param("n", "integer", true)}, R"({"n": [1]})");
  Expect(item, One(R"({"n": true})"), "type_error:simple");
  EvalItem flag = Item({Param("on", "boolean", true)}, R"({"on": [true]})");
  Expect(flag, One(R"({"on": 1})"), "type_error:simple");
  Expect(flag, One(R"({"on": true})"), "");
  Expect(flag, One(R"({"on": false})"), "value_error:others");
}

TEST(BfclType, IsVariableAcceptsTheAnswersType) {
  // The answer holds a variable name where the schema declares an integer.
  EvalItem item = Item({Param("n", "integer", true)}, R"({"n": ["num_items"]})");
  Expect(item, One(R"({"n": "num_items"})"), "");
  // A variable is compared as is, without string standardisation.
  Expect(item, One(R"({"n": "Num Items"})"), "value_error:others");
  Expect(item, One(R"({"n": 3})"), "value_error:others");
  Expect(item, One(R"({"n": 3.5})"), "type_error:simple");
}

TEST(BfclType, NestedItemTypes) {
  EvalItem item = Item({Param("xs", "array", true, "integer")}, R"({"xs": [[1, 2]]})");
  Expect(item, One(R"({"xs": [1, 2]})"), "");
  Expect(item, One(R"({"xs": [1, "2"]})"), "type_error:nested");
  Expect(item, One(R"({"xs": "1, 2"})"), "type_error:simple");
}

TEST(BfclType, NestedItemsGetNoIntToFloatConversion) {
  EvalItem item = Item({Param("xs", "array", true, "float")}, R"({"xs": [[1.0, 2.5]]})");
  Expect(item, One(R"({"xs": [1.0, 2.5]})"), "");
  Expect(item, One(R"({"xs": [1, 2.5]})"), "type_error:nested");
}

TEST(BfclType, NestedCheckPassesTriviallyWhenEmptyStringIsAcceptable) {
  // "" is not a list, so BFCL's nested loop accepts; list_checker then judges.
  EvalItem item = Item({Param("xs", "array", false, "integer")}, R"({"xs": ["", [1, 2]]})");
  Expect(item, One(R"({"xs": [1, "2"]})"), "value_error:list/tuple");
  // ... and "" counts as the empty list there.
  Expect(item, One(R"({"xs": []})"), "");
}

TEST(BfclType, UnknownSchemaTypeIsReported) {
  EvalItem item = Item({Param("n", "number", true)}, R"({"n": [1]})");
  Expect(item, One(R"({"n": 1})"), "bfcl_checker:unknown_type");
}

TEST(BfclString, StandardisationRemovesPunctuationAndCase) {
  EvalItem item = Item({Param("city", "string", true)}, R"({"city": ["San Francisco, CA", "SF"]})");
  Expect(item, One(R"({"city": "san francisco ca"})"), "");
  Expect(item, One(R"({"city": "SAN-FRANCISCO_CA."})"), "");
  Expect(item, One(R"({"city": "s.f."})"), "");
  Expect(item, One(R"({"city": "San Francisco, California"})"), "value_error:string");
}

TEST(BfclString, SingleQuotesBecomeDoubleQuotes) {
  EvalItem item = Item({Param("q", "string", true)}, R"({"q": ["it's 5*2^3 / 4"]})");
  Expect(item, One(R"({"q": "It\"s 5 * 2 ^ 3/4"})"), "");
  Expect(item, One(R"({"q": "its 5*2^3/4"})"), "value_error:string");
}

TEST(BfclString, AnyMapsToStr) {
  EvalItem item = Item({Param("v", "any", true)}, R"({"v": ["Hello World"]})");
  Expect(item, One(R"({"v": "hello world"})"), "");
  Expect(item, One(R"({"v": 5})"), "type_error:simple");
}

TEST(BfclList, StandardisedAndInOrder) {
  EvalItem item = Item({Param("names", "array", true, "string")}, R"({"names": [["New York", "LA"], ["NY"]]})");
  Expect(item, One(R"({"names": ["new-york", "la"]})"), "");
  Expect(item, One(R"({"names": ["ny"]})"), "");
  Expect(item, One(R"({"names": ["LA", "New York"]})"), "value_error:list/tuple");
  Expect(item, One(R"({"names": ["New York"]})"), "value_error:list/tuple");
}

TEST(BfclList, TupleIsAList) {
  EvalItem item = Item({Param("point", "tuple", true, "integer")}, R"({"point": [[3, 4]]})");
  Expect(item, One(R"({"point": [3, 4]})"), "");
  Expect(item, One(R"({"point": [4, 3]})"), "value_error:list/tuple");
}

TEST(BfclDict, KeysAndStandardisedValues) {
  EvalItem item = Item({Param("filter", "dict", true)}, R"({"filter": [{"city": ["Boston"], "max": [100, ""]}]})");
  Expect(item, One(R"({"filter": {"city": "boston"}})"), "");
  Expect(item, One(R"({"filter": {"city": "Boston", "max": 100}})"), "");
  Expect(item, One(R"({"filter": {"city": "Chicago"}})"), "value_error:dict_value");
  Expect(item, One(R"({"filter": {"city": "Boston", "min": 1}})"), "value_error:dict_key");
  Expect(item, One(R"({"filter": {"max": 100}})"), "value_error:dict_key");
}

TEST(BfclDict, ListOfDicts) {
  EvalItem item = Item({Param("rows", "array", true, "dict")}, R"({"rows": [[{"n": ["a"]}, {"n": ["b"]}]]})");
  Expect(item, One(R"({"rows": [{"n": "A"}, {"n": "b"}]})"), "");
  Expect(item, One(R"({"rows": [{"n": "a"}]})"), "value_error:list_dict_count");
  Expect(item, One(R"({"rows": [{"n": "b"}, {"n": "a"}]})"), "value_error:dict_value");
}

TEST(BfclPythonEquality, FiveEqualsFivePointZero) {
  // An int answer for a float parameter makes the value a "variable"; the
  // membership test is then Python's ==, where 5.0 == 5.
  EvalItem item = Item({Param("r", "float", true)}, R"({"r": [5]})");
  Expect(item, One(R"({"r": 5.0})"), "");
  Expect(item, One(R"({"r": 5.5})"), "value_error:others");
}

TEST(BfclPythonEquality, TrueEqualsOne) {
  // An int answer for a boolean parameter: True passes the type check as a
  // bool, then True == 1 in the membership test.
  EvalItem item = Item({Param("on", "boolean", true)}, R"({"on": [1]})");
  Expect(item, One(R"({"on": true})"), "");
  Expect(item, One(R"({"on": false})"), "value_error:others");
}

TEST(BfclMultiple, WrongCountAndDescriptionLookedUpByName) {
  EvalItem item = Item({Param("x", "integer", true)}, R"({"x": [1]})", "g", "multiple");
  item.tools.insert(item.tools.begin(), ToolSchema{"f", "", {Param("y", "string", true)}});
  Expect(item, One(R"({"x": 1})", "g"), "");
  Expect(item, One(R"({"y": "a"})", "f"), "simple_function_checker:wrong_func_name");
  Expect(item, Output({{"g", R"({"x": 1})"}, {"g", R"({"x": 1})"}}), "multiple_function_checker:wrong_count");
}

TEST(BfclChecker, MissingDescriptionIsReported) {
  EvalItem item = Item({Param("x", "integer", true)}, R"({"x": [1]})", "g");
  item.tools[0].name = "other";
  Expect(item, One(R"({"x": 1})", "g"), "bfcl_checker:no_description");
}

EvalItem TwoWeatherCalls() {
  EvalItem item = Item({Param("city", "string", true), Param("unit", "string")},
                       R"({"city": ["Paris"], "unit": ["", "celsius"]})", "weather", "parallel");
  ExpectedCall second;
  second.name = "weather";
  second.params = {{"city", {json("Rome")}}, {"unit", {json(""), json("celsius")}}};
  item.answers.push_back(second);
  return item;
}

TEST(BfclParallel, AnyOrder) {
  Expect(TwoWeatherCalls(), Output({{"weather", R"({"city":"rome"})"}, {"weather", R"({"city":"Paris"})"}}), "");
}

TEST(BfclParallel, WrongCount) {
  Expect(TwoWeatherCalls(), Output({{"weather", R"({"city":"Paris"})"}}),
         "parallel_function_checker_no_order:wrong_count");
}

TEST(BfclParallel, CannotFindMatch) {
  Expect(TwoWeatherCalls(), Output({{"weather", R"({"city":"Paris"})"}, {"weather", R"({"city":"Oslo"})"}}),
         "parallel_function_checker_no_order:cannot_find_match");
}

TEST(BfclParallel, SeveralAnswersMeanParallelWhateverTheCategory) {
  EvalItem item = TwoWeatherCalls();
  item.category = "multi";
  Expect(item, Output({{"weather", R"({"city":"Paris"})"}}), "parallel_function_checker_no_order:wrong_count");
}

TEST(BfclParallel, MatchesGreedilyLikeBfcl) {
  // Answer 0 accepts 1 or 2, answer 1 only 1. BFCL gives answer 0 the first
  // call that fits (x=1), leaving x=2 for answer 1, which fails, although the
  // other assignment would match.
  EvalItem item = Item({Param("x", "integer", true)}, R"({"x": [1, 2]})", "f", "parallel");
  ExpectedCall second;
  second.name = "f";
  second.params = {{"x", {json(1)}}};
  item.answers.push_back(second);
  Expect(item, Output({{"f", R"({"x":1})"}, {"f", R"({"x":2})"}}),
         "parallel_function_checker_no_order:cannot_find_match");
  Expect(item, Output({{"f", R"({"x":2})"}, {"f", R"({"x":1})"}}), "");
}

// Python's str.lower() covers every Unicode capital, not only ASCII ones.
TEST(BfclString, NonAsciiCapitalsAreLowerCasedAsPythonDoes) {
  const EvalItem item = Item({Param("city", "string", true)}, R"({"city": ["Divinópolis"]})");
  Expect(item, One(R"({"city": "DIVINÓPOLIS"})"), "");
  Expect(item, One(R"({"city": "DIVINOPOLIS"})"), "value_error:string");
  // Python: "ΟΔΟΣ".lower() == "οδος", with the final sigma; "οδοσ" is another string.
  Expect(Item({Param("word", "string", true)}, R"({"word": ["οδος"]})"), One(R"({"word": "ΟΔΟΣ"})"), "");
  Expect(Item({Param("word", "string", true)}, R"({"word": ["οδοσ"]})"), One(R"({"word": "ΟΔΟΣ"})"),
         "value_error:string");
}

// Each expectation is what Python 3.11's str.lower() returns for the input.
TEST(PythonLower, MatchesPython) {
  EXPECT_EQ(PythonLower("DIVINÓPOLIS"), "divinópolis");
  EXPECT_EQ(PythonLower("ΟΔΟΣ"), "οδος");          // final sigma at the end of a word
  EXPECT_EQ(PythonLower("ΟΔΟΣ ΚΑΙ"), "οδος και");  // ... and before a space
  EXPECT_EQ(PythonLower("ΣΑ"), "σα");              // not final: nothing cased before it
  EXPECT_EQ(PythonLower("Α'Σ"), "α'ς");            // the apostrophe is case-ignorable
  EXPECT_EQ(PythonLower("İ"), "i\xCC\x87");        // one code point becomes two
  EXPECT_EQ(PythonLower("ÅNGSTRÖM Ǆ Ⅻ Ａ"), "ångström ǆ ⅻ ａ");
  EXPECT_EQ(PythonLower("ABC\xFFZ"), "abc\xFFz");  // a byte that is not UTF-8 is kept
  EXPECT_EQ(PythonLower(""), "");
  EXPECT_STRNE(PythonLowerUnicodeVersion(), "");
}

// With several faults BFCL reports the first in the order the model wrote its
// arguments, which decides the error type.
TEST(BfclOrder, FirstFaultInTheModelsOrder) {
  const EvalItem item = Item({Param("b", "integer", true), Param("a", "string", true)}, R"({"a": ["x"], "b": [1]})");
  ParsedOutput b_first;
  b_first.parsed = true;
  b_first.calls.push_back({"f", nlohmann::ordered_json::parse(R"({"b": "not an int", "a": "wrong"})")});
  Expect(item, b_first, "type_error:simple");
  ParsedOutput a_first;
  a_first.parsed = true;
  a_first.calls.push_back({"f", nlohmann::ordered_json::parse(R"({"a": "wrong", "b": "not an int"})")});
  Expect(item, a_first, "value_error:string");
  // The parser keeps the order the text gives.
  Expect(item, ParseOutput(R"([{"name":"f","arguments":{"b":"not an int","a":"wrong"}}])"), "type_error:simple");
  Expect(item, ParseOutput(R"([{"name":"f","arguments":"{\"b\":\"x\",\"a\":\"wrong\"}"}])"), "type_error:simple");
}

// ... and inside a dict: an unexpected key before a wrong value is a dict_key error.
TEST(BfclOrder, DictKeysInTheModelsOrder) {
  const EvalItem item = Item({Param("d", "dict", true)}, R"({"d": [{"k": ["v"]}]})");
  Expect(item, ParseOutput(R"([{"name":"f","arguments":{"d":{"z":1,"k":"bad"}}}])"), "value_error:dict_key");
  Expect(item, ParseOutput(R"([{"name":"f","arguments":{"d":{"k":"bad","z":1}}}])"), "value_error:dict_value");
}

TEST(BfclUnderscoreToDot, NamesShownAndCheckedWithUnderscores) {
  EvalItem item = Hypot();
  item.tools_json = R"([{"name":"math.hypot","description":"","parameters":{}}])";
  item.openai_tools_json = R"([{"type":"function","function":{"name":"math.hypot"}}])";
  const EvalItem renamed = WithDotsAsUnderscores(item);
  EXPECT_EQ(renamed.tools[0].name, "math_hypot");
  EXPECT_EQ(renamed.answers[0].name, "math_hypot");
  EXPECT_EQ(renamed.tools_json, R"([{"name":"math_hypot","description":"","parameters":{}}])");
  EXPECT_EQ(renamed.openai_tools_json, R"([{"type":"function","function":{"name":"math_hypot"}}])");
  Expect(renamed, One(R"({"x": 4, "y": 5})", "math_hypot"), "");
  Expect(renamed, One(R"({"x": 4, "y": 5})", "math.hypot"), "simple_function_checker:wrong_func_name");
  // Without it, the dotted name is the right one.
  Expect(item, One(R"({"x": 4, "y": 5})", "math.hypot"), "");
  Expect(item, One(R"({"x": 4, "y": 5})", "math_hypot"), "simple_function_checker:wrong_func_name");
}

}  // namespace
}  // namespace needle::evals
